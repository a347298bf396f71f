/*
 * Unit tests: the per-process region (region.c). Writers in many threads
 * and in forked children (a shared mapping, as the shim's memfd is) count
 * exactly; a reader never sees a count go back or a torn exemplar; a full
 * table says so; a region whose header lies about its sizes (a hostile
 * process, or sizes that would wrap) is refused; routes and the sampler
 * reach the process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "region.h"

#define NS    64
#define RING  16
#define KEYS  8
#define ROUND 50000

static void *mk(struct region *r, size_t *len)
{
	void *m;

	*len = region_bytes(NS, RING);
	assert_true(*len > 0);
	m = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(region_init(r, m, *len, NS, RING, 1, 2), 0);
	return m;
}

static void key(char *k, unsigned i)
{
	memset(k, 0, 16);
	k[0] = 'G', k[1] = 'E', k[2] = 'T', k[4] = '/', k[5] = (char)('a' + i);
}

static void write_points(struct region *r, unsigned seed)
{
	char k[16];

	for (unsigned n = 0; n < ROUND; n++) {
		unsigned i = (n + seed) % KEYS;
		struct region_series *s;
		key(k, i);
		s = region_series(r, 0x0101, k, 6);
		assert_non_null(s);
		region_observe(s, i % REGION_BUCKETS, 1.0);
		if (n % 97 == 0) {
			uint8_t t[16], sp[8];
			memset(t, (int)(n & 0xff), 16);
			memset(sp, (int)(n & 0xff), 8);
			region_exemplar(s, i % REGION_BUCKETS, t, sp, (double)(n & 0xff), n & 0xff);
		}
	}
}

struct writer {
	struct region *r;
	unsigned seed;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;

	write_points(w->r, w->seed);
	return NULL;
}

static int stop_reader;
static void *reader_thread(void *arg)
{
	struct region *r = arg;
	uint64_t last[NS] = {0};

	while (!__atomic_load_n(&stop_reader, __ATOMIC_ACQUIRE)) {
		for (uint32_t i = 0; i < NS; i++) {
			struct region_read rd;
			struct region_exemplar e;
			uint64_t total = 0;
			if (region_read(r, i, &rd))
				continue;
			for (unsigned b = 0; b < REGION_BUCKETS; b++)
				total += rd.buckets[b];
			if (total < last[i] || rd.keylen != 6 || rd.key[0] != 'G')
				abort(); /* a count went back, or a torn key */
			last[i] = total;
			for (unsigned b = 0; b < REGION_BUCKETS; b++) {
				if (region_read_exemplar(r, i, b, &e))
					continue;
				for (int j = 1; j < 16; j++)
					if (e.trace_id[j] != e.trace_id[0])
						abort(); /* torn exemplar */
				if (e.span_id[7] != e.trace_id[0] || e.end_ns != e.trace_id[0])
					abort();
			}
		}
	}
	return NULL;
}

static void counts_exact(void **state)
{
	struct region r;
	size_t len;
	void *m = mk(&r, &len);
	pthread_t t[4], rd;
	struct writer w[4];
	pid_t kids[2];
	uint64_t per_key[KEYS] = {0};
	int st;

	(void)state;
	pthread_create(&rd, NULL, reader_thread, &r);
	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			struct region c;
			if (region_attach(&c, m, len))
				_exit(2);
			write_points(&c, 100 + (unsigned)i);
			_exit(0);
		}
	}
	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct writer){&r, i};
		pthread_create(&t[i], NULL, writer_thread, &w[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	__atomic_store_n(&stop_reader, 1, __ATOMIC_RELEASE);
	pthread_join(rd, NULL);
	/* every point counted once: 6 writers x ROUND, by key */
	for (uint32_t i = 0; i < NS; i++) {
		struct region_read rd2;
		uint64_t total = 0;
		if (region_read(&r, i, &rd2))
			continue;
		for (unsigned b = 0; b < REGION_BUCKETS; b++)
			total += rd2.buckets[b];
		assert_true(rd2.sum == (double)total);
		per_key[rd2.key[5] - 'a'] += total;
	}
	for (int k = 0; k < KEYS; k++)
		assert_int_equal(per_key[k], 6 * ROUND / KEYS);
	munmap(m, len);
}

static void full_table(void **state)
{
	struct region r;
	size_t len;
	void *m = mk(&r, &len);
	char k[32];
	int made = 0;

	(void)state;
	for (int i = 0; i < 4 * NS; i++) {
		int n = snprintf(k, sizeof(k), "k%d", i);
		made += region_series(&r, 1, k, (size_t)n) != NULL;
	}
	assert_true(made <= NS - REGION_SPARE && made >= NS / 2);
	/* the table is full, yet every family's overflow series is made, once */
	for (uint16_t f = 1; f <= REGION_SPARE; f++) {
		struct region_series *o = region_series(&r, f, "", 0);
		assert_non_null(o);
		assert_ptr_equal(o, region_series(&r, f, "", 0));
	}
	char big[REGION_KEY_MAX + 1];

	memset(big, 'x', sizeof(big));
	assert_null(region_series(&r, 1, big, sizeof(big)));
	munmap(m, len);
}

static void hostile_headers(void **state)
{
	struct region r, c;
	size_t len;
	void *m = mk(&r, &len);
	struct region_hdr saved = *r.hdr;

	(void)state;
	assert_int_equal(region_attach(&c, m, len), 0);
	assert_int_equal(region_attach(&c, m, len - 1), -1); /* size is not the file's */
	r.hdr->nseries = 1u << 31;			     /* would wrap a multiplication */
	assert_int_equal(region_attach(&c, m, len), -1);
	*r.hdr = saved;
	r.hdr->nseries = NS * 2; /* a table that runs past the end */
	assert_int_equal(region_attach(&c, m, len), -1);
	*r.hdr = saved;
	r.hdr->ring_off = len; /* a ring outside */
	assert_int_equal(region_attach(&c, m, len), -1);
	*r.hdr = saved;
	r.hdr->magic = 1;
	assert_int_equal(region_attach(&c, m, len), -1);
	*r.hdr = saved;
	assert_int_equal(region_bytes(3, 8), 0); /* not powers of two */
	assert_int_equal(region_bytes(1u << 30, 8), 0);
	/* a series a process scribbled on: refused, not trusted */
	assert_non_null(region_series(&r, 1, "ok", 2));
	for (uint32_t i = 0; i < NS; i++)
		if (r.series[i].state == REGION_READY)
			r.series[i].keylen = REGION_KEY_MAX + 7;
	for (uint32_t i = 0; i < NS; i++) {
		struct region_read rd;
		assert_int_equal(region_read(&r, i, &rd), -1);
	}
	munmap(m, len);
}

static void collector_to_process(void **state)
{
	struct region r;
	size_t len;
	void *m = mk(&r, &len);
	struct route_table t, got;
	uint32_t seq = 0;
	char err[64];

	(void)state;
	route_table_init(&t);
	assert_int_equal(route_table_add(&t, "/users/{id}", err, sizeof(err)), 0);
	region_set_routes(&r, &t);
	assert_int_equal(region_get_routes(&r, &seq, &got), 1);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.pat[0], "/users/{id}");
	assert_int_equal(region_get_routes(&r, &seq, &got), 0); /* unchanged */
	region_set_export(&r, 1, SPANRING_SAMPLE_FORCE, 0.25);
	assert_int_equal(r.hdr->export_spans, 1);
	assert_int_equal(r.hdr->sample_mode, SPANRING_SAMPLE_FORCE);
	assert_int_equal(r.hdr->sample_q53, 1ULL << 51);
	region_count(&r, REGION_INJECTED);
	region_count(&r, REGION_INJECTED);
	assert_int_equal(region_counter(&r, REGION_INJECTED), 2);
	munmap(m, len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(counts_exact),
	    cmocka_unit_test(full_table),
	    cmocka_unit_test(hostile_headers),
	    cmocka_unit_test(collector_to_process),
	};
	return cmocka_run_group_tests_name("region", tests, NULL, NULL);
}

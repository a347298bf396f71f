/* Unit tests: the OTLP exporter's queue (otlp.c, spanq.c), with its real
 * export thread writing JSON lines to a file: every span put is exported
 * once, in order and whole (spans of varied lengths, each kept only as
 * long as it is), whether the ring is used within its first size, grows
 * from a backlog that does not wrap, or grows from one that does (its
 * wrapped part moved after the rest), grows again and again for long
 * spans; and a queue at its span limit drops and counts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "otlp.h"
#include "tp.h"
#include "xspan.h"

struct fixture {
	char path[64];
	struct otlp_exporter *e;
	uint64_t next;	   /* the next span's number (its span id) */
	size_t long_names; /* names of ~1 KB, not up to 255 bytes */
};

/* The first ring's bytes (otlp.c: two batches, 1024 spans; spanq.c: 768
 * bytes each). */
#define FIRST_BYTES (1024 * 768)

/* Span id's name: "GET /" and a run of one letter, its length from id. */
static void name_of(const struct fixture *f, uint64_t id, char *out, size_t len)
{
	size_t k = f->long_names ? 1000 + id % 270 : id % 256;

	assert_true(k + 6 <= len);
	memcpy(out, "GET /", 5);
	memset(out + 5, 'a' + (int)(id % 26), k);
	out[5 + k] = 0;
}

static int setup(void **st)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct otlp_cfg c;
	char err[256];
	int fd;

	snprintf(f->path, sizeof(f->path), "/tmp/test_otlp_queue.XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	close(fd);
	otlp_cfg_init(&c);
	c.json_path = f->path;
	c.delay_ms = 60000; /* batches go when full, the rest at the flush */
	assert_int_equal(otlp_start(&f->e, &c, err, sizeof(err)), 0);
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fixture *f = *st;

	otlp_stop(f->e, 1000);
	unlink(f->path);
	free(f);
	return 0;
}

/* n spans, numbered on from f->next, put and (publish) handed over. */
static void put(struct fixture *f, size_t n, int publish)
{
	for (size_t i = 0; i < n; i++) {
		struct xspan *x = otlp_slot(f->e);
		struct span_rec r = {.kind = SPAN_SERVER};
		uint64_t id = ++f->next;
		char name[1400];

		memset(r.trace_id, 0x11, sizeof(r.trace_id));
		for (int b = 0; b < 8; b++)
			r.span_id[b] = (uint8_t)(id >> (56 - 8 * b));
		r.start_ns = 1000 + id;
		r.end_ns = 2000 + id;
		xspan_from_rec(x, &r);
		name_of(f, id, name, sizeof(name));
		xspan_set_name(x, name);
		assert_true(xspan_size(x) <= sizeof(*x));
		otlp_put(f->e, x);
	}
	if (publish)
		otlp_publish(f->e);
}

static struct otlp_stats stats(struct fixture *f)
{
	struct otlp_stats s;

	otlp_get_stats(f->e, &s);
	return s;
}

static void wait_exported(struct fixture *f, uint64_t n)
{
	for (int i = 0; i < 5000 && stats(f).exported < n; i++)
		usleep(1000);
	assert_int_equal(stats(f).exported, n);
}

/* The file holds spans 1..n, each once, in order, each with its name. */
static void file_holds(struct fixture *f, uint64_t n)
{
	FILE *in = fopen(f->path, "r");
	char line[4096], name[1400], quoted[1420];
	uint64_t want = 0;

	assert_non_null(in);
	while (fgets(line, sizeof(line), in)) {
		const char *p = strstr(line, "\"span_id\":\"");
		char hex[17];

		assert_non_null(p);
		want++;
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)want);
		assert_memory_equal(p + 11, hex, 16);
		name_of(f, want, name, sizeof(name));
		snprintf(quoted, sizeof(quoted), "{\"name\":\"%s\",", name);
		assert_memory_equal(line, quoted, strlen(quoted));
	}
	fclose(in);
	assert_int_equal(want, n);
}

/* A backlog within two batches: the ring keeps its first size, round
 * after round (a batch at a time, and one and a half: it wraps). */
static void test_light(void **st)
{
	struct fixture *f = *st;

	assert_int_equal(stats(f).queue_bytes, FIRST_BYTES);
	for (int r = 0; r < 12; r++) {
		put(f, 512, 1);
		wait_exported(f, f->next);
	}
	for (int r = 0; r < 6; r++) {
		put(f, 768, 1);
		wait_exported(f, f->next / 512 * 512);
	}
	assert_int_equal(stats(f).queue_bytes, FIRST_BYTES);
	assert_int_equal(stats(f).dropped_queue_full, 0);
	otlp_flush(f->e, 1000);
	assert_int_equal(stats(f).exported, f->next);
	file_holds(f, f->next);
}

/* Filled from slot 0 before anything is handed over: it grows in place. */
static void test_grow_unwrapped(void **st)
{
	struct fixture *f = *st;

	put(f, 2000, 1);
	assert_int_equal(stats(f).queue_bytes, 2 * FIRST_BYTES);
	assert_int_equal(stats(f).dropped_queue_full, 0);
	otlp_flush(f->e, 1000);
	assert_int_equal(stats(f).exported, 2000);
	file_holds(f, 2000);
}

/* A backlog that wraps when the ring fills: [head, wrap) then [0, next)
 * become one run before the ring doubles. */
static void test_grow_wrapped(void **st)
{
	struct fixture *f = *st;

	put(f, 600, 1);
	wait_exported(f, 512); /* a batch went: 88 wait */
	put(f, 1500, 0);       /* fill the ring to its end, then before them; it grows, wrapped */
	assert_int_equal(stats(f).queue_bytes, 2 * FIRST_BYTES);
	otlp_publish(f->e);
	assert_int_equal(stats(f).dropped_queue_full, 0);
	otlp_flush(f->e, 1000);
	assert_int_equal(stats(f).exported, 2100);
	file_holds(f, 2100);
}

/* queue_size held and nothing handed over: the rest is dropped, counted. */
static void test_full_drops(void **st)
{
	struct fixture *f = *st;

	put(f, 2100, 0);
	assert_int_equal(stats(f).queue_bytes, 2 * FIRST_BYTES);
	assert_int_equal(stats(f).dropped_queue_full, 2100 - 2048);
	otlp_publish(f->e);
	wait_exported(f, 2048);
	otlp_flush(f->e, 1000);
	file_holds(f, 2048);
}

/* Spans of ~1.5 KB: the ring doubles, and again, its backlog wrapped or
 * not, and every span comes out whole. */
static void test_long_spans(void **st)
{
	struct fixture *f = *st;

	f->long_names = 1;
	put(f, 700, 1);
	wait_exported(f, 512);
	put(f, 1800, 0);
	assert_true(stats(f).queue_bytes >= 4 * FIRST_BYTES);
	otlp_publish(f->e);
	assert_int_equal(stats(f).dropped_queue_full, 0);
	otlp_flush(f->e, 1000);
	assert_int_equal(stats(f).exported, 2500);
	file_holds(f, 2500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_light, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grow_unwrapped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grow_wrapped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_full_drops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_spans, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

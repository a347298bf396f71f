/*
 * mapwalk on real BPF maps (needs root, as CI is): every entry seen once,
 * with its per-CPU values, across many batches; the same through the
 * entry-by-entry walk (a map type without batch operations); a walk
 * stopped by its callback.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "mapwalk.h"

#define N 5000 /* several batches of any size mapwalk picks */

struct seen {
	int ncpus;
	size_t vsize;
	uint8_t hit[N];
	size_t calls, stop_at;
	int bad;
};

/* key k holds, on cpu c, k * 1000 + c */
static int on_entry(void *ctx, const void *key, const void *value)
{
	struct seen *s = ctx;
	uint32_t k;

	memcpy(&k, key, sizeof(k));
	s->calls++;
	if (k >= N || s->hit[k]++)
		s->bad++;
	for (int c = 0; c < s->ncpus; c++) {
		uint64_t v;

		memcpy(&v, (const char *)value + (size_t)c * 8, sizeof(v));
		if (v != (uint64_t)k * 1000 + (uint64_t)c)
			s->bad++;
	}
	return s->stop_at && s->calls == s->stop_at ? 42 : 0;
}

static int need_bpf(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, 4, 8, 1, NULL);

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	/* CI runs as root: there a missing BPF is a failure, not a skip */
	if (getenv("CI"))
		fail_msg("cannot create a BPF map: %s", strerror(errno));
	return -1;
}

static int filled(enum bpf_map_type type, int ncpus, uint32_t n)
{
	int fd = bpf_map_create(type, NULL, 4, 8, N, NULL);
	uint64_t *v = calloc((size_t)ncpus, 8);

	assert_true(fd >= 0);
	assert_non_null(v);
	for (uint32_t k = 0; k < n; k++) {
		for (int c = 0; c < ncpus; c++)
			v[c] = (uint64_t)k * 1000 + (uint64_t)c;
		assert_int_equal(bpf_map_update_elem(fd, &k, v, BPF_ANY), 0);
	}
	free(v);
	return fd;
}

static struct seen *seen_new(int ncpus)
{
	struct seen *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->ncpus = ncpus;
	return s;
}

/* A test's start: BPF there (else skipped, or failed in CI), and a tally. */
static struct seen *start(void)
{
	if (need_bpf())
		skip();
	return seen_new(1);
}

static void walk_and_check(enum bpf_map_type type, int percpu, uint32_t n)
{
	int ncpus = percpu ? libbpf_num_possible_cpus() : 1;
	struct seen *s = seen_new(ncpus);
	size_t entries = 0;
	int fd;

	fd = filled(type, ncpus, n);
	assert_int_equal(mapwalk(fd, 4, 8 * (size_t)ncpus, on_entry, s, &entries), 0);
	assert_int_equal(s->bad, 0);
	assert_int_equal(entries, n);
	for (uint32_t k = 0; k < n; k++)
		assert_int_equal(s->hit[k], 1);
	close(fd);
	free(s);
}

static void percpu_hash(void **state)
{
	(void)state;
	if (need_bpf())
		skip();
	walk_and_check(BPF_MAP_TYPE_PERCPU_HASH, 1, N);
	walk_and_check(BPF_MAP_TYPE_PERCPU_HASH, 1, 1);
	walk_and_check(BPF_MAP_TYPE_PERCPU_HASH, 1, 0);
}

static void plain_hash_and_arrays(void **state)
{
	(void)state;
	if (need_bpf())
		skip();
	walk_and_check(BPF_MAP_TYPE_HASH, 0, N);
	walk_and_check(BPF_MAP_TYPE_PERCPU_ARRAY, 1, N); /* (an array has all N) */
	walk_and_check(BPF_MAP_TYPE_ARRAY, 0, N);
}

static int on_dev(void *ctx, const void *key, const void *value)
{
	struct seen *s = ctx;
	uint32_t k, ifindex;

	memcpy(&k, key, sizeof(k));
	memcpy(&ifindex, value, sizeof(ifindex));
	if (k >= N || s->hit[k]++ || ifindex != 1)
		s->bad++;
	return 0;
}

/* A device hash map has keys and lookups but no batch operations (its
 * values must name a device: loopback's, 1): the entry-by-entry walk
 * answers, as the batch one would. */
static void no_batch_fallback(void **state)
{
	uint32_t zero = 0, count = 8, keys[8], vals[8], lo = 1;
	struct seen *s = start();
	size_t entries = 0;
	int fd;

	(void)state;
	fd = bpf_map_create(BPF_MAP_TYPE_DEVMAP_HASH, NULL, 4, 4, N, NULL);
	assert_true(fd >= 0);
	for (uint32_t k = 0; k < 300; k++)
		assert_int_equal(bpf_map_update_elem(fd, &k, &lo, BPF_ANY), 0);
	/* (the premise: no batch lookup here) */
	assert_true(bpf_map_lookup_batch(fd, NULL, &zero, keys, vals, &count, NULL) < 0);
	assert_int_not_equal(errno, ENOENT);
	assert_int_equal(mapwalk(fd, 4, 4, on_dev, s, &entries), 0);
	assert_int_equal(s->bad, 0);
	assert_int_equal(entries, 300);
	for (uint32_t k = 0; k < 300; k++)
		assert_int_equal(s->hit[k], 1);
	close(fd);
	free(s);
}

static void stopped(void **state)
{
	struct seen *s = start();
	size_t entries = 0;
	int fd;

	(void)state;
	fd = filled(BPF_MAP_TYPE_HASH, 1, N);
	s->stop_at = 1234;
	assert_int_equal(mapwalk(fd, 4, 8, on_entry, s, &entries), 42);
	assert_int_equal(s->calls, 1234);
	assert_int_equal(entries, 1234);
	close(fd);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(percpu_hash),
	    cmocka_unit_test(plain_hash_and_arrays),
	    cmocka_unit_test(no_batch_fallback),
	    cmocka_unit_test(stopped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

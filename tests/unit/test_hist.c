/* Unit tests: log2 histogram math (userspace/hist.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "hist.h"

/* Slot k holds 2^(k-1) < v <= 2^k: so "le=2^k" is an exact bucket. */
static void slot_boundaries(void **state)
{
	(void)state;
	assert_int_equal(hist_slot(0), 0);
	assert_int_equal(hist_slot(1), 0);
	assert_int_equal(hist_slot(2), 1);
	assert_int_equal(hist_slot(3), 2);
	assert_int_equal(hist_slot(4), 2);
	assert_int_equal(hist_slot(5), 3);
	for (unsigned k = 1; k < OBS_HIST_SLOTS - 1; k++) {
		uint64_t p = (uint64_t)1 << k;

		assert_int_equal(hist_slot(p), k);
		assert_int_equal(hist_slot(p + 1), k + 1);
		assert_true(hist_slot_upper_ns(hist_slot(p)) >= p);
	}
	assert_int_equal(hist_slot(UINT64_MAX), OBS_HIST_SLOTS - 1);
	assert_int_equal(hist_slot_upper_ns(OBS_HIST_SLOTS - 1), UINT64_MAX);
}

/* A naive reference: the smallest k with v <= 2^k. hist_slot() is the
 * very function the BPF programs run (bpf/obs_log2.h). */
static unsigned naive_slot(uint64_t v)
{
	unsigned k = 0;

	while (k < 64 && v > ((uint64_t)1 << k))
		k++;
	return k < OBS_HIST_SLOTS ? k : OBS_HIST_SLOTS - 1;
}

static void matches_naive_reference(void **state)
{
	uint64_t x = 88172645463325252ULL;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint64_t v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = x >> (x % 64);
		assert_int_equal(hist_slot(v), naive_slot(v));
	}
	for (unsigned k = 0; k < 64; k++)
		for (int d = -1; d <= 1; d++) {
			uint64_t v = ((uint64_t)1 << k) + (uint64_t)d;

			assert_int_equal(hist_slot(v), naive_slot(v));
		}
}

static void cumulative_and_quantiles(void **state)
{
	__u64 s[OBS_HIST_SLOTS] = {0};
	uint64_t cum[HIST_EXPORT_BUCKETS];

	(void)state;
	s[hist_slot(100)] = 10;	    /* <= 128ns */
	s[hist_slot(3000)] = 80;    /* <= 4096ns */
	s[hist_slot(1000000)] = 10; /* <= 2^20 ns */
	assert_int_equal(hist_total(s), 100);
	hist_cumulative(s, cum);
	assert_int_equal(cum[0], 10);  /* le 256ns */
	assert_int_equal(cum[1], 10);  /* le 1.024us */
	assert_int_equal(cum[2], 90);  /* le 4.096us */
	assert_int_equal(cum[6], 100); /* le 1.048576ms */
	for (unsigned b = 1; b < HIST_EXPORT_BUCKETS; b++)
		assert_true(cum[b] >= cum[b - 1]);
	assert_int_equal(cum[HIST_EXPORT_BUCKETS - 1], 100);
	assert_int_equal(hist_quantile_ns(s, 0.05), 128);
	assert_int_equal(hist_quantile_ns(s, 0.5), 4096);
	assert_int_equal(hist_quantile_ns(s, 0.9), 4096);
	assert_int_equal(hist_quantile_ns(s, 0.99), 1 << 20);
	assert_int_equal(hist_max_slot(s), hist_slot(1000000));
	memset(s, 0, sizeof(s));
	assert_int_equal(hist_quantile_ns(s, 0.5), 0);
	assert_int_equal(hist_max_slot(s), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(slot_boundaries),
	    cmocka_unit_test(matches_naive_reference),
	    cmocka_unit_test(cumulative_and_quantiles),
	};
	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}

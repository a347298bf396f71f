/* Unit tests: the span ring (spanring.c): order, full ring drops and counts,
 * wrap-around, attach validation, a hostile sequence number (bounded tries),
 * sizes that would wrap, the dead-producer skip, four threads producing
 * at once with nothing lost or duplicated, and the consumer's wake. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "spanring.h"

static void *mk(uint64_t cap, struct spanring *r)
{
	void *m = calloc(1, spanring_bytes(cap));
	assert_int_equal(spanring_init(r, m, cap), 0);
	return m;
}

static void test_order_full_wrap(void **st)
{
	(void)st;
	struct spanring r, c;
	struct span_rec rec = {0}, out;
	void *m = mk(4, &r);

	/* init writes no cell: a region's ring pages are touched on first use */
	for (size_t i = sizeof(struct spanring_hdr); i < spanring_bytes(4); i++)
		assert_int_equal(((unsigned char *)m)[i], 0);
	assert_int_equal(spanring_attach(&c, m, spanring_bytes(4)), 0);
	for (int round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 4; i++) {
			rec.pid = i + 10u * (uint32_t)round;
			assert_int_equal(spanring_push(&r, &rec), 0);
		}
		assert_int_equal(spanring_push(&r, &rec), -1);
		for (uint32_t i = 0; i < 4; i++) {
			assert_int_equal(spanring_pop(&c, &out, 1, 1000, NULL), 1);
			assert_int_equal(out.pid, i + 10u * (uint32_t)round);
		}
		assert_int_equal(spanring_pop(&c, &out, 1, 1000, NULL), 0);
	}
	assert_int_equal(r.hdr->dropped, 3);
	assert_int_equal(r.hdr->pushed, 12);
	assert_int_equal(spanring_attach(&c, m, 16), -1);
	((struct spanring_hdr *)m)->magic = 1;
	assert_int_equal(spanring_attach(&c, m, spanring_bytes(4)), -1);
	assert_int_equal(spanring_init(&c, m, 3), -1);
	free(m);
}

/* A writer not playing by the rules sets the head cell's sequence ahead:
 * a producer gives up after a bounded number of tries, drops and counts,
 * and never spins. Sizes that would wrap are refused. */
static void test_hostile_sequence(void **st)
{
	(void)st;
	struct spanring r;
	struct span_rec rec = {0};
	void *m = mk(4, &r);

	r.cells[0].seq = 7; /* "ahead of head" for every later try */
	assert_int_equal(spanring_push(&r, &rec), -1);
	assert_int_equal(r.hdr->dropped, 1);
	assert_int_equal(r.hdr->pushed, 0);
	assert_int_equal(spanring_bytes((uint64_t)1 << 61), 0);
	assert_int_equal(spanring_bytes(UINT64_MAX), 0);
	((struct spanring_hdr *)m)->cap = (uint64_t)1 << 61;
	assert_int_equal(spanring_attach(&r, m, spanring_bytes(4)), -1);
	free(m);
}

static void test_dead_producer(void **st)
{
	(void)st;
	struct spanring r;
	struct span_rec rec = {0}, out;
	uint64_t skipped = 0;
	void *m = mk(4, &r);

	/* a producer claimed cell 0 and died before publishing */
	r.hdr->head = 1;
	rec.pid = 7;
	assert_int_equal(spanring_push(&r, &rec), 0); /* goes to cell 1 */
	assert_int_equal(spanring_pop(&r, &out, 100, 50, &skipped), 0);
	assert_int_equal(spanring_pop(&r, &out, 120, 50, &skipped), 0);
	assert_int_equal(skipped, 0);
	assert_int_equal(spanring_pop(&r, &out, 160, 50, &skipped), 0);
	assert_int_equal(skipped, 1);
	assert_int_equal(spanring_pop(&r, &out, 170, 50, &skipped), 1);
	assert_int_equal(out.pid, 7);
	free(m);
}

#define PER_THREAD 20000
static struct spanring shared;

static void *producer(void *arg)
{
	struct span_rec rec = {0};

	rec.pid = (uint32_t)(uintptr_t)arg;
	for (uint32_t i = 0; i < PER_THREAD; i++) {
		rec.tid = i;
		while (spanring_push(&shared, &rec) < 0)
			;
	}
	return NULL;
}

static void test_threads(void **st)
{
	(void)st;
	pthread_t t[4];
	uint32_t next[4] = {0};
	struct span_rec out;
	void *m = mk(64, &shared);
	size_t got = 0;

	for (uintptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, producer, (void *)i);
	while (got < 4 * PER_THREAD) {
		if (!spanring_pop(&shared, &out, 1, UINT64_MAX, NULL))
			continue;
		assert_true(out.pid < 4);
		assert_int_equal(out.tid, next[out.pid]); /* per-producer order kept */
		next[out.pid]++;
		got++;
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(spanring_pop(&shared, &out, 1, UINT64_MAX, NULL), 0);
	free(m);
}
/* The consumer's wake: after spanring_arm(ahead), the push that queues
 * the ahead-th record says so (1), once; unarmed, every push says 0; a
 * rearm counts from where producers are, and never wakes for a full ring. */
static void test_arm_wake(void **st)
{
	(void)st;
	struct spanring r;
	struct span_rec rec = {0}, out;
	void *m = mk(8, &r);

	for (int i = 0; i < 3; i++)
		assert_int_equal(spanring_push(&r, &rec), 0); /* never armed */
	spanring_arm(&r, 3);
	assert_int_equal(spanring_push(&r, &rec), 0);
	assert_int_equal(spanring_push(&r, &rec), 0);
	assert_int_equal(spanring_push(&r, &rec), 1); /* the third since arming */
	assert_int_equal(spanring_push(&r, &rec), 0); /* once */
	for (int i = 0; i < 7; i++)
		assert_int_equal(spanring_pop(&r, &out, 1, 1000, NULL), 1);
	spanring_arm(&r, 2);
	assert_int_equal(spanring_push(&r, &rec), 0);
	assert_int_equal(spanring_push(&r, &rec), 1);
	spanring_arm(&r, 100); /* past the ring's room: drops, no wake */
	for (int i = 0; i < 10; i++)
		assert_true(spanring_push(&r, &rec) <= 0);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_full_wrap), cmocka_unit_test(test_hostile_sequence),
	    cmocka_unit_test(test_dead_producer), cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_arm_wake)};
	return cmocka_run_group_tests_name("spanring", tests, NULL, NULL);
}

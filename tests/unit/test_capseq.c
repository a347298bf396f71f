/* Unit tests: capture events put back in the order their bytes went
 * (capseq.c): in order passes straight through; an answer's read seen
 * before the write it answers waits for it; chunks of one syscall in
 * place; a number twice, a chunk out of place, or a number that never
 * comes (too many waiting) is a gap; what waits at the end is said. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "capseq.h"

struct got {
	uint32_t seq[64], off[64];
	int n;
};

static void deliver(void *arg, const struct obs_cap_event *e)
{
	struct got *g = arg;

	g->seq[g->n] = e->seq;
	g->off[g->n++] = e->off;
}

/* what came out, for up to 1024 events */
struct got_big {
	uint32_t seq[1024], off[1024];
	int n;
};

static void deliver_big(void *arg, const struct obs_cap_event *e)
{
	struct got_big *g = arg;

	if (g->n < 1024) {
		g->seq[g->n] = e->seq;
		g->off[g->n++] = e->off;
	}
}

/* syscall seq's chunk at off, caplen bytes, the last or not */
static struct obs_cap_event ev(uint32_t seq, uint32_t off, uint32_t caplen, int last)
{
	struct obs_cap_event e;

	memset(&e, 0, sizeof(e));
	e.kind = OBS_CAP_IN;
	e.seq = seq;
	e.off = off;
	e.caplen = caplen;
	e.len = off + caplen;
	e.last = (uint32_t)last;
	return e;
}

static int offer(struct capseq *q, struct got *g, struct obs_cap_event e)
{
	return capseq_offer(q, &e, deliver, g);
}

static void test_in_order_and_chunks(void **st)
{
	(void)st;
	struct capseq q = {0};
	struct got g = {0};

	assert_int_equal(offer(&q, &g, ev(0, 0, 10, 1)), 0);
	assert_int_equal(offer(&q, &g, ev(1, 0, OBS_CAP_BYTES, 0)), 0);
	assert_int_equal(offer(&q, &g, ev(1, OBS_CAP_BYTES, 7, 1)), 0);
	assert_int_equal(offer(&q, &g, ev(2, 0, 0, 1)), 0); /* a write that moved nothing */
	assert_int_equal(g.n, 4);
	assert_int_equal(g.off[2], OBS_CAP_BYTES);
	assert_null(q.ahead); /* nothing waited: no room taken */
	assert_int_equal(capseq_waiting(&q), 0);
	capseq_free(&q);
}

/* A client's request write (0) exits after the read of its answer (1),
 * itself in two chunks, and another read (2) came too. */
/* A syscall that moved more than its prefix: its final bytes come as a
 * tail chunk, past the prefix's end (the bytes between not copied); one
 * before the prefix's end, or a plain chunk out of place, is a gap. */
static void test_tail(void **st)
{
	(void)st;
	struct capseq q = {0};
	struct got g = {0};
	struct obs_cap_event t = ev(0, 300000 - 100, 100, OBS_CAP_TAIL);

	assert_int_equal(offer(&q, &g, ev(0, 0, OBS_CAP_BYTES, 0)), 0);
	assert_int_equal(offer(&q, &g, ev(0, OBS_CAP_BYTES, OBS_CAP_BYTES, 0)), 0);
	assert_int_equal(offer(&q, &g, t), 0);
	assert_int_equal(offer(&q, &g, ev(1, 0, 5, 1)), 0);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.off[2], 300000 - 100);
	assert_int_equal(g.seq[3], 1);
	/* a tail that waited for its syscall's chunks */
	t = ev(3, 5000, 20, OBS_CAP_TAIL);
	assert_int_equal(offer(&q, &g, t), 0);
	assert_int_equal(offer(&q, &g, ev(2, 0, 8, 1)), 0);
	assert_int_equal(g.n, 5);
	assert_int_equal(offer(&q, &g, ev(3, 0, OBS_CAP_BYTES, 0)), 0);
	assert_int_equal(g.n, 7);
	assert_int_equal(capseq_waiting(&q), 0);
	/* a tail inside what was copied, or a plain chunk past it: gaps */
	assert_int_equal(offer(&q, &g, ev(4, 0, OBS_CAP_BYTES, 0)), 0);
	assert_int_equal(offer(&q, &g, ev(4, 10, 5, OBS_CAP_TAIL)), -1);
	capseq_free(&q);
	q = (struct capseq){0};
	assert_int_equal(offer(&q, &g, ev(0, 0, OBS_CAP_BYTES, 0)), 0);
	assert_int_equal(offer(&q, &g, ev(0, 2 * OBS_CAP_BYTES, 5, 1)), -1);
	capseq_free(&q);
}

static void test_answer_before_request(void **st)
{
	(void)st;
	struct capseq q = {0};
	struct got g = {0};

	assert_int_equal(offer(&q, &g, ev(1, 0, OBS_CAP_BYTES, 0)), 0);
	assert_int_equal(offer(&q, &g, ev(1, OBS_CAP_BYTES, 3, 1)), 0);
	assert_int_equal(offer(&q, &g, ev(2, 0, 5, 1)), 0);
	assert_int_equal(g.n, 0);
	assert_int_equal(capseq_waiting(&q), 3);
	assert_int_equal(offer(&q, &g, ev(0, 0, 40, 1)), 0);
	assert_int_equal(g.n, 4);
	uint32_t want_seq[] = {0, 1, 1, 2}, want_off[] = {0, 0, OBS_CAP_BYTES, 0};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(g.seq[i], want_seq[i]);
		assert_int_equal(g.off[i], want_off[i]);
	}
	assert_int_equal(capseq_waiting(&q), 0);
	capseq_free(&q);
}

static void test_gaps(void **st)
{
	(void)st;
	struct capseq q = {0};
	struct got g = {0};

	/* a number twice */
	assert_int_equal(offer(&q, &g, ev(0, 0, 1, 1)), 0);
	assert_int_equal(offer(&q, &g, ev(0, 0, 1, 1)), -1);
	capseq_free(&q);
	/* a chunk out of place (the one before it dropped) */
	q = (struct capseq){0};
	assert_int_equal(offer(&q, &g, ev(0, 0, OBS_CAP_BYTES, 0)), 0);
	assert_int_equal(offer(&q, &g, ev(0, 2 * OBS_CAP_BYTES, 1, 1)), -1);
	capseq_free(&q);
	/* a number that never comes: the waiting room fills, then a gap;
	 * the numbers wrap (u32) */
	q = (struct capseq){.next_seq = UINT32_MAX - 3};
	g.n = 0;
	for (uint32_t i = 0; i < CAPSEQ_AHEAD; i++)
		assert_int_equal(offer(&q, &g, ev(UINT32_MAX - 2 + i, 0, 1, 1)), 0);
	assert_int_equal(capseq_waiting(&q), CAPSEQ_AHEAD);
	assert_int_equal(offer(&q, &g, ev(UINT32_MAX - 2 + CAPSEQ_AHEAD, 0, 1, 1)), -1);
	assert_int_equal(capseq_waiting(&q), 0);
	assert_int_equal(g.n, 0);
	capseq_free(&q);
	/* at the end, what still waits is said */
	q = (struct capseq){0};
	assert_int_equal(offer(&q, &g, ev(3, 0, 1, 1)), 0);
	assert_int_equal(capseq_waiting(&q), 1);
	capseq_free(&q);
	assert_null(q.ahead);
}

/* Two syscalls' worth of HTTP/2 chunks (128 each) interleaved as two CPUs
 * put them in the ring, the first one's held back: all wait, then all
 * come out in order, each syscall's chunks in place. */
static void test_interleaved_big(void **st)
{
	(void)st;
	struct capseq q = {0};
	static struct got_big big;
	struct obs_cap_event e;

	big.n = 0;
	/* syscalls 1 and 2 arrive first, interleaved chunk by chunk */
	for (uint32_t c = 0; c < 128; c++) {
		for (uint32_t s = 1; s <= 2; s++) {
			e = ev(s, c * OBS_CAP_BYTES, OBS_CAP_BYTES, c == 127);
			assert_int_equal(capseq_offer(&q, &e, deliver_big, &big), 0);
		}
	}
	assert_int_equal(capseq_waiting(&q), 256);
	assert_int_equal(big.n, 0);
	/* then syscall 0, the one they were numbered after */
	for (uint32_t c = 0; c < 128; c++) {
		e = ev(0, c * OBS_CAP_BYTES, OBS_CAP_BYTES, c == 127);
		assert_int_equal(capseq_offer(&q, &e, deliver_big, &big), 0);
	}
	assert_int_equal(capseq_waiting(&q), 0);
	assert_int_equal(big.n, 384);
	for (int i = 0; i < 384; i++) {
		assert_int_equal(big.seq[i], (uint32_t)(i / 128));
		assert_int_equal(big.off[i], (uint32_t)(i % 128) * OBS_CAP_BYTES);
	}
	capseq_free(&q);
}

/* Random merges of 8 syscalls' chunks (up to 100 each, each syscall's in
 * its own order, as the ring keeps them): every event comes out once, in
 * order, and nothing is left waiting. */
static void test_random_merges(void **st)
{
	(void)st;
	static struct got_big got;
	uint32_t nchunks[8], sent[8], total;
	struct obs_cap_event e;

	srand(7);
	for (int round = 0; round < 300; round++) {
		struct capseq q = {0};

		total = 0;
		for (int s = 0; s < 8; s++) {
			nchunks[s] = 1 + (uint32_t)rand() % 100;
			sent[s] = 0;
			total += nchunks[s];
		}
		got.n = 0;
		for (uint32_t k = 0; k < total; k++) {
			int s;

			do
				s = rand() % 8;
			while (sent[s] == nchunks[s]);
			e = ev((uint32_t)s, sent[s] * OBS_CAP_BYTES, OBS_CAP_BYTES,
			       sent[s] + 1 == nchunks[s]);
			sent[s]++;
			assert_int_equal(capseq_offer(&q, &e, deliver_big, &got), 0);
		}
		assert_int_equal(capseq_waiting(&q), 0);
		assert_int_equal(got.n, (int)total);
		for (int i = 0, s = 0, c = 0; i < got.n; i++) {
			assert_int_equal(got.seq[i], (uint32_t)s);
			assert_int_equal(got.off[i], (uint32_t)c * OBS_CAP_BYTES);
			if ((uint32_t)++c == nchunks[s])
				s++, c = 0;
		}
		capseq_free(&q);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_merges),
	    cmocka_unit_test(test_interleaved_big),
	    cmocka_unit_test(test_in_order_and_chunks),
	    cmocka_unit_test(test_answer_before_request),
	    cmocka_unit_test(test_gaps),
	    cmocka_unit_test(test_tail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

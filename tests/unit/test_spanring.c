/* Unit tests: the span ring (spanring.c): records of every size come out
 * whole (packed into as many cells as they need, across the ring's end),
 * order, full ring drops and counts, attach validation, hostile cells (a
 * sequence set ahead, counts and lengths that do not add up, strings
 * pointing past what was written), sizes that would wrap, the
 * dead-producer skip, four threads producing records of varied sizes at
 * once with nothing lost or duplicated, and the consumer's wake. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
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

/* A record of about `size` bytes of strings (and a tracestate when ts). */
static void fill(struct span_rec *rec, uint32_t id, size_t size, size_t ts)
{
	char v[SPANREC_STR_MAX];

	memset(rec, 0, sizeof(*rec));
	rec->pid = id;
	rec->proto = 1;
	rec->start_ns = id;
	snprintf(rec->peer, sizeof(rec->peer), "10.0.0.%u", id % 250);
	for (size_t i = 0; i < ts && i < TP_TRACESTATE_MAX; i++)
		rec->tracestate[i] = (char)('a' + (id + i) % 26);
	rec->tracestate_len = (uint16_t)(ts < TP_TRACESTATE_MAX ? ts : TP_TRACESTATE_MAX);
	spanrec_put_int(rec, 1, (int64_t)id * 7);
	while (size > 0 && rec->nattrs < SPANREC_ATTR_MAX) {
		size_t n = size > 100 ? 100 : size;

		for (size_t i = 0; i < n; i++)
			v[i] = (char)('A' + (id + i) % 26);
		if (spanrec_put_str(rec, 2 + rec->nattrs, v, n))
			break;
		size -= n;
	}
}

static void same(const struct span_rec *a, const struct span_rec *b)
{
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->proto, b->proto);
	assert_int_equal(a->start_ns, b->start_ns);
	assert_string_equal(a->peer, b->peer);
	assert_int_equal(a->tracestate_len, b->tracestate_len);
	assert_memory_equal(a->tracestate, b->tracestate, a->tracestate_len);
	assert_int_equal(b->tracestate[b->tracestate_len], 0);
	assert_int_equal(a->nattrs, b->nattrs);
	assert_int_equal(a->str_used, b->str_used);
	assert_memory_equal(a->attrs, b->attrs, a->nattrs * sizeof(a->attrs[0]));
	assert_memory_equal(a->str, b->str, a->str_used);
}

static void test_sizes_wrap(void **st)
{
	(void)st;
	struct spanring r, c;
	struct span_rec *rec = calloc(1, sizeof(*rec)), *out = calloc(1, sizeof(*out));
	void *m = mk(64, &r);
	uint32_t id = 0;

	/* init writes no cell: a region's ring pages are touched on first use */
	for (size_t i = sizeof(struct spanring_hdr); i < spanring_bytes(64); i++)
		assert_int_equal(((unsigned char *)m)[i], 0);
	assert_int_equal(spanring_attach(&c, m, spanring_bytes(64)), 0);
	/* an empty record takes 2 cells; a full one SPANRING_RECORD_CELLS */
	fill(rec, 0, 0, 0);
	assert_int_equal(spanring_cells(rec), 2);
	fill(rec, 0, SPANREC_STR_MAX, TP_TRACESTATE_MAX);
	rec->nattrs = SPANREC_ATTR_MAX;
	rec->str_used = SPANREC_STR_MAX;
	assert_int_equal(spanring_cells(rec), SPANRING_RECORD_CELLS);
	rec->nattrs = 255; /* lengths past the limits count as the limits */
	rec->str_used = 60000;
	rec->tracestate_len = 60000; /* (a tracestate too long is none) */
	assert_true(spanring_cells(rec) < SPANRING_RECORD_CELLS);
	/* every size, again and again around the ring's end */
	for (int round = 0; round < 400; round++) {
		size_t size = (size_t)(round * 37) % 700, ts = round % 5 == 0 ? (size_t)round : 0;

		fill(rec, ++id, size, ts);
		assert_true(spanring_push(&r, rec) >= 0);
		assert_int_equal(spanring_pop(&c, out, 1, 1000, NULL), 1);
		same(rec, out);
		assert_int_equal(spanrec_check(out), 0);
		assert_int_equal(spanring_pop(&c, out, 1, 1000, NULL), 0);
	}
	free(m);
	free(rec);
	free(out);
}

static void test_order_full(void **st)
{
	(void)st;
	struct spanring r;
	struct span_rec rec, out;
	void *m = mk(16, &r); /* 8 empty records of 2 cells */

	for (int round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 8; i++) {
			fill(&rec, i + 10u * (uint32_t)round, 0, 0);
			assert_int_equal(spanring_push(&r, &rec), 0);
		}
		assert_int_equal(spanring_push(&r, &rec), -1);
		for (uint32_t i = 0; i < 8; i++) {
			assert_int_equal(spanring_pop(&r, &out, 1, 1000, NULL), 1);
			assert_int_equal(out.pid, i + 10u * (uint32_t)round);
		}
		assert_int_equal(spanring_pop(&r, &out, 1, 1000, NULL), 0);
	}
	assert_int_equal(r.hdr->dropped, 3);
	assert_int_equal(r.hdr->pushed, 24);
	/* a record that needs more than is free: dropped, the rest kept */
	fill(&rec, 1, 0, 0);
	for (int i = 0; i < 7; i++)
		assert_int_equal(spanring_push(&r, &rec), 0);
	fill(&rec, 2, 300, 0); /* 5 cells, 2 free */
	assert_int_equal(spanring_push(&r, &rec), -1);
	assert_int_equal(r.hdr->dropped, 4);
	free(m);
}

static void test_attach(void **st)
{
	(void)st;
	struct spanring r, c;
	void *m = mk(16, &r);

	assert_int_equal(spanring_attach(&c, m, 16), -1);
	assert_int_equal(spanring_attach(&c, m, spanring_bytes(8)), -1); /* shorter than cap */
	((struct spanring_hdr *)m)->cell_size = 64;
	assert_int_equal(spanring_attach(&c, m, spanring_bytes(16)), -1);
	((struct spanring_hdr *)m)->cell_size = SPANRING_CELL;
	((struct spanring_hdr *)m)->cap = 8; /* too few for a whole record */
	assert_int_equal(spanring_attach(&c, m, spanring_bytes(16)), -1);
	((struct spanring_hdr *)m)->cap = 16;
	assert_int_equal(spanring_attach(&c, m, spanring_bytes(16)), 0);
	((struct spanring_hdr *)m)->magic = 1;
	assert_int_equal(spanring_attach(&c, m, spanring_bytes(16)), -1);
	assert_int_equal(spanring_init(&c, m, 3), -1);
	assert_int_equal(spanring_init(&c, m, 8), -1);
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
	void *m = mk(16, &r);

	r.cells[1].seq = 7; /* the last cell of the first claim: "ahead" for every try */
	assert_int_equal(spanring_push(&r, &rec), -1);
	assert_int_equal(r.hdr->dropped, 1);
	assert_int_equal(r.hdr->pushed, 0);
	assert_int_equal(spanring_bytes((uint64_t)1 << 61), 0);
	assert_int_equal(spanring_bytes(UINT64_MAX), 0);
	((struct spanring_hdr *)m)->cap = (uint64_t)1 << 61;
	assert_int_equal(spanring_attach(&r, m, spanring_bytes(16)), -1);
	free(m);
}

/* What a record's cells say is checked, never trusted: a count of cells
 * or a length that does not add up, or lengths inside the record that
 * reach past it, come out as a record of no protocol (counted bad by the
 * collector), and the ring goes on with the next; strings pointing past
 * the bytes written are dropped by spanrec_check, never read. */
static void test_hostile_cells(void **st)
{
	(void)st;
	struct spanring r;
	struct span_rec rec, out;
	void *m = mk(64, &r);
	struct spanring_cell *cell;
	uint64_t pos;

	for (int mode = 0; mode < 7; mode++) {
		fill(&rec, 5, 150, 0); /* 3 cells */
		pos = r.hdr->head;
		assert_int_equal(spanring_push(&r, &rec), 0);
		cell = &r.cells[pos & r.mask];
		switch (mode) {
		case 0:
			cell->cells = 0;
			break;
		case 1:
			cell->cells = 1000; /* past what a record takes */
			break;
		case 2:
			cell->cells = 2; /* does not hold its length */
			break;
		case 3:
			cell->len = 10; /* shorter than the fixed part */
			break;
		case 4: /* the record's own lengths reach past its cells */
			((struct span_rec *)(void *)cell->data)->str_used = SPANREC_STR_MAX;
			break;
		case 5:
			((struct span_rec *)(void *)cell->data)->nattrs = 200;
			break;
		case 6: /* a string pointing past the bytes written */
			((struct span_rec *)(void *)cell->data)->str_used = 0;
			cell->len -= 150 + 2;
			cell->cells = 2;
			r.hdr->head = pos + 2; /* (as a producer could write it) */
			break;
		}
		assert_int_equal(spanring_pop(&r, &out, 1, 1000, NULL), 1);
		if (mode == 6) {
			/* it adds up as a record, with strings past its end */
			assert_int_equal(out.str_used, 0);
			assert_true(spanrec_check(&out) > 0);
			assert_null(spanrec_get(&out, 2));
		} else {
			assert_int_equal(out.proto, 0);
			assert_int_equal(out.nattrs, 0);
		}
		/* cells left behind by a bad count are skipped past as
		 * claimed and never published */
		for (int i = 0; i < 3 && spanring_pop(&r, &out, 1 + (uint64_t)i * 10, 5, NULL) == 0;
		     i++)
			;
		while (r.hdr->tail < r.hdr->head)
			if (!spanring_pop(&r, &out, 1000, 5, NULL))
				spanring_pop(&r, &out, 2000, 5, NULL);
		/* and the ring goes on */
		fill(&rec, 6, 10, 0);
		assert_int_equal(spanring_push(&r, &rec), 0);
		assert_int_equal(spanring_pop(&r, &out, 1, 1000, NULL), 1);
		same(&rec, &out);
	}
	free(m);
}

static void test_dead_producer(void **st)
{
	(void)st;
	struct spanring r;
	struct span_rec rec, out;
	uint64_t skipped = 0;
	void *m = mk(16, &r);

	/* a producer claimed cell 0 and died before publishing */
	r.hdr->head = 1;
	fill(&rec, 7, 0, 0);
	assert_int_equal(spanring_push(&r, &rec), 0); /* goes to cells 1 and 2 */
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
	struct span_rec rec;
	uint32_t me = (uint32_t)(uintptr_t)arg;

	for (uint32_t i = 0; i < PER_THREAD; i++) {
		fill(&rec, me, (i * 13 + me * 50) % 400, i % 7 == 0 ? 40 : 0);
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
	struct span_rec out, want;
	void *m = mk(128, &shared);
	size_t got = 0;

	for (uintptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, producer, (void *)i);
	while (got < 4 * PER_THREAD) {
		if (!spanring_pop(&shared, &out, 1, UINT64_MAX, NULL))
			continue;
		assert_true(out.pid < 4);
		assert_int_equal(out.tid, next[out.pid]); /* per-producer order kept */
		/* and whole: what that producer wrote for that number */
		fill(&want, out.pid, (out.tid * 13 + out.pid * 50) % 400,
		     out.tid % 7 == 0 ? 40 : 0);
		want.tid = out.tid;
		same(&want, &out);
		next[out.pid]++;
		got++;
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(spanring_pop(&shared, &out, 1, UINT64_MAX, NULL), 0);
	free(m);
}

/* The consumer's wake: after spanring_arm(ahead), the push whose cells
 * reach the ahead-th cell says so (1), once; unarmed, every push says 0; a
 * rearm counts from where producers are, and never wakes for a full ring.
 * spanring_armed says whether that wake is still to come, within what the
 * consumer can wait for. */
static void test_arm_wake(void **st)
{
	(void)st;
	struct spanring r;
	struct span_rec rec, out;
	void *m = mk(16, &r);

	fill(&rec, 1, 0, 0); /* 2 cells each */
	for (int i = 0; i < 3; i++)
		assert_int_equal(spanring_push(&r, &rec), 0); /* never armed */
	assert_int_equal(spanring_armed(&r, 16), 0);
	spanring_arm(&r, 5);
	/* armed: 6 cells used, the wake at the 11th */
	assert_int_equal(spanring_armed(&r, 11), 1);
	assert_int_equal(spanring_armed(&r, 10), 0); /* not before the ring holds 10 */
	assert_int_equal(spanring_push(&r, &rec), 0);
	assert_int_equal(spanring_push(&r, &rec), 0);
	assert_int_equal(spanring_armed(&r, 16), 1);
	assert_int_equal(spanring_push(&r, &rec), 1); /* its cells hold the fifth */
	assert_int_equal(spanring_armed(&r, 16), 0);  /* woken: no more to come */
	assert_int_equal(spanring_push(&r, &rec), 0); /* once */
	for (int i = 0; i < 7; i++)
		assert_int_equal(spanring_pop(&r, &out, 1, 1000, NULL), 1);
	spanring_arm(&r, 4);
	assert_int_equal(spanring_push(&r, &rec), 0);
	assert_int_equal(spanring_push(&r, &rec), 1);
	spanring_arm(&r, 100); /* past the ring's room: drops, no wake */
	assert_int_equal(spanring_armed(&r, 16), 0);
	for (int i = 0; i < 10; i++)
		assert_true(spanring_push(&r, &rec) <= 0);
	/* a hostile producer's wake_pos behind the consumer: not armed */
	r.hdr->wake_pos = r.hdr->tail - 1;
	assert_int_equal(spanring_armed(&r, 16), 0);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes_wrap),	  cmocka_unit_test(test_order_full),
	    cmocka_unit_test(test_attach),	  cmocka_unit_test(test_hostile_sequence),
	    cmocka_unit_test(test_hostile_cells), cmocka_unit_test(test_dead_producer),
	    cmocka_unit_test(test_threads),	  cmocka_unit_test(test_arm_wake)};
	return cmocka_run_group_tests_name("spanring", tests, NULL, NULL);
}

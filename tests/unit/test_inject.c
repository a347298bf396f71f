/*
 * Unit tests: HTTP/1's injection byte accounting, exhaustively. HTTP/1
 * inserts its field as one splice edit (replacing nothing) and pconn
 * accounts for it with splice.c, as for every protocol; the rules HTTP/1
 * must keep (DESIGN.md, "Injecting bytes") are stated here as
 * inject_account() and realised with the splice engine itself. A
 * simulated socket accepts K bytes of the first write (every K), then
 * everything; the app re-sends from what it was told. The wire must carry
 * the app's bytes with the injected field exactly once at offset P, and the
 * app must never be told more of its bytes left than really did.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "splice.h"

enum inject_state {
	INJECT_DONE,	/* the whole injected field left */
	INJECT_PENDING, /* part of it left: the rest is pending */
	INJECT_RETRY,	/* none of it left: inject again next write */
};

struct inject_result {
	size_t reported;    /* what the write call returns to the app */
	size_t pending_off; /* pending = injected[pending_off .. n) */
	enum inject_state state;
};

static const char field[64];

/* One edit (pos, 0, len) over a write of m app bytes, k accepted. */
static ssize_t settle_one(struct splice *s, size_t pos, size_t len, size_t m, size_t k)
{
	char app[64] = {0};
	struct iovec in = {app, m}, out[8];
	int applied;

	s->n = 0;
	assert_int_equal(splice_add(s, pos, 0, field, len), 0);
	assert_true(splice_iov(s, &in, 1, m, out, 8, &applied) >= 0);
	return splice_settle(s, applied, m, k);
}

/*
 * m app bytes, n injected at offset p (p <= m), k of m + n accepted:
 *   K >= P + N      report K - N: the app's bytes that left (done);
 *   P <= K < P + N  report P; the unsent tail of the field is pending,
 *                   sent before the app's next bytes;
 *   K < P           report K; nothing injected left yet: retried.
 */
static struct inject_result inject_account(size_t m, size_t p, size_t n, size_t k)
{
	struct splice s;
	ssize_t rep = settle_one(&s, p, n, m, k);
	struct inject_result r = {.reported = rep < 0 ? 0 : (size_t)rep};

	if (!s.n || (!s.e[0].len && !s.e[0].del)) {
		r.state = k >= p ? INJECT_DONE : INJECT_RETRY;
	} else if (s.e[0].pos == 0 && r.reported == p) {
		r.state = INJECT_PENDING;
		r.pending_off = n - s.e[0].len;
	} else {
		r.state = INJECT_RETRY;
	}
	return r;
}

/* A write while `pending` field bytes wait (an edit at offset 0): k of
 * pending + m accepted. What to report (-1: EAGAIN) and what stays. */
static ssize_t inject_account_pending(size_t pending, size_t m, size_t k, size_t *pending_left)
{
	struct splice s;
	ssize_t rep = settle_one(&s, 0, pending, m, k);

	*pending_left = s.n ? s.e[0].len : 0;
	return rep < 0 && !m ? 0 : rep;
}

struct sim {
	char wire[128];
	size_t wlen;
};

/* Offer buf; the socket takes min(k, len). */
static size_t sock_take(struct sim *s, const char *buf, size_t len, size_t k)
{
	size_t n = k < len ? k : len;

	memcpy(s->wire + s->wlen, buf, n);
	s->wlen += n;
	return n;
}

static void run_case(size_t m, size_t p, size_t n, size_t k0)
{
	const char app[] = "ABCDEFGHIJKLMNOP", inj[] = "0123456789";
	char expect[128], buf[128];
	struct sim s = {.wlen = 0};
	size_t off = 0, pending = 0, pend_from = 0, first = 1, inject_at = p;
	int injected = 0, guard = 0;

	memcpy(expect, app, p);
	memcpy(expect + p, inj, n);
	memcpy(expect + p + n, app + p, m - p);

	while (off < m && guard++ < 64) {
		size_t k = first ? k0 : 1000, len = 0;

		first = 0;
		if (pending) {
			size_t left;
			ssize_t rep;

			memcpy(buf, inj + pend_from, pending);
			memcpy(buf + pending, app + off, m - off);
			rep = inject_account_pending(
			    pending, m - off, sock_take(&s, buf, pending + m - off, k), &left);
			pend_from += pending - left;
			pending = left;
			if (rep < 0) {
				assert_true(left > 0); /* EAGAIN only while the socket is full */
				continue;
			}
			off += (size_t)rep;
			continue;
		}
		if (!injected && off <= inject_at) {
			size_t pp = inject_at - off;
			struct inject_result r;

			memcpy(buf, app + off, pp);
			memcpy(buf + pp, inj, n);
			memcpy(buf + pp + n, app + inject_at, m - inject_at);
			len = m - off + n;
			r = inject_account(m - off, pp, n, sock_take(&s, buf, len, k));
			/* never more of the app's bytes than really left */
			assert_true(off + r.reported <= m);
			off += r.reported;
			if (r.state == INJECT_DONE) {
				injected = 1;
			} else if (r.state == INJECT_PENDING) {
				injected = 1;
				pend_from = r.pending_off;
				pending = n - r.pending_off;
			}
			continue;
		}
		off += sock_take(&s, app + off, m - off, k);
	}
	/* flush a pending tail with nothing left of the app's */
	if (pending)
		sock_take(&s, inj + pend_from, pending, 1000);
	assert_int_equal(off, m);
	assert_int_equal(s.wlen, m + n);
	assert_memory_equal(s.wire, expect, m + n);
}

static void every_k(void **state)
{
	unsigned cases = 0;

	(void)state;
	for (size_t m = 1; m <= 12; m++)
		for (size_t p = 0; p <= m; p++)
			for (size_t n = 0; n <= 6; n++)
				for (size_t k = 0; k <= m + n; k++) {
					run_case(m, p, n, k);
					cases++;
				}
	assert_true(cases > 3000);
}

static void rules(void **state)
{
	struct inject_result r;
	size_t left;

	(void)state;
	/* M=10, P=4, N=5 */
	r = inject_account(10, 4, 5, 15); /* all of it */
	assert_int_equal(r.reported, 10);
	assert_int_equal(r.state, INJECT_DONE);
	r = inject_account(10, 4, 5, 11); /* K >= P + N */
	assert_int_equal(r.reported, 6);
	assert_int_equal(r.state, INJECT_DONE);
	r = inject_account(10, 4, 5, 6); /* inside the field */
	assert_int_equal(r.reported, 4);
	assert_int_equal(r.state, INJECT_PENDING);
	assert_int_equal(r.pending_off, 2);
	r = inject_account(10, 4, 5, 3); /* before it */
	assert_int_equal(r.reported, 3);
	assert_int_equal(r.state, INJECT_RETRY);
	/* pending prefix partly accepted: EAGAIN, never 0 for non-empty */
	assert_int_equal(inject_account_pending(3, 6, 2, &left), -1);
	assert_int_equal(left, 1);
	assert_int_equal(inject_account_pending(3, 6, 5, &left), 2);
	assert_int_equal(left, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rules),
	    cmocka_unit_test(every_k),
	};
	return cmocka_run_group_tests_name("inject", tests, NULL, NULL);
}

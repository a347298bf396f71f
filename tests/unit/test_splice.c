/*
 * Unit tests: stream rewriting (splice.c). A simulated socket accepts K
 * bytes of the first write (every K), then random amounts; the app
 * re-sends from what it was told. The wire must carry the app's bytes with
 * every edit applied exactly once, and the app must never be told more of
 * its bytes left than really did (or were replaced by edits that left).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "splice.h"

struct ed {
	size_t pos, del, len;
};

static const char APP[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef";
static const char OURS[] = "0123456789#$%&*+";

/* What the peer must receive: the app's m bytes with the edits applied. */
static size_t expected(const struct ed *e, int n, size_t m, char *out)
{
	size_t app = 0, w = 0;

	for (int i = 0; i < n; i++) {
		memcpy(out + w, APP + app, e[i].pos - app);
		w += e[i].pos - app;
		memcpy(out + w, OURS, e[i].len);
		w += e[i].len;
		app = e[i].pos + e[i].del;
	}
	memcpy(out + w, APP + app, m - app);
	return w + m - app;
}

static void run_case(const struct ed *eds, int n, size_t m, size_t k0, unsigned seed)
{
	char wire[256], want[256];
	size_t wlen = 0, off = 0, wantlen = expected(eds, n, m, want);
	struct splice s = {.n = 0};
	int first = 1, guard = 0;

	srand(seed);
	for (int i = 0; i < n; i++)
		assert_int_equal(splice_add(&s, eds[i].pos, eds[i].del, OURS, eds[i].len), 0);
	while ((off < m || s.n) && guard++ < 200) {
		struct iovec in = {(void *)(APP + off), m - off}, out[SPLICE_MAX * 2 + 2];
		int applied,
		    cnt = splice_iov(&s, &in, 1, m - off, out, SPLICE_MAX * 2 + 2, &applied);
		size_t total = splice_wire_len(&s, applied, m - off), k, sent = 0;
		ssize_t rep;

		assert_true(cnt >= 0);
		k = first ? k0 : (size_t)rand() % (total + 1);
		if (!first && !k)
			k = 1;
		first = 0;
		if (k > total)
			k = total;
		for (int i = 0; i < cnt && sent < k; i++) {
			size_t take = out[i].iov_len < k - sent ? out[i].iov_len : k - sent;
			memcpy(wire + wlen, out[i].iov_base, take);
			wlen += take;
			sent += take;
		}
		rep = splice_settle(&s, applied, m - off, k);
		if (rep < 0) {
			assert_true(m - off > 0);
			continue; /* EAGAIN: the app retries the same bytes */
		}
		assert_true(off + (size_t)rep <= m);
		off += (size_t)rep;
		if (off == m && s.n) {
			/* only edits that replace nothing may be left after the app is done */
			for (int i = 0; i < s.n; i++)
				assert_int_equal(s.e[i].del, 0);
			break;
		}
	}
	/* a cut insertion at the very end stays for a later write: flush it */
	for (int i = 0; i < s.n; i++) {
		memcpy(wire + wlen, s.e[i].bytes, s.e[i].len);
		wlen += s.e[i].len;
	}
	assert_int_equal(off, m);
	assert_int_equal(wlen, wantlen);
	assert_memory_equal(wire, want, wantlen);
}

/* One edit of every shape at every offset, cut at every K. */
static void test_one_edit_every_k(void **state)
{
	unsigned cases = 0;

	(void)state;
	for (size_t m = 1; m <= 12; m++)
		for (size_t p = 0; p < m; p++)
			for (size_t del = 0; del <= m - p && del <= 4; del++)
				for (size_t len = 0; len <= 6; len++) {
					struct ed e = {p, del, len};
					size_t total = m - del + len;
					for (size_t k = 1; k <= total; k++, cases++)
						run_case(&e, 1, m, k, (unsigned)cases);
				}
	assert_true(cases > 5000);
}

/* The HTTP/2 shape: a 9-byte header replaced, a field inserted by
 * replacing the block's last byte, for two frames in one write. */
static void test_two_frames_every_k(void **state)
{
	const struct ed e[] = {{0, 9, 9}, {13, 1, 6}, {16, 9, 9}, {29, 1, 6}};

	(void)state;
	for (size_t k = 1; k <= 32 + 12; k++)
		for (unsigned seed = 0; seed < 20; seed++)
			run_case(e, 4, 32, k, seed);
}

static void test_random_edits(void **state)
{
	(void)state;
	for (unsigned round = 0; round < 20000; round++) {
		struct ed e[6];
		size_t m, pos = 0;
		int n = 0;

		srand(round);
		m = 1 + (size_t)rand() % 32;
		while (n < 6 && pos < m) {
			pos += (size_t)rand() % 6;
			if (pos >= m)
				break;
			e[n].pos = pos;
			e[n].del = 1 + (size_t)rand() % 3;
			if (pos + e[n].del > m)
				e[n].del = m - pos;
			e[n].len = (size_t)rand() % 10;
			pos += e[n].del;
			n++;
		}
		run_case(e, n, m, 1 + (size_t)rand() % (m + 40), round * 7 + 1);
	}
}

static void test_rules(void **state)
{
	struct splice s = {.n = 0};
	struct iovec in = {(void *)APP, 10}, out[8];
	int applied;

	(void)state;
	/* replace 2 bytes at 4 with 5: cut inside our bytes */
	splice_add(&s, 4, 2, OURS, 5);
	assert_int_equal(splice_iov(&s, &in, 1, 10, out, 8, &applied), 3);
	assert_int_equal(splice_wire_len(&s, applied, 10), 13);
	assert_int_equal(splice_settle(&s, applied, 10, 6), 4); /* told 4 */
	assert_int_equal(s.n, 1);
	assert_int_equal(s.e[0].pos, 0);
	assert_int_equal(s.e[0].del, 2);
	assert_int_equal(s.e[0].len, 3);
	/* the app re-sends from 4; 2 of our 3 left: nothing of its own moved */
	in = (struct iovec){(void *)(APP + 4), 6};
	splice_iov(&s, &in, 1, 6, out, 8, &applied);
	assert_int_equal(splice_settle(&s, applied, 6, 2), -1);
	assert_int_equal(s.e[0].len, 1);
	splice_iov(&s, &in, 1, 6, out, 8, &applied);
	assert_int_equal(splice_settle(&s, applied, 6, 5), 6); /* 1 ours + 4 app = 2 skipped + 4 */
	assert_int_equal(s.n, 0);
	/* out of order, or full */
	assert_int_equal(splice_add(&s, 5, 2, OURS, 1), 0);
	assert_int_equal(splice_add(&s, 6, 0, OURS, 1), -1);
	for (int i = 1; i < SPLICE_MAX; i++)
		assert_int_equal(splice_add(&s, 10 + (size_t)i, 0, OURS, 1), 0);
	assert_int_equal(splice_add(&s, 100, 0, OURS, 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rules),
	    cmocka_unit_test(test_one_edit_every_k),
	    cmocka_unit_test(test_two_frames_every_k),
	    cmocka_unit_test(test_random_edits),
	};
	return cmocka_run_group_tests_name("splice", tests, NULL, NULL);
}

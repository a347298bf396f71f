/*
 * Unit tests: inj_scan.h, the request-head scanner and SipHash the kernel
 * is to run for injection into Go programs. The scanner may say less than
 * the collector's HTTP/1 parser (it gives up), never something else:
 * whenever it calls a head whole, the parser (http1.c) with tp_parse must
 * read the same head, to the same byte, with the same parent. Checked on
 * hand-made heads, then on 300 000 generated and mutated ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>
#include <linux/types.h>

#include "http1.h"
#include "inj_scan.h"
#include "tp.h"

#include "inj_ref.h" /* (after http1.h and tp.h) */

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/* The scanner's word on b, checked against the collector's; 1 if whole. */
static int agree(const char *b, size_t n)
{
	struct inj_head h;
	struct ref r;

	if (inj_head_scan((const __u8 *)b, (__u32)n, &h))
		return 0;
	ref_read(b, n, &r);
	if (r.head_len != h.head_len || r.has_parent != h.has_parent)
		fail_msg("scanner: head %u parent %d; collector: head %zu parent %d: %.*s",
			 h.head_len, h.has_parent, r.head_len, r.has_parent, (int)n, b);
	if (h.has_parent && (memcmp(h.trace_id, r.tp.trace_id, 16) ||
			     memcmp(h.span_id, r.tp.span_id, 8) || h.flags != r.tp.flags))
		fail_msg("ids differ: %.*s", (int)n, b);
	return 1;
}

static int whole(const char *s)
{
	return agree(s, strlen(s));
}

static void heads(void **state)
{
	struct inj_head h;
	const char *go = "GET /users/42 HTTP/1.1\r\nHost: mid\r\nUser-Agent: Go-http-client/1.1\r\n"
			 "Traceparent: " TP "\r\nAccept-Encoding: gzip\r\n\r\n";

	(void)state;
	assert_true(whole(go));
	assert_int_equal(inj_head_scan((const __u8 *)go, (__u32)strlen(go), &h), 0);
	assert_int_equal(h.has_parent, 1);
	assert_int_equal(h.head_len, strlen(go));
	assert_int_equal(h.trace_id[0], 0x4b);
	assert_int_equal(h.span_id[7], 0xb7);
	assert_int_equal(h.flags, 1);
	/* a body after the head: the head's end is where it ends */
	assert_true(whole("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"));
	assert_true(whole("GET / HTTP/1.0\r\n\r\n"));
	assert_true(
	    whole("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
	/* fields the collector may refuse: given up */
	assert_false(whole("POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc"));
	assert_false(whole("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"));
	assert_false(whole("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"));
	assert_true(whole("GET / HTTP/1.1\r\ntraceparent:\t " TP " \t\r\n\r\n"));
	/* a later version: 55 characters, then '-' */
	assert_true(whole("GET / HTTP/1.1\r\ntraceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-"
			  "00f067aa0ba902b7-01-whatever\r\n\r\n"));
	/* whole, but no parent: none, two, or invalid ones */
	assert_true(whole("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
	assert_true(whole("GET / HTTP/1.1\r\ntraceparent: " TP "\r\nTRACEPARENT: " TP "\r\n\r\n"));
	assert_true(whole("GET / HTTP/1.1\r\ntraceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-"
			  "00f067aa0ba902b7-01\r\n\r\n"));
	assert_true(whole("GET / HTTP/1.1\r\ntraceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-"
			  "00f067aa0ba902b7-01\r\n\r\n"));
	assert_true(whole("GET / HTTP/1.1\r\ntraceparent: 00-00000000000000000000000000000000-"
			  "00f067aa0ba902b7-01\r\n\r\n"));
	assert_true(whole("GET / HTTP/1.1\r\ntraceparent: " TP "-x\r\n\r\n"));
	/* found by fuzz_inj_scan: the collector kept 70 bytes of a longer
	 * value, and blanks at the cut made it end after 55 (valid) */
	assert_true(whole("GET / HTTP/1.1\r\ntraceparent: 06-4bf92f3577b34da6a3ce929d0e0e4736-"
			  "00f067aa0ba902b7-01                              x\r\n\r\n"));
	/* given up: not whole, not strictly formed, not a request */
	assert_false(whole("GET / HTTP/1.1\r\nHost: a\r\n"));
	assert_false(whole("GET / HTTP/1.1\nHost: a\n\n"));
	assert_false(whole("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"));
	assert_false(whole("\r\nGET / HTTP/1.1\r\n\r\n"));
	assert_false(whole("HTTP/1.1 200 OK\r\n\r\n"));
	assert_false(whole("ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n"));
	assert_false(whole("GET / HTTP/2.0\r\n\r\n"));
	assert_false(whole("GET /\x01 HTTP/1.1\r\n\r\n"));
	assert_false(whole("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
	assert_false(whole("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"));
}

/* A head whole beyond INJ_SCAN_MAX is not whole to the scanner. */
static void long_head(void **state)
{
	char b[INJ_SCAN_MAX + 64];
	int n = snprintf(b, sizeof(b), "GET / HTTP/1.1\r\nX-Pad: %0450d\r\ntraceparent: %s\r\n\r\n",
			 0, TP);

	(void)state;
	assert_true(n > INJ_SCAN_MAX);
	assert_false(whole(b));
	assert_false(agree(b, INJ_SCAN_MAX));
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state % n);
}

static const char *pick(const char *const *v, size_t n)
{
	return v[rnd((uint32_t)n)];
}

#define PICK(v) pick(v, sizeof(v) / sizeof(v[0]))

/* A head from plausible pieces, then a few bytes changed, added or cut. */
static size_t generate(char *b, size_t cap)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "GET", "get", "G", ""};
	static const char *const targets[] = {"/", "/users/42", "*", "http://h/x?y=1", "/", "/a b"};
	static const char *const versions[] = {"HTTP/1.1", "HTTP/1.0", "HTTP/1.1",
					       "HTTP/1.1", "HTTP/1.x", "HTTP/2.0"};
	static const char *const names[] = {"traceparent", "Traceparent",    "TRACEPARENT",
					    "Host",	   "Content-Length", "traceparent ",
					    "x-trace",	   "tracestate",     "Traceparen"};
	static const char *const values[] = {
	    TP,
	    " " TP " ",
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
	    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
	    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01extra",
	    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
	    "3",
	    "",
	    "a\tb"};
	static const char *const eols[] = {"\r\n", "\r\n", "\r\n", "\r\n", "\r\n",
					   "\r\n", "\r\n", "\r\n", "\n",   "\r"};
	size_t n = 0;
	int lines = (int)rnd(5);

	n += (size_t)snprintf(b + n, cap - n, "%s %s %s%s", PICK(methods), PICK(targets),
			      PICK(versions), PICK(eols));
	for (int i = 0; i < lines && n < cap - 200; i++)
		n += (size_t)snprintf(b + n, cap - n, "%s:%s%s%s", PICK(names), rnd(3) ? " " : "",
				      PICK(values), PICK(eols));
	n += (size_t)snprintf(b + n, cap - n, "%s%s", PICK(eols), rnd(4) ? "" : "body\r\n\r\n");
	for (int m = (int)rnd(6) - 3; m > 0 && n > 1; m--) {
		size_t at = rnd((uint32_t)n);
		switch (rnd(3)) {
		case 0:
			b[at] = (char)rnd(256);
			break;
		case 1:
			n = at;
			break;
		default:
			if (n < cap) {
				memmove(b + at + 1, b + at, n - at);
				b[at] = "\r\n :-0a"[rnd(7)];
				n++;
			}
		}
	}
	return n;
}

static void generated(void **state)
{
	char b[INJ_SCAN_MAX];
	unsigned said = 0, parent = 0;

	(void)state;
	for (int i = 0; i < 300000; i++) {
		size_t n = generate(b, sizeof(b));
		struct inj_head h;

		if (agree(b, n)) {
			said++;
			inj_head_scan((const __u8 *)b, (__u32)n, &h);
			parent += h.has_parent;
		}
	}
	print_message("generated: %u of 300000 heads whole to the scanner, %u with a parent\n",
		      said, parent);
	/* the generator reaches both answers, many times */
	assert_true(said > 10000 && parent > 1000);
}

static void out_scan(void **state)
{
	char b[INJ_SCAN_ROOM];
	unsigned found = 0, with_tp = 0;

	(void)state;
	for (int i = 0; i < 300000; i++) {
		size_t n = generate(b, INJ_SCAN_MAX);
		uint32_t at = 0, tp = 0, rat = 0, rtp = 0;
		int r = inj_out_scan((const __u8 *)b, (__u32)n, &at, &tp),
		    want = out_ref(b, n, &rat, &rtp);

		if (r != want || (!r && (at != rat || tp != rtp)))
			fail_msg("out scan %d at %u tp %u, reference %d at %u tp %u: %.*s", r, at,
				 tp, want, rat, rtp, (int)n, b);
		found += !r;
		with_tp += !r && tp;
	}
	print_message("out scan: %u of 300000 heads found, %u with a traceparent\n", found,
		      with_tp);
	assert_true(found > 10000 && with_tp > 1000);
}

/* SipHash-2-4, the reference's test vector: key 00..0f, message 00..0f. */
static void siphash(void **state)
{
	const __u64 k[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

	(void)state;
	assert_true(inj_sip(k, 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL) ==
		    0x3f2acc7f57c29bdbULL);
	assert_true(inj_sip(k, 1, 2) != inj_sip(k, 2, 1));
}

/* A derived root's flags follow the sampler's rule (tp_ratio_key), and
 * TP_FLAG_RANDOM is set: the kernel's and the collector's word on it. */
static void root_flags(void **state)
{
	const __u64 k[2] = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
	const uint64_t q[] = {0, 1ULL << 50, 1ULL << 52, 3ULL << 51, 1ULL << 53};
	unsigned sampled = 0;

	(void)state;
	for (__u32 seq = 0; seq < 20000; seq++) {
		__u8 span[8], trace[16];

		inj_derive_ids(k, 42, seq, span, trace);
		for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
			__u8 f = inj_root_flags(trace, q[i]);

			assert_int_equal(f & TP_FLAG_RANDOM, TP_FLAG_RANDOM);
			assert_int_equal(f & TP_FLAG_SAMPLED, tp_ratio_key(trace) < q[i]);
			sampled += f & TP_FLAG_SAMPLED;
		}
	}
	/* both answers, and about 0 + 1/8 + 1/2 + 3/4 + 1 of them sampled */
	assert_true(sampled > 20000 * 2 && sampled < 20000 * 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(heads),	cmocka_unit_test(long_head), cmocka_unit_test(generated),
	    cmocka_unit_test(out_scan), cmocka_unit_test(siphash),   cmocka_unit_test(root_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

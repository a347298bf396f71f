/*
 * Unit tests: the streaming HTTP/1 parser (http1.c) — every message fed in
 * one piece and then in every two-piece split, so state carried across
 * reads is exercised; the injection head scanner.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "http1.h"

struct seen {
	int heads, msgs, error;
	struct http1_msg last;
};

static void feed_all(struct http1_parser *p, const char *b, size_t n, struct seen *s)
{
	while (n) {
		enum http1_event ev;
		size_t used = http1_feed(p, b, n, &ev);
		if (ev == HTTP1_HEAD_DONE) {
			s->heads++;
			s->last = p->msg;
		} else if (ev == HTTP1_MESSAGE_DONE) {
			s->msgs++;
		} else if (ev == HTTP1_ERROR) {
			s->error = 1;
			return;
		}
		b += used;
		n -= used;
	}
}

/* Parse whole and at every split point; every way must agree. */
static struct seen parse(enum http1_dir dir, const char *msg, int no_body)
{
	size_t n = strlen(msg);
	struct http1_parser p;
	struct seen whole = {0};

	http1_init(&p, dir);
	p.no_body = (uint8_t)no_body;
	feed_all(&p, msg, n, &whole);
	for (size_t k = 1; k < n; k++) {
		struct seen s = {0};
		http1_init(&p, dir);
		p.no_body = (uint8_t)no_body;
		feed_all(&p, msg, k, &s);
		feed_all(&p, msg + k, n - k, &s);
		assert_int_equal(s.heads, whole.heads);
		assert_int_equal(s.msgs, whole.msgs);
		assert_int_equal(s.error, whole.error);
	}
	return whole;
}

static void test_request_basic(void **st)
{
	(void)st;
	struct seen s =
	    parse(HTTP1_REQUEST,
		  "GET /a/b?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n"
		  "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
		  "TraceState: a=1\r\ntracestate: b=2\r\n\r\n",
		  0);
	assert_int_equal(s.heads, 1);
	assert_int_equal(s.msgs, 0); /* no body: the head is the message */
	assert_string_equal(s.last.method, "GET");
	assert_string_equal(s.last.target, "/a/b?q=1");
	assert_string_equal(s.last.host, "example.com:8080");
	assert_int_equal(s.last.traceparent_count, 1);
	assert_string_equal(s.last.traceparent,
			    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	assert_string_equal(s.last.tracestate, "a=1,b=2");
}

static void test_keepalive_pipelined_bodies(void **st)
{
	(void)st;
	struct seen s = parse(HTTP1_REQUEST,
			      "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
			      "POST /y HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
			      "5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n"
			      "\r\nGET /z HTTP/1.0\r\n\r\n",
			      0);
	assert_int_equal(s.heads, 3);
	assert_int_equal(s.msgs, 2);
	assert_int_equal(s.error, 0);
	assert_string_equal(s.last.target, "/z");
	assert_int_equal(s.last.minor, 0);
}

static void test_responses(void **st)
{
	(void)st;
	/* 100 Continue, then the final response with a body */
	struct seen s = parse(HTTP1_RESPONSE,
			      "HTTP/1.1 100 Continue\r\n\r\n"
			      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
			      "HTTP/1.1 204 No Content\r\n\r\n"
			      "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n",
			      0);
	assert_int_equal(s.heads, 4);
	assert_int_equal(s.error, 0);
	assert_int_equal(s.last.status, 304);
	/* HEAD: Content-Length describes a body that is not sent */
	s = parse(HTTP1_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 1);
	assert_int_equal(s.heads, 1);
	/* read to close */
	struct http1_parser p;
	struct seen c = {0};
	http1_init(&p, HTTP1_RESPONSE);
	feed_all(&p, "HTTP/1.0 200 OK\r\n\r\nbody bytes", 30, &c);
	assert_int_equal(c.heads, 1);
	assert_int_equal(http1_eof(&p), 1);
}

/* Body bytes passed by length alone (sendfile, kernel-side capture's
 * uncopied rest): a Content-Length body, a chunk's data up to its end; not
 * past it (the CRLF and the next size line must be seen), nor a head. */
static void test_skip(void **st)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
	struct http1_parser p;
	struct seen s = {0};
	enum http1_event ev;

	(void)st;
	http1_init(&p, HTTP1_RESPONSE);
	feed_all(&p, head, strlen(head), &s);
	feed_all(&p, "a\r\n0123", 7, &s);
	assert_int_equal(http1_skip(&p, 6, &ev), 0); /* the rest of the chunk */
	assert_int_equal(ev, HTTP1_NEED_MORE);
	feed_all(&p, "\r\n3\r\nabc\r\n0\r\n\r\n", 15, &s);
	assert_int_equal(s.heads, 1);
	assert_int_equal(s.msgs, 1);
	assert_int_equal(s.error, 0);
	/* and its CRLF, whole or in part: the next size line is seen */
	for (int crlf = 1; crlf <= 2; crlf++) {
		memset(&s, 0, sizeof(s));
		http1_init(&p, HTTP1_RESPONSE);
		feed_all(&p, head, strlen(head), &s);
		feed_all(&p, "a\r\n0123", 7, &s);
		assert_int_equal(http1_skip(&p, 6 + (uint64_t)crlf, &ev), 0);
		feed_all(&p, "\n0\r\n\r\n" + (crlf - 1), 7 - (size_t)crlf, &s);
		assert_int_equal(s.msgs, 1);
		assert_int_equal(s.error, 0);
	}
	/* past it: the next size line would go unseen */
	http1_init(&p, HTTP1_RESPONSE);
	feed_all(&p, head, strlen(head), &s);
	feed_all(&p, "a\r\n0123", 7, &s);
	assert_int_equal(http1_skip(&p, 9, &ev), -1);
	assert_int_equal(ev, HTTP1_ERROR);
	/* a size line is no body */
	http1_init(&p, HTTP1_RESPONSE);
	feed_all(&p, head, strlen(head), &s);
	assert_int_equal(http1_skip(&p, 1, &ev), -1);
	/* a Content-Length body to its end: the message is done */
	memset(&s, 0, sizeof(s));
	http1_init(&p, HTTP1_RESPONSE);
	feed_all(&p, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", 40, &s);
	assert_int_equal(http1_skip(&p, 7, &ev), 0);
	assert_int_equal(ev, HTTP1_MESSAGE_DONE);
	/* in a head */
	http1_init(&p, HTTP1_REQUEST);
	feed_all(&p, "GET / HTTP/1.1\r\n", 16, &s);
	assert_int_equal(http1_skip(&p, 3, &ev), -1);
}

static void test_errors(void **st)
{
	(void)st;
	static const char *const bad_req[] = {
	    "\x16\x03\x01\x05\r\n",
	    "get / HTTP/1.1\r\n\r\n",
	    "GET / HTTP/2.0\r\n\r\n",
	    "GET  HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
	    "GET / HTTP/1.1\r\n folded\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"};
	for (size_t i = 0; i < sizeof(bad_req) / sizeof(bad_req[0]); i++)
		assert_int_equal(parse(HTTP1_REQUEST, bad_req[i], 0).error, 1);
	assert_int_equal(parse(HTTP1_RESPONSE, "HTTP/1.1 20 OK\r\n\r\n", 0).error, 1);
	assert_int_equal(parse(HTTP1_RESPONSE, "SSH-2.0-x\r\n", 0).error, 1);
}

static void test_limits(void **st)
{
	(void)st;
	/* a long target is kept truncated; an oversized head is an error */
	static char big[HTTP1_HEAD_MAX + 200];
	struct http1_parser p;
	struct seen s = {0};
	size_t n;

	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', 2000);
	memcpy(big + 2005, " HTTP/1.1\r\n\r\n", 14);
	http1_init(&p, HTTP1_REQUEST);
	feed_all(&p, big, 2019, &s);
	assert_int_equal(s.heads, 1);
	assert_int_equal(s.last.target_truncated, 1);
	assert_int_equal(strlen(s.last.target), HTTP1_TARGET_MAX - 1);

	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
	while (n + 20 < sizeof(big) - 4)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Pad: aaaaaaaaaa\r\n");
	memset(&s, 0, sizeof(s));
	http1_init(&p, HTTP1_REQUEST);
	feed_all(&p, big, n, &s);
	assert_int_equal(s.error, 1);
}

/* Header names in any case, a word at a time (name_eq): found in any
 * case; a name that differs by one character is not one of them. */
static void test_header_names(void **st)
{
	(void)st;
	struct seen s = parse(HTTP1_REQUEST,
			      "POST /n HTTP/1.1\r\nHOST: h\r\nCONTENT-length: 3\r\n"
			      "cOnNeCtIoN: close\r\nTRACEPARENT: "
			      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\nabc",
			      0);
	assert_int_equal(s.msgs, 1);
	assert_string_equal(s.last.host, "h");
	assert_int_equal(s.last.content_length, 3);
	assert_int_equal(s.last.conn_close, 1);
	assert_int_equal(s.last.traceparent_count, 1);
	s = parse(HTTP1_REQUEST,
		  "POST /m HTTP/1.1\r\nContent_Length: 3\r\nContent-Lengtx: 4\r\n"
		  "Transfer-Encodinf: chunked\r\nHosu: q\r\nTraceparenu: x\r\n\r\n",
		  0);
	assert_int_equal(s.heads, 1);
	assert_int_equal(s.last.content_length, -1);
	assert_int_equal(s.last.chunked, 0);
	assert_string_equal(s.last.host, "");
	assert_int_equal(s.last.traceparent_count, 0);
}

/* Connection's options in one pass: close and upgrade found in any case,
 * among others, with blanks; a longer or shorter token is neither. Names
 * of 4 to 7 bytes that differ inside are not the ones obs reads. */
static void test_connection_tokens(void **st)
{
	(void)st;
	struct seen s = parse(
	    HTTP1_RESPONSE, "HTTP/1.1 101 Switching\r\nConnection: keep-alive, Upgrade\r\n\r\n", 0);
	assert_int_equal(s.last.upgrade, 1);
	assert_int_equal(s.last.conn_close, 0);
	s = parse(HTTP1_RESPONSE,
		  "HTTP/1.1 200 OK\r\nConnection: ,\t CLOSE ,\r\nContent-Length: 0\r\n\r\n", 0);
	assert_int_equal(s.last.conn_close, 1);
	assert_int_equal(s.last.upgrade, 0);
	s = parse(HTTP1_RESPONSE,
		  "HTTP/1.1 200 OK\r\nConnection: closed, upgrades, clos, upgrad\r\n"
		  "Content-Length: 0\r\n\r\n",
		  0);
	assert_int_equal(s.heads, 1);
	assert_int_equal(s.last.conn_close, 0);
	assert_int_equal(s.last.upgrade, 0);
	s = parse(HTTP1_REQUEST,
		  "GET / HTTP/1.1\r\nHxst: a\r\nHosx: b\r\nExpxct: 100-continue\r\n"
		  "Expecx: 100-continue\r\nConnectixn: close\r\n\r\n",
		  0);
	assert_int_equal(s.heads, 1);
	assert_string_equal(s.last.host, "");
	assert_int_equal(s.last.expect_continue, 0);
	assert_int_equal(s.last.conn_close, 0);
	s = parse(HTTP1_REQUEST, "GET / HTTP/1.1\r\nhOsT: a\r\nEXPECT: 100-Continue\r\n\r\n", 0);
	assert_string_equal(s.last.host, "a");
	assert_int_equal(s.last.expect_continue, 1);
}

/* Header names: every byte value at every place of a 14- and a 16-byte
 * name (and behind a byte of 0x80 or more) must give what RFC 9110's
 * tchar set says, and only content-length in any case is that header. */
static int tchar_ref(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int name_error(const char *name, size_t nl, struct seen *s)
{
	char msg[128];
	int len = snprintf(msg, sizeof(msg), "POST / HTTP/1.1\r\n%.*s: 0\r\n\r\n", (int)nl, name);
	struct http1_parser p;

	memset(s, 0, sizeof(*s));
	http1_init(&p, HTTP1_REQUEST);
	feed_all(&p, msg, (size_t)len, s);
	return s->error;
}

static void test_name_bytes(void **st)
{
	(void)st;
	static const char *const names[] = {"content-length", "X-Request-Idabcd"};
	for (int which = 0; which < 2; which++) {
		size_t nl = strlen(names[which]);
		for (size_t k = 0; k < nl; k++) {
			for (int b = 1; b < 256; b++) {
				char name[17];
				struct seen s;
				int valid = 1, is_cl = which == 0;
				if (b == '\r' || b == '\n' || b == ':')
					continue;
				memcpy(name, names[which], nl);
				name[k] = (char)b;
				for (size_t j = 0; j < nl; j++) {
					valid &= tchar_ref((unsigned char)name[j]);
					if (which == 0)
						is_cl &=
						    ((unsigned char)name[j] | 0x20) == names[0][j];
				}
				assert_int_equal(name_error(name, nl, &s), !valid);
				if (valid)
					assert_int_equal(s.last.content_length, is_cl ? 0 : -1);
				if (k + 1 < nl) { /* behind a byte of 0x80 or more: an error */
					name[k] = (char)0xc3;
					name[k + 1] = (char)b;
					assert_int_equal(name_error(name, nl, &s), 1);
				}
			}
		}
	}
}

static void test_scan_head(void **st)
{
	(void)st;
	const char *a = "GET / HTTP/1.1\r\nHo", *b = "st: x\r\nTraceParent: 1\r\n\r\nbody";
	struct iovec v[2] = {{(void *)a, strlen(a)}, {(void *)b, strlen(b)}};
	struct http1_head_scan s;

	assert_int_equal(http1_scan_head(v, 2, 4096, &s), 0);
	assert_int_equal(s.has_traceparent, 1);
	assert_int_equal(s.crlf, 1);
	assert_int_equal(s.insert_at, strlen(a) + strlen("st: x\r\nTraceParent: 1\r\n"));

	const char *c = "POST /x HTTP/1.1\nHost: y\ntracestate: a=1\n\n";
	struct iovec w = {(void *)c, strlen(c)};
	assert_int_equal(http1_scan_head(&w, 1, 4096, &s), 0);
	assert_int_equal(s.has_traceparent, 0);
	assert_int_equal(s.has_tracestate, 1);
	assert_int_equal(s.crlf, 0);
	assert_int_equal(s.insert_at, strlen(c) - 1);
	/* incomplete head, too long, not a request */
	const char *d = "GET / HTTP/1.1\r\nHost: y\r\n";
	struct iovec x = {(void *)d, strlen(d)};
	assert_int_equal(http1_scan_head(&x, 1, 4096, &s), -1);
	assert_int_equal(http1_scan_head(&w, 1, 10, &s), -1);
	const char *e = "HTTP/1.1 200 OK\r\n\r\n";
	struct iovec y = {(void *)e, strlen(e)};
	assert_int_equal(http1_scan_head(&y, 1, 4096, &s), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_basic),
	    cmocka_unit_test(test_keepalive_pipelined_bodies),
	    cmocka_unit_test(test_responses),
	    cmocka_unit_test(test_skip),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_header_names),
	    cmocka_unit_test(test_scan_head),
	    cmocka_unit_test(test_connection_tokens),
	    cmocka_unit_test(test_name_bytes),
	};
	return cmocka_run_group_tests_name("http1", tests, NULL, NULL);
}

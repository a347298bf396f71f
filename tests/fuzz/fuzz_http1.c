/*
 * libFuzzer: the HTTP/1 parser and the injection head scanner. Input is
 * fed in pieces whose sizes come from the first byte, in both directions;
 * the parser must never read or write out of bounds, must consume
 * progress on every call, and splitting must not change the events seen
 * nor what each head says (whole lines are read in place by a faster
 * path, cut ones gathered by the general one: the two must agree).
 * The scanner's insert offset must be the start of a blank line, and what
 * it finds must be what a plain line-by-line reading of the bytes finds
 * (ref_scan), however the bytes are cut into pieces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

/* What a head says, folded into one number. */
static uint64_t head_digest(uint64_t h, const struct http1_msg *m)
{
	const uint8_t *b;
	struct http1_msg c;

	/* the fields, not the bytes after each string's NUL */
	memset(&c, 0, sizeof(c));
	strcpy(c.method, m->method);
	strcpy(c.target, m->target);
	strcpy(c.host, m->host);
	strcpy(c.traceparent, m->traceparent);
	memcpy(c.tracestate, m->tracestate, m->tracestate_len);
	c.target_truncated = m->target_truncated, c.minor = m->minor, c.status = m->status;
	c.content_length = m->content_length, c.chunked = m->chunked;
	c.expect_continue = m->expect_continue, c.conn_close = m->conn_close;
	c.upgrade = m->upgrade, c.traceparent_count = m->traceparent_count;
	c.traceparent_len = m->traceparent_len, c.tracestate_bad = m->tracestate_bad;
	c.tracestate_len = m->tracestate_len;
	b = (const uint8_t *)&c;
	for (size_t i = 0; i < sizeof(c); i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static void run(enum http1_dir dir, const uint8_t *d, size_t n, size_t step, int *heads, int *err,
		uint64_t *digest)
{
	struct http1_parser p;

	http1_init(&p, dir);
	*heads = *err = 0;
	*digest = 14695981039346656037ULL;
	while (n) {
		size_t take = step < n ? step : n;
		const char *b = (const char *)d;
		size_t left = take;
		while (left) {
			enum http1_event ev;
			size_t used = http1_feed(&p, b, left, &ev);
			if (used == 0 || used > left)
				abort();
			if (ev == HTTP1_HEAD_DONE) {
				(*heads)++;
				if (strlen(p.msg.target) >= HTTP1_TARGET_MAX ||
				    strlen(p.msg.method) >= HTTP1_METHOD_MAX)
					abort();
				*digest = head_digest(*digest, &p.msg);
			}
			if (ev == HTTP1_ERROR) {
				*err = 1;
				return;
			}
			b += used;
			left -= used;
		}
		d += take;
		n -= take;
	}
	http1_eof(&p);
}

/* http1_scan_head's rules, line by line over one buffer: the request
 * line must look like one; a header whose first ':' follows the name
 * traceparent or tracestate (any case) is found; the first empty line
 * after the request line is where the field goes. -1: no such line
 * before the byte at limit. */
static int name_eq(const uint8_t *a, const char *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i]) != want[i])
			return 0;
	return 1;
}

static int ref_scan(const uint8_t *d, size_t n, size_t limit, struct http1_head_scan *o)
{
	size_t ls = 0;
	int bare = 0;

	o->has_traceparent = o->has_tracestate = 0;
	for (int line = 0; ls < n; line++) {
		const uint8_t *nl = memchr(d + ls, '\n', n - ls);
		size_t e, colon;
		int cr;

		if (!nl || (size_t)(nl - d) >= limit)
			return -1;
		e = (size_t)(nl - d);
		cr = e > ls && d[e - 1] == '\r';
		bare |= !cr;
		if (line == 0) {
			size_t k = e - ls + 1;

			if (!http1_looks_like_request(
				(const char *)d + ls,
				k < HTTP1_METHOD_MAX + 1 ? k : HTTP1_METHOD_MAX + 1))
				return -1;
		} else if (e - ls - (size_t)cr == 0) {
			o->insert_at = ls;
			o->crlf = !bare;
			return 0;
		} else {
			for (colon = ls; colon < e && d[colon] != ':'; colon++)
				;
			if (colon - ls == 11 && colon < e && name_eq(d + ls, "traceparent", 11))
				o->has_traceparent = 1;
			if (colon - ls == 10 && colon < e && name_eq(d + ls, "tracestate", 10))
				o->has_tracestate = 1;
		}
		ls = e + 1;
	}
	return -1;
}

static int same_scan(int r1, const struct http1_head_scan *a, int r2,
		     const struct http1_head_scan *b)
{
	return r1 == r2 && (r1 || (a->insert_at == b->insert_at && a->crlf == b->crlf &&
				   a->has_traceparent == b->has_traceparent &&
				   a->has_tracestate == b->has_tracestate));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int h1, e1, h2, e2;
	uint64_t d1, d2;
	size_t step;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	data++;
	size--;
	for (int dir = 0; dir < 2; dir++) {
		run((enum http1_dir)dir, data, size, size ? size : 1, &h1, &e1, &d1);
		run((enum http1_dir)dir, data, size, step, &h2, &e2, &d2);
		if (h1 != h2 || e1 != e2 || d1 != d2)
			abort();
	}
	struct iovec v[2] = {{(void *)data, size / 2},
			     {(void *)(data + size / 2), size - size / 2}};
	struct iovec whole = {(void *)data, size};
	struct http1_head_scan s, s1, r;
	size_t limit = size > 8 ? size - step : size; /* sometimes before the end */
	int rc = http1_scan_head(v, 2, limit, &s);

	if (!rc) {
		if (s.insert_at >= size ||
		    (data[s.insert_at] != '\r' && data[s.insert_at] != '\n') ||
		    data[s.insert_at - 1] != '\n')
			abort();
	}
	if (!same_scan(rc, &s, http1_scan_head(&whole, 1, limit, &s1), &s1) ||
	    !same_scan(rc, &s, ref_scan(data, size, limit, &r), &r))
		abort();
	return 0;
}

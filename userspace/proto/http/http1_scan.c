/*
 * http1_scan - the start of an outgoing request, before it is sent: is its
 * head whole, where does the blank line that ends it start (where a
 * field can go), and does it carry trace context already. Pure.
 */
#include "http1.h"

#include <string.h>

#include "http1_name.h"

int http1_looks_like_request(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && i < HTTP1_METHOD_MAX && buf[i] >= 'A' && buf[i] <= 'Z')
		i++;
	return i > 0 && i < len && buf[i] == ' ';
}

/* A head in one buffer (a client's usual write): line by line, each end
 * found by memchr, where the pieces' scan below looks at every byte: the
 * same answer (fuzz_http1 compares both with a plain reading), a fifth of
 * the instructions, on every request a client sends. */
static int scan_flat(const unsigned char *d, size_t n, size_t limit, struct http1_head_scan *out)
{
	size_t ls = 0;
	int bare_lf = 0;

	for (int line = 0; ls < n; line++) {
		const unsigned char *nl = memchr(d + ls, '\n', n - ls);
		size_t e, k;
		int cr;

		if (!nl || (size_t)(nl - d) >= limit)
			return -1;
		e = (size_t)(nl - d);
		cr = e > ls && d[e - 1] == '\r';
		bare_lf |= !cr;
		if (line == 0) {
			/* (its first bytes, its '\n' too when it is short) */
			k = e - ls + 1 < HTTP1_METHOD_MAX + 1 ? e - ls + 1 : HTTP1_METHOD_MAX + 1;
			if (!http1_looks_like_request((const char *)d + ls, k))
				return -1;
		} else if (e - ls == (size_t)cr) {
			out->insert_at = ls;
			out->crlf = !bare_lf;
			return 0;
		} else if (e - ls > 11 && d[ls + 11] == ':' &&
			   http1_name_eq((const char *)d + ls, "traceparent", 11)) {
			out->has_traceparent = 1;
		} else if (e - ls > 10 && d[ls + 10] == ':' &&
			   http1_name_eq((const char *)d + ls, "tracestate", 10)) {
			out->has_tracestate = 1;
		}
		ls = e + 1;
	}
	return -1;
}

int http1_scan_head(const struct iovec *iov, int iovcnt, size_t limit, struct http1_head_scan *out)
{
	out->has_traceparent = out->has_tracestate = 0;
	if (iovcnt == 1)
		return scan_flat(iov[0].iov_base, iov[0].iov_len, limit, out);
	/* Streaming over the iov pieces, so a head split across them is fine. */
	size_t off = 0, line_start = 0, nname = 0;
	int line = 0, saw_cr = 0, bare_lf = 0, in_name = 1;
	char first[HTTP1_METHOD_MAX + 1], name[16];
	size_t nfirst = 0;

	for (int v = 0; v < iovcnt; v++) {
		const unsigned char *b = iov[v].iov_base;
		for (size_t j = 0; j < iov[v].iov_len; j++, off++) {
			unsigned char c = b[j];
			if (off >= limit)
				return -1;
			if (line == 0 && nfirst < sizeof(first))
				first[nfirst++] = (char)c;
			if (c == '\n') {
				size_t len = off - line_start - (saw_cr ? 1 : 0);
				if (!saw_cr)
					bare_lf = 1;
				if (line == 0 && !http1_looks_like_request(first, nfirst))
					return -1;
				if (line > 0 && len == 0) {
					out->insert_at = line_start;
					out->crlf = !bare_lf;
					return 0;
				}
				line++;
				line_start = off + 1;
				nname = 0;
				in_name = 1;
				saw_cr = 0;
				continue;
			}
			saw_cr = c == '\r';
			if (line == 0 || !in_name)
				continue;
			if (c == ':') {
				in_name = 0;
				if (nname == 11 && http1_name_eq(name, "traceparent", 11))
					out->has_traceparent = 1;
				else if (nname == 10 && http1_name_eq(name, "tracestate", 10))
					out->has_tracestate = 1;
			} else if (nname < sizeof(name)) {
				name[nname++] = (char)c;
			} else {
				in_name = 0;
			}
		}
	}
	return -1;
}

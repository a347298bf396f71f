/*
 * inj_ref.h - for the tests of inj_scan.h (unit test, fuzz target): what
 * the collector's HTTP/1 parser and tp_parse read from the same bytes.
 * The includer has included http1.h and tp.h (and string.h, strings.h).
 */
#ifndef OBS_TEST_INJ_REF_H
#define OBS_TEST_INJ_REF_H

/* What the collector reads: bytes to the head's end (0: none), its parent. */
struct ref {
	size_t head_len;
	int has_parent;
	struct tp_ctx tp;
};

static inline void ref_read(const char *b, size_t n, struct ref *r)
{
	static struct http1_parser p;
	size_t at = 0;

	memset(r, 0, sizeof(*r));
	http1_init(&p, HTTP1_REQUEST);
	while (at < n) {
		enum http1_event ev;

		at += http1_feed(&p, b + at, n - at, &ev);
		if (ev == HTTP1_ERROR)
			return;
		if (ev == HTTP1_HEAD_DONE) {
			r->head_len = at;
			r->has_parent =
			    p.msg.traceparent_count == 1 &&
			    tp_parse(p.msg.traceparent, p.msg.traceparent_len, &r->tp) == TP_OK;
			return;
		}
	}
}

/* inj_out_scan against a plain reading: the first blank line ends the
 * head, the first line ends " HTTP/1.d", a line starting "traceparent:"
 * in any case is one. */
static inline int out_ref(const char *b, size_t n, uint32_t *at, uint32_t *tp)
{
	const char *end = memmem(b, n, "\r\n\r\n", 4), *lf = memchr(b, '\n', n);

	if (!n || b[0] < 'A' || b[0] > 'Z' || !end || !lf || lf < b + 10 ||
	    memcmp(lf - 10, " HTTP/1.", 8) || lf[-2] < '0' || lf[-2] > '9' || lf[-1] != '\r' ||
	    end + 2 < lf)
		return -1;
	*at = (uint32_t)(end - b + 2);
	*tp = 0;
	for (const char *l = lf; l && l < end; l = memchr(l + 1, '\n', (size_t)(end - l)))
		*tp |= (size_t)(end + 4 - (l + 1)) > 12 && !strncasecmp(l + 1, "traceparent:", 12);
	return 0;
}

#endif

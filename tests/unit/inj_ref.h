/*
 * inj_ref.h - for the tests of inj_scan.h (unit test, fuzz target): what
 * the collector's HTTP/1 parser and tp_parse read from the same bytes.
 * The includer has included http1.h and tp.h.
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

#endif

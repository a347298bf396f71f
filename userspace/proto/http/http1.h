/*
 * http1 - a streaming, bounded HTTP/1.0/1.1 message parser (RFC 9112).
 * Pure: no I/O, no allocation. Shared by the shim, unit tests and fuzzers.
 *
 * The parser is fed the bytes of one direction of a connection in
 * whatever pieces the app reads or writes them, and reports events: the
 * end of a message head (method/target or status, and the few headers obs
 * needs) and the end of a whole message, so keep-alive and pipelined
 * messages are delimited. It keeps at most one line (HTTP1_LINE_MAX) and
 * gives up (HTTP1_ERROR) on anything it does not understand or on a head
 * longer than HTTP1_HEAD_MAX: the caller then stops watching the
 * connection. It never changes the bytes.
 */
#ifndef OBS_HTTP1_H
#define OBS_HTTP1_H
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tp.h"

#define HTTP1_LINE_MAX	 1024	    /* longer lines are kept truncated */
#define HTTP1_HEAD_MAX	 (64 << 10) /* a longer head is not HTTP we track */
#define HTTP1_METHOD_MAX 16
#define HTTP1_TARGET_MAX 256
#define HTTP1_HOST_MAX	 128

enum http1_dir { HTTP1_REQUEST, HTTP1_RESPONSE };

enum http1_event {
	HTTP1_NEED_MORE,    /* all input consumed, nothing to report */
	HTTP1_HEAD_DONE,    /* msg is filled in */
	HTTP1_MESSAGE_DONE, /* the message (head and body) ended */
	HTTP1_ERROR,	    /* not (or no longer) HTTP/1 we can follow */
};

struct http1_msg {
	char method[HTTP1_METHOD_MAX];
	char target[HTTP1_TARGET_MAX]; /* request-target, truncated */
	uint8_t target_truncated;
	uint8_t minor; /* HTTP/1.x */
	int status;    /* responses */
	char host[HTTP1_HOST_MAX];
	int64_t content_length; /* -1 when absent */
	uint8_t chunked;
	uint8_t expect_continue;
	uint8_t conn_close;
	uint8_t upgrade;
	/* Trace context: raw values as received (validated by the caller). */
	uint8_t traceparent_count;
	char traceparent[TP_LEN + 16];
	uint8_t traceparent_len;
	uint8_t tracestate_bad; /* too long to keep: drop it */
	char tracestate[TP_TRACESTATE_MAX + 1];
	uint16_t tracestate_len;
};

struct http1_parser {
	uint8_t dir;
	uint8_t state;
	uint8_t line_over; /* the current line exceeded HTTP1_LINE_MAX */
	uint8_t no_body;   /* response to HEAD: set by the caller before it */
	uint32_t line_len;
	uint32_t head_bytes;
	uint64_t remaining; /* body or chunk bytes left */
	struct http1_msg msg;
	char line[HTTP1_LINE_MAX + 1]; /* + a NUL after the line: see parse_header */
};

void http1_init(struct http1_parser *p, enum http1_dir dir);
/*
 * Consume bytes up to and including the next event. Returns how many bytes
 * were consumed; the caller feeds the rest again after handling *ev.
 */
size_t http1_feed(struct http1_parser *p, const char *buf, size_t len, enum http1_event *ev);
/* The peer closed: 1 if that ends a message (a response read to close). */
int http1_eof(struct http1_parser *p);
/* 1 between messages (the next byte starts a new message). */
int http1_idle(const struct http1_parser *p);

/*
 * For injection: scan the start of an outgoing request held in iov for
 * its complete head. Succeeds (returns 0) only if the bytes start with a
 * request line, the whole head ends within the first `limit` bytes, and
 * gives the offset of the blank line that ends it (where a field can be
 * inserted), whether a traceparent field is already present, and whether
 * lines end in CRLF. Returns -1 otherwise: do not inject.
 */
struct http1_head_scan {
	size_t insert_at;
	int has_traceparent;
	int has_tracestate;
	int crlf;
};
int http1_scan_head(const struct iovec *iov, int iovcnt, size_t limit, struct http1_head_scan *out);

/* n body bytes went by unseen (sendfile; kernel-side capture's uncopied
 * rest); -1 (and HTTP1_ERROR) unless in a Content-Length body or a chunk's
 * data with at least n bytes left (and the CRLF after it). */
int http1_skip(struct http1_parser *p, uint64_t n, enum http1_event *ev);

/* Lowercase method check: 1 if the bytes start like "TOKEN SP". */
int http1_looks_like_request(const char *buf, size_t len);
/* 1 if the status code has no body (1xx, 204, 304). */
int http1_status_no_body(int status);

#endif

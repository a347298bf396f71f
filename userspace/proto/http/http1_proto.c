#include "http1_proto.h"

#include <string.h>

#include "http1.h"
#include "http_sem.h"
#include "pconn.h"
#include "registry.h"
#include "str.h"

#define H1_PIPELINE  8
#define H1_INJ_MAX   (TP_LEN + TP_TRACESTATE_MAX + 40)
#define H1_HEAD_SCAN (16 << 10) /* inject only if the head is within this */

struct h1_exchange {
	struct exchange x;
	uint16_t status;
	uint8_t head; /* HEAD request: the response has no body */
	uint8_t interim;
	uint16_t path_len; /* target's path: up to its query or fragment */
	char method[HTTP_METHOD_MAX];
	char target[HTTP_PATH_MAX];
	char host[HTTP_HOST_MAX];
};

/* What the connection's last record was made of, valid while pc->red_tag
 * names it (not 0): an unsampled exchange made of the same is counted
 * without a record (host->emit_again). */
struct h1_key {
	uint16_t status, path_len;
	char method[HTTP_METHOD_MAX];
	char path[HTTP_PATH_MAX];
	char host[HTTP_HOST_MAX];
};

struct h1_state {
	struct http1_parser in, out;
	uint64_t in_start, out_start; /* when the current message's first byte moved */
	/* requests waiting for their response, oldest first */
	struct h1_exchange q[H1_PIPELINE];
	unsigned qhead, qlen;
	/* client: the context prepared for the request being written */
	int next_valid;
	struct h1_exchange next;
	size_t ahead;	      /* client: bytes of the next write already fed (before sent) */
	char inj[H1_INJ_MAX]; /* the field(s) an armed edit inserts */
	struct h1_key last;
};

_Static_assert(sizeof(struct h1_state) <= PCONN_INLINE, "HTTP/1 state is kept inline");

static struct h1_state *st(struct proto_conn *pc)
{
	return pc->st;
}

/* ---- exchanges ------------------------------------------------------------ */

static struct h1_exchange *q_front(struct h1_state *s)
{
	return s->qlen ? &s->q[s->qhead % H1_PIPELINE] : NULL;
}

static struct h1_exchange *q_push(struct h1_state *s)
{
	if (s->qlen >= H1_PIPELINE)
		return NULL;
	return &s->q[(s->qhead + s->qlen++) % H1_PIPELINE];
}

/* e's record would be made of what the last one was (its attributes:
 * the header fields are the host's to compare). */
static int same_as_last(const struct proto_conn *pc, const struct h1_key *k,
			const struct h1_exchange *e)
{
	return pc->red_tag && k->status == e->status && k->path_len == e->path_len &&
	       !memcmp(k->path, e->target, e->path_len) && !strcmp(k->method, e->method) &&
	       !strcmp(k->host, e->host);
}

static void set_last(struct proto_conn *pc, struct h1_key *k, const struct h1_exchange *e)
{
	k->status = e->status;
	k->path_len = e->path_len;
	memcpy(k->path, e->target, e->path_len);
	str_copy(k->method, sizeof(k->method), e->method);
	str_copy(k->host, sizeof(k->host), e->host);
	pconn_red_rename(pc);
}

static void finish_front(struct proto_conn *pc, uint16_t error, uint64_t ts)
{
	struct h1_state *s = st(pc);
	struct h1_exchange *e = q_front(s);
	struct span_rec r;

	if (!e)
		return;
	if (same_as_last(pc, &s->last, e)) {
		if (pc->host->emit_again && !pc->host->emit_again(pc, &e->x, error, ts))
			goto done;
	} else {
		set_last(pc, &s->last, e);
	}
	spanrec_clear_attrs(&r);
	http_put_request_path(&r, e->method, e->target, e->path_len, e->host);
	if (e->status)
		spanrec_put_int(&r, HTTP_A_STATUS, e->status);
	pconn_emit(pc, &e->x, &r, error, ts);
done:
	s->qhead++;
	s->qlen--;
}

static void copy_head(struct h1_exchange *e, const struct http1_msg *m)
{
	str_copy(e->method, sizeof(e->method), m->method);
	str_copy(e->target, sizeof(e->target), m->target);
	e->path_len = (uint16_t)strcspn(e->target, "?#");
	str_copy(e->host, sizeof(e->host), m->host);
	e->head = !strcmp(m->method, "HEAD");
	e->status = 0;
	e->interim = 0;
}

/* Server: a request head was read. */
static void server_request(struct proto_conn *pc, const struct http1_msg *m)
{
	struct h1_state *s = st(pc);
	struct h1_exchange *e = q_push(s);
	struct proto_tp_in in = {m->traceparent, m->traceparent_len, m->traceparent_count,
				 m->tracestate,	 m->tracestate_len,  m->tracestate_bad};

	if (!e) {
		pc->dead = 1; /* deeper pipelining than we follow */
		return;
	}
	exchange_clear(&e->x);
	copy_head(e, m);
	e->x.start_ns = s->in_start;
	pc->host->server_begin(pc, &e->x, &in, 0);
}

/* Client: the context of the next request. */
static void prepare_next(struct proto_conn *pc)
{
	struct h1_state *s = st(pc);

	pc->host->client_begin(pc, &s->next.x, 0);
	s->next_valid = 1;
}

/* Client: a request head was written. */
static void client_request(struct proto_conn *pc, const struct http1_msg *m)
{
	struct h1_state *s = st(pc);
	struct h1_exchange *e = q_push(s);

	if (!e) {
		pc->dead = 1;
		return;
	}
	if (!s->next_valid)
		prepare_next(pc); /* not injected (head split across writes): still a span */
	e->x = s->next.x;
	s->next_valid = 0;
	copy_head(e, m);
	e->x.start_ns = s->out_start;
	if (m->traceparent_count == 1)
		pc->host->client_adopt(pc, &e->x, m->traceparent, m->traceparent_len);
}

/* ---- parsing ---------------------------------------------------------------- */

/* A parser event. Requests travel out on a client connection and in on a
 * server one; responses the other way, and pair with the oldest request. */
static void on_event(struct proto_conn *pc, enum proto_dir dir, enum http1_event ev, uint64_t ts)
{
	struct h1_state *s = st(pc);
	struct http1_msg *m = dir == PROTO_OUT ? &s->out.msg : &s->in.msg;
	struct h1_exchange *e;

	if (ev == HTTP1_ERROR) {
		pconn_count(pc, PROTO_COUNT_PARSE_ERROR);
		pc->dead = 1;
		return;
	}
	if (pc->side == (dir == PROTO_OUT ? PROTO_CLIENT : PROTO_SERVER)) {
		if (ev == HTTP1_HEAD_DONE) {
			if (dir == PROTO_OUT)
				client_request(pc, m);
			else
				server_request(pc, m);
		}
		return;
	}
	e = q_front(s);
	if (ev == HTTP1_HEAD_DONE) {
		if (!e)
			return;
		e->interim = m->status < 200;
		if (m->status == 101) {
			e->status = 101;
			finish_front(pc, SPAN_ERR_NONE, ts);
			pc->dead = 1; /* another protocol follows */
			return;
		}
		if (!e->interim)
			e->status = (uint16_t)m->status;
	} else if (ev == HTTP1_MESSAGE_DONE && e) {
		if (e->interim)
			e->interim = 0;
		else
			finish_front(pc, SPAN_ERR_NONE, ts);
	}
}

/* A message starts with a method (request) or "HTTP/" (response); blank
 * lines may precede it. Anything else is not HTTP/1 (TLS records,
 * HTTP/2, binary): stop quietly. */
static int plausible(int response, uint8_t b0)
{
	return b0 == '\r' || b0 == '\n' || (response ? b0 == 'H' : b0 >= 'A' && b0 <= 'Z');
}

/* Requests travel out from a client and in to a server. */
static int is_response(enum proto_side side, enum proto_dir dir)
{
	return (side == PROTO_CLIENT) == (dir == PROTO_IN);
}

static int h1_detect(enum proto_side side, enum proto_dir dir, const uint8_t *b, size_t n)
{
	return n && plausible(is_response(side, dir), b[0]);
}

static int h1_open(struct proto_conn *pc)
{
	struct h1_state *s = st(pc);
	int server = pc->side == PROTO_SERVER;

	http1_init(&s->in, server ? HTTP1_REQUEST : HTTP1_RESPONSE);
	http1_init(&s->out, server ? HTTP1_RESPONSE : HTTP1_REQUEST);
	s->qhead = s->qlen = 0;
	s->next_valid = 0;
	s->ahead = 0;
	return 0;
}

static int h1_feed(struct proto_conn *pc, enum proto_dir dir, const uint8_t *b, size_t n,
		   uint64_t ts)
{
	struct h1_state *s = st(pc);
	struct http1_parser *p = dir == PROTO_OUT ? &s->out : &s->in;
	int response = p->dir == HTTP1_RESPONSE;
	const char *buf = (const char *)b;

	while (n && !pc->dead) {
		enum http1_event ev;
		size_t used;

		if (http1_idle(p)) {
			if (!plausible(response, b[0]))
				return -1;
			if (dir == PROTO_OUT)
				s->out_start = ts;
			else
				s->in_start = ts;
			/* the response parser must know whether it answers a HEAD */
			if (response) {
				struct h1_exchange *e = q_front(s);
				p->no_body = e && e->head;
			}
		}
		used = http1_feed(p, buf, n, &ev);
		on_event(pc, dir, ev, ts);
		/* a head with no body after it (204, 304, HEAD, Content-Length:
		 * 0, a request without one) is the whole message */
		if (ev == HTTP1_HEAD_DONE && !pc->dead && http1_idle(p))
			on_event(pc, dir, HTTP1_MESSAGE_DONE, ts);
		buf += used;
		b += used;
		n -= used;
	}
	return 0;
}

static int h1_skip(struct proto_conn *pc, enum proto_dir dir, uint64_t n, uint64_t ts)
{
	struct h1_state *s = st(pc);
	enum http1_event ev;

	/* bytes nobody saw (a file sent with sendfile, what kernel-side
	 * capture did not copy): only a body's of known length can be */
	http1_skip(dir == PROTO_OUT ? &s->out : &s->in, n, &ev);
	on_event(pc, dir, ev, ts);
	return 0;
}

static void h1_eof(struct proto_conn *pc, uint64_t ts)
{
	struct h1_state *s = st(pc);

	if (!pc->dead && pc->side == PROTO_CLIENT && http1_eof(&s->in))
		finish_front(pc, SPAN_ERR_NONE, ts); /* response delimited by close */
	while (s->qlen)
		finish_front(pc, SPAN_ERR_CLOSED, ts);
}

/* ---- injection ------------------------------------------------------------------ */

/* The field(s) carrying the prepared context; 0 if they do not fit. */
static size_t build_injection(struct h1_state *s, const struct http1_head_scan *hs)
{
	const struct exchange *x = &s->next.x;
	size_t eol_len = hs->crlf ? 2 : 1, ts_len = 0, n = 0;
	const char *eol = hs->crlf ? "\r\n" : "\n";

	if (x->tracestate_len && !hs->has_tracestate)
		ts_len = strlen(x->tracestate);
	if (13 + TP_LEN + eol_len + (ts_len ? 12 + ts_len + eol_len : 0) >= sizeof(s->inj))
		return 0; /* inject nothing rather than half */
	memcpy(s->inj, "traceparent: ", 13);
	tp_format(&x->ctx, s->inj + 13); /* its NUL is overwritten next */
	n = 13 + TP_LEN;
	memcpy(s->inj + n, eol, eol_len);
	n += eol_len;
	if (ts_len) {
		memcpy(s->inj + n, "tracestate: ", 12);
		memcpy(s->inj + n + 12, x->tracestate, ts_len);
		n += 12 + ts_len;
		memcpy(s->inj + n, eol, eol_len);
		n += eol_len;
	}
	s->inj[n] = 0;
	return n;
}

/* At the start of an outgoing request: arm the insertion of its context
 * before the blank line that ends its head, if the head is whole here. */
static void client_arm(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t budget)
{
	struct h1_state *s = st(pc);
	struct http1_head_scan hs;
	size_t len;

	if (!http1_idle(&s->out) || s->ahead || s->next_valid || pc->sp.n)
		return;
	prepare_next(pc);
	if (http1_scan_head(iov, iovcnt, H1_HEAD_SCAN, &hs) || hs.has_traceparent)
		return; /* head not whole in this write, or the app propagates */
	len = build_injection(s, &hs);
	if (len && len <= budget && !pconn_edit(pc, hs.insert_at, 0, s->inj, len))
		pconn_count(pc, PROTO_COUNT_INJECTED);
}

/*
 * A client's request is fed before it is sent (the bytes from `ahead`
 * on: what the app re-presents after a short write is not fed twice):
 * another thread may read its response the moment it leaves. A server's
 * response is fed once it left, so its span ends with its last byte out.
 */
static size_t h1_inject(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t m,
			size_t budget)
{
	struct h1_state *s = st(pc);
	uint64_t now;
	size_t off = 0;

	if (pc->side != PROTO_CLIENT)
		return m;
	client_arm(pc, iov, iovcnt, budget);
	now = pc->host->now();
	for (int i = 0; i < iovcnt && !pc->dead; i++) {
		size_t len = iov[i].iov_len, from = s->ahead > off ? s->ahead - off : 0;
		if (from < len)
			pconn_feed(pc, PROTO_OUT, (const uint8_t *)iov[i].iov_base + from,
				   len - from, now);
		off += len;
	}
	if (m > s->ahead)
		s->ahead = m;
	return m;
}

static void h1_sent(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t n,
		    uint64_t ts)
{
	struct h1_state *s = st(pc);

	if (pc->side == PROTO_CLIENT)
		s->ahead = s->ahead > n ? s->ahead - n : 0;
	else
		pconn_feed_iov(pc, PROTO_OUT, iov, iovcnt, n, ts);
}

static void h1_describe(const struct span_rec *r, const struct proto_env *env, struct xspan *x)
{
	http_describe(r, env, x, NULL);
}

const struct proto_handler http1_handler = {
    .name = "http1",
    .id = PROTO_HTTP1,
    .state_size = sizeof(struct h1_state),
    .detect = h1_detect,
    .open = h1_open,
    .feed = h1_feed,
    .skip = h1_skip,
    .inject = h1_inject,
    .sent = h1_sent,
    .eof = h1_eof,
    .observe = http_observe,
    .describe = h1_describe,
    .families = http_families,
};

/*
 * conn - per-connection HTTP/1 tracking: parse what the app reads and
 * writes, pair requests with responses, keep the trace context, inject
 * traceparent into outgoing requests, and emit one span per exchange.
 * The connection states themselves (pool, locks, fd map) are conntab.c's.
 */
#include <errno.h>
#include <string.h>

#include "conn_priv.h"
#include "str.h"

/* ---- spans ------------------------------------------------------------ */

void conn_emit(const struct conn *c, const struct exchange *x, uint16_t error)
{
	struct span_rec r;

	if (!ctx_have_ring())
		return;
	memset(&r, 0, offsetof(struct span_rec, method));
	memcpy(r.trace_id, x->ctx.trace_id, 16);
	memcpy(r.span_id, x->ctx.span_id, 8);
	memcpy(r.parent_id, x->parent, 8);
	r.trace_flags = x->ctx.flags;
	r.kind = c->kind == CONN_SERVER ? SPAN_SERVER : SPAN_CLIENT;
	r.flags = x->flags | (c->tls ? SPAN_F_TLS : 0);
	r.status = x->status;
	r.error = error;
	r.peer_port = c->peer_port;
	r.proto = x->proto;
	r.rpc_status = x->rpc_status;
	r.req_msgs = x->req_msgs;
	r.resp_msgs = x->resp_msgs;
	r.h2_error = x->h2_error;
	r.pid = ctx_pid();
	r.pidns = ctx_pidns();
	r.start_ns = x->start_ns;
	r.end_ns = ctx_now();
	r.req_bytes = x->req_bytes;
	r.resp_bytes = x->resp_bytes;
	str_copy(r.method, sizeof(r.method), x->method);
	str_copy(r.path, sizeof(r.path), x->path);
	str_copy(r.host, sizeof(r.host), x->host);
	str_copy(r.peer, sizeof(r.peer), c->peer);
	r.tracestate_len = x->tracestate_len;
	memcpy(r.tracestate, x->tracestate, x->tracestate_len);
	r.tracestate[x->tracestate_len] = 0;
	ctx_emit(&r);
}

static struct exchange *q_front(struct conn *c)
{
	return c->qlen ? &c->q[c->qhead % CONN_PIPELINE] : NULL;
}

static struct exchange *q_push(struct conn *c)
{
	if (c->qlen >= CONN_PIPELINE)
		return NULL;
	return &c->q[(c->qhead + c->qlen++) % CONN_PIPELINE];
}

static void q_pop(struct conn *c)
{
	c->qhead++;
	c->qlen--;
}

static void finish_front(struct conn *c, uint16_t error)
{
	struct exchange *x = q_front(c);

	if (!x)
		return;
	conn_emit(c, x, error);
	if (c->kind == CONN_SERVER)
		ctx_clear_active(x);
	q_pop(c);
}

static void copy_head(struct exchange *x, const struct http1_msg *m)
{
	str_copy(x->method, sizeof(x->method), m->method);
	str_copy(x->path, sizeof(x->path), m->target);
	str_copy(x->host, sizeof(x->host), m->host);
	if (m->target_truncated)
		x->flags |= SPAN_F_PATH_TRUNC;
	x->head = !strcmp(m->method, "HEAD");
}

/* Server: a request head was read. */
static void server_request(struct conn *c, const struct http1_msg *m)
{
	struct exchange *x = q_push(c);

	if (!x) {
		c->dead = 1; /* deeper pipelining than we follow */
		return;
	}
	ctx_exchange_clear(x);
	copy_head(x, m);
	x->start_ns = c->in_start;
	ctx_server_context(x, m->traceparent, m->traceparent_len, m->traceparent_count,
			   m->tracestate, m->tracestate_len, m->tracestate_bad);
	/* the span outgoing calls on this thread become children of */
	ctx_set_active(x);
}

/* Client: the context of the next request, from the thread's server span. */
static void prepare_next(struct conn *c)
{
	ctx_prepare_client(&c->next);
	c->next_valid = 1;
}

/* Client: a request head was written. */
static void client_request(struct conn *c, const struct http1_msg *m)
{
	struct exchange *x = q_push(c);

	if (!x) {
		c->dead = 1;
		return;
	}
	if (!c->next_valid)
		prepare_next(c); /* not injected (head split across writes): still a span */
	*x = c->next;
	c->next_valid = 0;
	copy_head(x, m);
	x->start_ns = c->out_start;
	if (m->traceparent_count == 1)
		ctx_adopt_app_context(x, m->traceparent, m->traceparent_len);
}

/* ---- parsing ------------------------------------------------------------ */

/* A parser event. out: the app's writes, else its reads. Requests travel
 * out on a client connection and in on a server one; responses the other
 * way, and pair with the oldest request waiting. */
static void on_event(struct conn *c, int out, enum http1_event ev)
{
	struct http1_msg *m = out ? &c->out.msg : &c->in.msg;
	struct exchange *x;

	if (ev == HTTP1_ERROR) {
		ctx_count(CTX_PARSE_ERROR);
		c->dead = 1;
		return;
	}
	if (c->kind == (out ? CONN_CLIENT : CONN_SERVER)) {
		if (ev == HTTP1_HEAD_DONE) {
			if (out)
				client_request(c, m);
			else
				server_request(c, m);
		}
		return;
	}
	x = q_front(c);
	if (ev == HTTP1_HEAD_DONE) {
		if (!x)
			return;
		x->interim = m->status < 200;
		if (m->status == 101) {
			x->status = 101;
			finish_front(c, SPAN_ERR_NONE);
			c->dead = 1; /* another protocol follows */
			return;
		}
		if (!x->interim)
			x->status = (uint16_t)m->status;
	} else if (ev == HTTP1_MESSAGE_DONE && x) {
		if (x->interim)
			x->interim = 0;
		else
			finish_front(c, SPAN_ERR_NONE);
	}
}

/* The response parser must know whether the response answers a HEAD. */
static void set_no_body(struct conn *c, struct http1_parser *resp)
{
	struct exchange *x = q_front(c);

	if (http1_idle(resp))
		resp->no_body = x && x->head;
}

/*
 * At the very start of a connection, does it speak HTTP/2? The client
 * opens with the preface; the server's first frame is SETTINGS (and a
 * server may write it before it reads the client's preface).
 */
static int starts_h2(const struct conn *c, int out, const uint8_t *b, size_t n)
{
	int from_client = (c->kind == CONN_CLIENT) == !!out;

	if (c->h2 || !n || !http1_idle(&c->in) || !http1_idle(&c->out) || c->qlen)
		return 0; /* not at the start */
	if (from_client)
		return h2_is_preface(b, n);
	return n >= H2_FRAME_HDR && b[0] == 0 && b[3] == H2_SETTINGS && !(b[4] & H2_F_ACK);
}

static int switch_to_h2(struct conn *c)
{
	if (!(c->h2 = h2c_new((enum conn_kind)c->kind))) {
		ctx_count(CTX_UNTRACKED);
		c->dead = 1;
		return -1;
	}
	return 0;
}

static void feed(struct conn *c, int out, const char *buf, size_t n)
{
	struct http1_parser *p = out ? &c->out : &c->in;
	int is_resp = p->dir == HTTP1_RESPONSE;

	if (starts_h2(c, out, (const uint8_t *)buf, n) && switch_to_h2(c))
		return;
	if (c->h2) {
		if (h2c_feed(c, c->h2, out, (const uint8_t *)buf, n))
			c->dead = 1;
		return;
	}
	while (n && !c->dead) {
		enum http1_event ev;
		size_t used;

		if (http1_idle(p)) {
			/* not HTTP/1 at all (TLS records, HTTP/2 preface, binary): stop
			 * quietly; a request starts with a method, a response with H */
			unsigned char b0 = (unsigned char)buf[0];
			if (b0 != '\r' && b0 != '\n' &&
			    (is_resp ? b0 != 'H' : (b0 < 'A' || b0 > 'Z'))) {
				c->dead = 1;
				return;
			}
			if (out)
				c->out_start = ctx_now();
			else
				c->in_start = ctx_now();
			if (is_resp)
				set_no_body(c, p);
		}
		used = http1_feed(p, buf, n, &ev);
		on_event(c, out, ev);
		buf += used;
		n -= used;
	}
}

static void feed_iov(struct conn *c, int out, const struct iovec *iov, int iovcnt, size_t n)
{
	for (int i = 0; i < iovcnt && n && !c->dead; i++) {
		size_t take = iov[i].iov_len < n ? iov[i].iov_len : n;
		feed(c, out, iov[i].iov_base, take);
		n -= take;
	}
}

void conn_eof(struct conn *c)
{
	/* end the streams; the state itself is freed with the entry
	 * (conn_release), never under a write that is in the kernel */
	if (c->h2)
		h2c_eof(c, c->h2);
	if (!c->dead && c->kind == CONN_CLIENT && http1_eof(&c->in)) {
		finish_front(c, SPAN_ERR_NONE); /* response delimited by close */
	}
	while (c->qlen)
		finish_front(c, SPAN_ERR_CLOSED);
	c->dead = 1;
}

void conn_read_bytes(struct conn *c, const char *buf, size_t n)
{
	if (n == 0)
		conn_eof(c);
	else
		feed(c, 0, buf, n);
}

void conn_after_read(int fd, const struct iovec *iov, int iovcnt, ssize_t n)
{
	struct conn *c = conn_lookup(fd);
	int saved = errno;

	if (!c || c->tls || c->dead || n < 0)
		return;
	if (!conn_lock(c)) {
		c->dead = 1;
		return;
	}
	if (n == 0)
		conn_eof(c);
	else
		feed_iov(c, 0, iov, iovcnt, (size_t)n);
	conn_unlock(c);
	errno = saved;
}

void conn_after_sendfile(int fd, ssize_t n)
{
	struct conn *c = conn_lookup(fd);
	enum http1_event ev;

	if (!c || c->tls || c->dead || n <= 0)
		return;
	if (!conn_lock(c)) {
		c->dead = 1;
		return;
	}
	/* only body bytes can come from a file we do not see */
	if (c->h2) {
		c->dead = 1; /* HTTP/2 frames we did not see: the stream state is lost */
	} else {
		http1_skip(&c->out, (uint64_t)n, &ev);
		on_event(c, 1, ev);
	}
	conn_unlock(c);
}

/* ---- writes and injection ------------------------------------------------ */

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t m = 0;

	for (int i = 0; i < iovcnt; i++)
		m += iov[i].iov_len;
	return m;
}

/* Build the injected field(s) for the prepared client context. */
static void build_injection(struct conn *c, const struct http1_head_scan *s)
{
	char tp[TP_LEN + 1];
	const char *eol = s->crlf ? "\r\n" : "\n";
	size_t eol_len = s->crlf ? 2 : 1, want = 13 + TP_LEN + eol_len, n;

	tp_format(&c->next.ctx, tp);
	n = str_copy(c->inj, sizeof(c->inj), "traceparent: ");
	n = str_append(c->inj, sizeof(c->inj), n, tp);
	n = str_append(c->inj, sizeof(c->inj), n, eol);
	if (c->next.tracestate_len && !s->has_tracestate) {
		want += 12 + strlen(c->next.tracestate) + eol_len;
		n = str_append(c->inj, sizeof(c->inj), n, "tracestate: ");
		n = str_append(c->inj, sizeof(c->inj), n, c->next.tracestate);
		n = str_append(c->inj, sizeof(c->inj), n, eol);
	}
	c->inj_len = n == want ? n : 0; /* truncated: inject nothing rather than half */
}

/* At the start of an outgoing request: decide whether to inject. */
static void client_arm(struct conn *c, const struct iovec *iov, int iovcnt, size_t m)
{
	struct http1_head_scan s;

	if (c->next_valid || c->inj_armed)
		return;
	prepare_next(c);
	if (m > c->inject_max || http1_scan_head(iov, iovcnt, HEAD_SCAN_MAX, &s))
		return; /* head not whole in this write: no injection */
	if (s.has_traceparent)
		return; /* the app propagates: respect it */
	build_injection(c, &s);
	if (!c->inj_len)
		return;
	c->inj_armed = 1;
	c->inj_pos = s.insert_at;
}

/* iov with ins inserted at offset pos: returns the new count or -1. */
static int iov_insert(const struct iovec *iov, int iovcnt, size_t pos, const void *ins,
		      size_t inslen, struct iovec *out, int outmax)
{
	int n = 0, done = 0;

	for (int i = 0; i < iovcnt; i++) {
		size_t len = iov[i].iov_len;
		if (!done && pos <= len) {
			if (n + 3 > outmax)
				return -1;
			if (pos)
				out[n++] = (struct iovec){iov[i].iov_base, pos};
			out[n++] = (struct iovec){(void *)ins, inslen};
			if (len - pos)
				out[n++] = (struct iovec){(char *)iov[i].iov_base + pos, len - pos};
			done = 1;
			continue;
		}
		if (!done)
			pos -= len;
		if (n + 1 > outmax)
			return -1;
		out[n++] = iov[i];
	}
	return done ? n : -1;
}

ssize_t conn_write_via(struct conn *c, const struct iovec *iov, int iovcnt, conn_io_fn io,
		       void *arg)
{
	struct iovec v[IOV_SHIM_MAX + 3];
	size_t m = iov_total(iov, iovcnt);
	ssize_t k;
	int n;

	/* HTTP/2: queued edits go out even if the connection is dead */
	if (c->h2)
		return h2c_write(c, c->h2, iov, iovcnt, io, arg);
	if (m == 0 || (c->dead && !c->pend_len))
		return io(arg, iov, iovcnt);
	/* a client's first write: HTTP/2 is known before it, so its HEADERS
	 * frames can be injected into */
	if (!c->dead && c->kind == CONN_CLIENT &&
	    starts_h2(c, 1, iov[0].iov_base, iov[0].iov_len)) {
		if (switch_to_h2(c))
			return io(arg, iov, iovcnt);
		return h2c_write(c, c->h2, iov, iovcnt, io, arg);
	}
	if (c->pend_len) {
		size_t left;
		ssize_t rep;

		n = iov_insert(iov, iovcnt, 0, c->inj + c->pend_off, c->pend_len, v,
			       IOV_SHIM_MAX + 3);
		if (n < 0)
			n = 1; /* too many pieces: flush the prefix alone */
		k = io(arg, v, n);
		if (k < 0)
			return k;
		rep = inject_account_pending(c->pend_len, n == 1 ? 0 : m, (size_t)k, &left);
		c->pend_off += c->pend_len - left;
		c->pend_len = left;
		if (rep < 0 || (n == 1 && rep == 0)) {
			errno = EAGAIN;
			return -1;
		}
		feed_iov(c, 1, iov, iovcnt, (size_t)rep);
		return rep;
	}
	if (c->kind == CONN_CLIENT && http1_idle(&c->out))
		client_arm(c, iov, iovcnt, m);
	if (c->inj_armed && c->inj_pos <= m) {
		n = iov_insert(iov, iovcnt, c->inj_pos, c->inj, c->inj_len, v, IOV_SHIM_MAX + 3);
		if (n > 0) {
			struct inject_result ir;

			k = io(arg, v, n);
			if (k < 0)
				return k;
			ir = inject_account(m, c->inj_pos, c->inj_len, (size_t)k);
			if (ir.state == INJECT_RETRY) {
				c->inj_pos -= ir.reported;
			} else {
				c->inj_armed = 0;
				ctx_count(CTX_INJECTED);
				if (ir.state == INJECT_PENDING) {
					c->pend_off = ir.pending_off;
					c->pend_len = c->inj_len - ir.pending_off;
				}
			}
			feed_iov(c, 1, iov, iovcnt, ir.reported);
			return (ssize_t)ir.reported;
		}
		c->inj_armed = 0; /* cannot split this iov: send it as the app wrote it */
	}
	k = io(arg, iov, iovcnt);
	if (k > 0) {
		if (c->inj_armed)
			c->inj_pos -= (size_t)k;
		feed_iov(c, 1, iov, iovcnt, (size_t)k);
	}
	return k;
}

int conn_write(int fd, const struct iovec *iov, int iovcnt, conn_io_fn io, void *arg, ssize_t *ret)
{
	struct conn *c = conn_lookup(fd);
	int e;

	if (!c || c->tls)
		return 0;
	if (c->h2) {
		/* HTTP/2 must see every byte (and queued edits must go out) */
		if (c->dead && !h2c_pending(c->h2))
			return 0;
	} else if ((c->dead && !c->pend_len) || iovcnt > IOV_SHIM_MAX) {
		return 0;
	}
	if (!conn_lock(c)) {
		c->dead = 1;
		return 0;
	}
	*ret = conn_write_via(c, iov, iovcnt, io, arg);
	e = errno;
	conn_unlock(c);
	errno = e;
	return 1;
}

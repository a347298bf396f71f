/*
 * conn - per-connection HTTP/1 tracking: parse what the app reads and
 * writes, pair requests with responses, keep the trace context, inject
 * traceparent into outgoing requests, and emit one span per exchange.
 *
 * State lives in a fixed pool (CONN_POOL entries, mapped once, pages
 * touched only when used) indexed by fd. A connection the pool has no room
 * for is simply not followed. A per-connection try-lock keeps two threads
 * (or a signal handler) from touching one state at once: the loser passes
 * its bytes straight through and the connection stops being followed.
 */
#include <errno.h>
#include <sched.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>

#include "h2.h"
#include "inject.h"
#include "str.h"
#include "shim.h"

#define CONN_FD_MAX   65536
#define CONN_POOL     4096
#define CONN_PIPELINE 8
#define INJ_MAX	      (TP_LEN + TP_TRACESTATE_MAX + 40)
#define HEAD_SCAN_MAX (16 << 10) /* inject only if the head is within this */
#define TLS_WBUF_MAX  (64 << 10) /* a grown SSL_write, linearised */
#define IOV_SHIM_MAX  64

struct conn {
	uintptr_t lock;	 /* the holder thread's tag, 0 when free */
	uint8_t io_busy; /* HTTP/2 writes in the kernel with the lock released */
	uint8_t kind;
	uint8_t dead;
	uint8_t tls;
	uint8_t detached;
	int fd;
	uint32_t next_free;
	uint16_t peer_port;
	char peer[SPAN_ADDR_MAX];
	struct http1_parser in, out;
	uint64_t in_start, out_start; /* when the current message's first byte moved */
	/* requests waiting for their response, oldest first */
	struct exchange q[CONN_PIPELINE];
	unsigned qhead, qlen;
	/* client: the context prepared for the request being written */
	int next_valid;
	struct exchange next;
	/* injection: armed = inj[] goes in at app offset inj_pos */
	int inj_armed;
	size_t inj_pos, inj_len;
	size_t pend_off, pend_len; /* pending = inj[pend_off .. pend_off + pend_len) */
	size_t inject_max;	   /* largest write we will grow (TLS: a record buffer) */
	char inj[INJ_MAX];
	char *wbuf;	   /* TLS: linear buffer handed to SSL_write (stable address for retries) */
	struct h2conn *h2; /* the connection speaks HTTP/2 */
};

static struct conn *pool;
static uint64_t free_head; /* tag << 32 | (index + 1) */
static struct conn *by_fd[CONN_FD_MAX];

void conn_init(void)
{
	void *m = mmap(NULL, sizeof(struct conn) * CONN_POOL, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED)
		return;
	pool = m;
	for (uint32_t i = 0; i < CONN_POOL; i++)
		pool[i].next_free = i + 1 < CONN_POOL ? i + 2 : 0;
	free_head = 1;
}

static struct conn *pool_get(void)
{
	uint64_t h = __atomic_load_n(&free_head, __ATOMIC_ACQUIRE), n;
	struct conn *c;

	do {
		uint32_t idx = (uint32_t)h;
		if (!pool || !idx)
			return NULL;
		c = &pool[idx - 1];
		n = ((h >> 32) + 1) << 32 | __atomic_load_n(&c->next_free, __ATOMIC_RELAXED);
	} while (
	    !__atomic_compare_exchange_n(&free_head, &h, n, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return c;
}

static void pool_put(struct conn *c)
{
	uint32_t idx = (uint32_t)(c - pool) + 1;
	uint64_t h = __atomic_load_n(&free_head, __ATOMIC_ACQUIRE), n;

	do {
		__atomic_store_n(&c->next_free, (uint32_t)h, __ATOMIC_RELAXED);
		n = ((h >> 32) + 1) << 32 | idx;
	} while (
	    !__atomic_compare_exchange_n(&free_head, &h, n, 1, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
}

static __thread char lock_tag SHIM_TLS_MODEL; /* its address names this thread */

/* The lock word: this thread's tag, and the fork generation it was taken
 * in, so a lock a parent's other thread held at fork() is seen as orphaned
 * in the child (that thread does not exist there). */
static uintptr_t lock_self(void)
{
	return (uintptr_t)ctx_fork_gen() << 48 | ((uintptr_t)&lock_tag & ((1ULL << 48) - 1));
}

/*
 * HTTP/1 state is only locked with a try-lock: the loser passes its bytes
 * through and the connection stops being followed. HTTP/2 cannot lose a
 * byte (the HPACK tables would diverge), and gRPC reads and writes one
 * connection from different threads, so there the lock waits, which is
 * safe because no holder does I/O under it (conn_io_unlocked). The same
 * thread (a signal handler) never waits for itself, and a lock orphaned by
 * fork() is taken over (the connection then stops being followed: its
 * state may be half-updated).
 */
int conn_lock(struct conn *c)
{
	uintptr_t self = lock_self(), cur;

	for (;;) {
		cur = 0;
		if (__atomic_compare_exchange_n(&c->lock, &cur, self, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return 1;
		if (cur == self || !__atomic_load_n(&c->h2, __ATOMIC_RELAXED))
			return 0;
		if (cur >> 48 != self >> 48) { /* held across a fork: nobody will free it */
			if (__atomic_compare_exchange_n(&c->lock, &cur, self, 0, __ATOMIC_ACQUIRE,
							__ATOMIC_RELAXED)) {
				c->dead = 1;
				c->io_busy = 0;
				return 1;
			}
			continue;
		}
		sched_yield();
	}
}

void conn_unlock(struct conn *c)
{
	__atomic_store_n(&c->lock, 0, __ATOMIC_RELEASE);
}

ssize_t conn_io_unlocked(struct conn *c, conn_io_fn io, void *arg, const struct iovec *iov,
			 int iovcnt)
{
	ssize_t k;
	int e;

	if (c->io_busy)
		c->dead = 1; /* two writes at once on one HTTP/2 connection: stop following */
	c->io_busy++;	     /* while set, nobody frees c's state (release, EOF) */
	conn_unlock(c);
	k = io(arg, iov, iovcnt);
	e = errno;
	while (!conn_lock(c))
		sched_yield();
	c->io_busy--;
	errno = e;
	return k;
}

static void conn_reset(struct conn *c, enum conn_kind kind, int fd)
{
	char *wbuf = c->wbuf;

	memset(c, 0, offsetof(struct conn, q));
	c->kind = (uint8_t)kind;
	c->fd = fd;
	c->qhead = c->qlen = 0;
	c->next_valid = c->inj_armed = 0;
	c->pend_len = c->pend_off = c->inj_len = 0;
	c->inject_max = (size_t)-1;
	c->wbuf = wbuf;
	http1_init(&c->in, kind == CONN_SERVER ? HTTP1_REQUEST : HTTP1_RESPONSE);
	http1_init(&c->out, kind == CONN_SERVER ? HTTP1_RESPONSE : HTTP1_REQUEST);
}

static void fmt_peer(struct conn *c, const struct sockaddr *sa, socklen_t len)
{
	c->peer[0] = 0;
	c->peer_port = 0;
	if (!sa)
		return;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, c->peer, sizeof(c->peer));
		c->peer_port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, c->peer, sizeof(c->peer));
		c->peer_port = ntohs(in6->sin6_port);
	}
}

static int inet_family(const struct sockaddr *sa)
{
	return sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6);
}

/* With c locked and no longer reachable: end it and recycle the entry. */
static void conn_release(struct conn *c)
{
	if (c->io_busy) {
		c->dead = 1; /* a write is in the kernel: it still uses the state; leak it */
		conn_unlock(c);
		return;
	}
	conn_eof(c);
	if (c->h2) {
		h2c_free(c->h2);
		c->h2 = NULL;
	}
	pool_put(c);
}

static void release_fd(int fd)
{
	struct conn *c;

	if (fd < 0 || fd >= CONN_FD_MAX)
		return;
	c = __atomic_exchange_n(&by_fd[fd], NULL, __ATOMIC_ACQ_REL);
	/* busy in another thread (the app closes an fd it is using): leak
	 * the entry rather than recycle state someone is touching */
	if (c && conn_lock(c))
		conn_release(c);
}

static struct conn *track(int fd, enum conn_kind kind, const struct sockaddr *sa, socklen_t len)
{
	struct conn *c;

	if (fd < 0 || fd >= CONN_FD_MAX) {
		ctx_count(CTX_UNTRACKED);
		return NULL;
	}
	release_fd(fd);
	c = pool_get();
	if (!c) {
		ctx_count(CTX_UNTRACKED);
		return NULL;
	}
	conn_reset(c, kind, fd);
	fmt_peer(c, sa, len);
	__atomic_store_n(&by_fd[fd], c, __ATOMIC_RELEASE);
	return c;
}

void conn_on_socket(int fd)
{
	release_fd(fd);
}

void conn_on_accept(int fd, const struct sockaddr *peer, socklen_t len)
{
	if (peer && !inet_family(peer))
		return; /* unix sockets: not HTTP we report */
	track(fd, CONN_SERVER, peer, len);
}

void conn_on_connect(int fd, const struct sockaddr *peer, socklen_t len)
{
	if (!inet_family(peer))
		return;
	track(fd, CONN_CLIENT, peer, len);
}

int conn_on_connect_early(int fd, const struct sockaddr *peer, socklen_t len)
{
	if (!inet_family(peer) || fd < 0 || fd >= CONN_FD_MAX ||
	    __atomic_load_n(&by_fd[fd], __ATOMIC_ACQUIRE))
		return 0; /* a repeated connect (EALREADY, EISCONN) must not reset it */
	return track(fd, CONN_CLIENT, peer, len) != NULL;
}

void conn_on_close(int fd)
{
	release_fd(fd);
}

static struct conn *lookup(int fd)
{
	if (fd < 0 || fd >= CONN_FD_MAX)
		return NULL;
	return __atomic_load_n(&by_fd[fd], __ATOMIC_ACQUIRE);
}

/* ---- spans ------------------------------------------------------------ */

enum conn_kind conn_kind(const struct conn *c)
{
	return (enum conn_kind)c->kind;
}

void conn_kill(struct conn *c)
{
	c->dead = 1;
}

int conn_dead(const struct conn *c)
{
	return c->dead;
}

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
	struct conn *c = lookup(fd);
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
	struct conn *c = lookup(fd);
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
	struct conn *c = lookup(fd);
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

/* ---- TLS ----------------------------------------------------------------- */

enum conn_kind conn_claim_for_tls(int fd)
{
	struct conn *c = lookup(fd);

	if (!c)
		return CONN_NONE;
	c->tls = 1; /* raw bytes on this fd are ciphertext from now on */
	return (enum conn_kind)c->kind;
}

struct conn *conn_new_detached(enum conn_kind kind, int fd)
{
	struct conn *src = lookup(fd), *c = pool_get();

	if (!c) {
		ctx_count(CTX_UNTRACKED);
		return NULL;
	}
	conn_reset(c, kind, -1);
	c->detached = 1;
	c->inject_max = TLS_WBUF_MAX - INJ_MAX;
	if (src) {
		memcpy(c->peer, src->peer, sizeof(c->peer));
		c->peer_port = src->peer_port;
	}
	c->tls = 1;
	return c;
}

void conn_free_detached(struct conn *c)
{
	if (conn_lock(c))
		conn_release(c);
}

size_t conn_write_cap(const struct conn *c)
{
	return c->inject_max == (size_t)-1 ? (size_t)-1 : TLS_WBUF_MAX;
}

char *conn_tls_wbuf(struct conn *c, size_t need)
{
	if (need > TLS_WBUF_MAX)
		return NULL;
	if (!c->wbuf) {
		void *m = mmap(NULL, TLS_WBUF_MAX, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		c->wbuf = m;
	}
	return c->wbuf;
}

#include "pconn.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>

#include "str.h"

#define PCONN_IOV_MAX (PCONN_IOV_APP + 2 * SPLICE_MAX + 2)

void pconn_init(struct proto_conn *pc, const struct proto_host *host,
		const struct proto_handler *const *table, enum proto_side side)
{
	pc->host = host;
	pc->table = table;
	pc->h = NULL;
	pc->st = NULL;
	pc->side = (uint8_t)side;
	pc->tls = pc->dead = pc->st_alloced = 0;
	pc->peer_port = 0;
	pc->peer[0] = 0;
	pc->write_cap = (size_t)-1;
	pc->sp.n = 0;
	pc->red_memo.region = NULL;
	pc->red_tag = 0;
}

void pconn_release(struct proto_conn *pc)
{
	if (pc->st_alloced && pc->host->free)
		pc->host->free(pc->st, pc->h->state_size);
	pc->st = NULL;
	pc->st_alloced = 0;
	pc->dead = 1;
}

/* The first bytes in dir: which protocol is this? */
static void detect(struct proto_conn *pc, enum proto_dir dir, const uint8_t *b, size_t n)
{
	const struct proto_handler *h = NULL;

	for (size_t i = 0; pc->table[i] && !h; i++)
		if (pc->table[i]->detect &&
		    pc->table[i]->detect((enum proto_side)pc->side, dir, b, n))
			h = pc->table[i];
	if (!h) {
		pc->dead = 1; /* nothing we follow: its bytes pass untouched */
		return;
	}
	if (h->state_size <= sizeof(pc->inl)) {
		pc->st = pc->inl.bytes;
	} else if (pc->host->alloc && (pc->st = pc->host->alloc(h->state_size))) {
		pc->st_alloced = 1;
	} else {
		pconn_count(pc, PROTO_COUNT_UNTRACKED);
		pc->dead = 1;
		return;
	}
	pc->h = h;
	if (h->open && h->open(pc)) {
		pconn_count(pc, PROTO_COUNT_UNTRACKED);
		pc->dead = 1;
	}
}

void pconn_peer(struct proto_conn *c, const struct sockaddr *sa, socklen_t len)
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

void pconn_feed(struct proto_conn *pc, enum proto_dir dir, const uint8_t *b, size_t n, uint64_t ts)
{
	if (pc->dead || !n)
		return;
	if (!pc->h && (detect(pc, dir, b, n), pc->dead))
		return;
	if (pc->h->feed(pc, dir, b, n, ts))
		pc->dead = 1;
}

void pconn_feed_iov(struct proto_conn *pc, enum proto_dir dir, const struct iovec *iov, int iovcnt,
		    size_t n, uint64_t ts)
{
	for (int i = 0; i < iovcnt && n && !pc->dead; i++) {
		size_t take = iov[i].iov_len < n ? iov[i].iov_len : n;
		pconn_feed(pc, dir, iov[i].iov_base, take, ts);
		n -= take;
	}
}

void pconn_sent_feed(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t n,
		     uint64_t ts)
{
	pconn_feed_iov(pc, PROTO_OUT, iov, iovcnt, n, ts);
}

void pconn_skip(struct proto_conn *pc, enum proto_dir dir, uint64_t n, uint64_t ts)
{
	if (pc->dead || !n)
		return;
	/* bytes nobody saw: only a module that can account for them goes on */
	if (!pc->h || !pc->h->skip || pc->h->skip(pc, dir, n, ts))
		pc->dead = 1;
}

void pconn_eof(struct proto_conn *pc, uint64_t ts)
{
	/* the state itself is freed with the connection (pconn_release),
	 * never under a write that may still be in the kernel */
	if (pc->h && pc->h->eof && pc->st)
		pc->h->eof(pc, ts);
	pc->dead = 1;
}

int pconn_pending(const struct proto_conn *pc)
{
	return pc->sp.n > 0;
}

int pconn_multiplexed(const struct proto_conn *pc)
{
	const struct proto_handler *h = __atomic_load_n(&pc->h, __ATOMIC_RELAXED);

	return h && (h->flags & PROTO_F_MULTIPLEXED);
}

/* The first m bytes of iov, into out (room for iovcnt entries). */
static int iov_cut(const struct iovec *iov, int iovcnt, size_t m, struct iovec *out)
{
	int n = 0;

	for (int i = 0; i < iovcnt && m; i++) {
		out[n] = iov[i];
		if (out[n].iov_len > m)
			out[n].iov_len = m;
		m -= out[n++].iov_len;
	}
	return n;
}

ssize_t pconn_write(struct proto_conn *pc, const struct iovec *iov, int iovcnt, pconn_io_fn io,
		    void *arg)
{
	struct iovec v[PCONN_IOV_MAX], cut[PCONN_IOV_APP];
	size_t m = 0;
	ssize_t k, rep;
	int n, applied;

	if (iovcnt > PCONN_IOV_APP)
		iovcnt = PCONN_IOV_APP;
	for (int i = 0; i < iovcnt; i++)
		m += iov[i].iov_len;
	if (m == 0)
		return io(arg, iov, iovcnt);
	if (!pc->dead && !pc->h)
		detect(pc, PROTO_OUT, iov[0].iov_base, iov[0].iov_len);
	if (!pc->dead && pc->h->inject) {
		size_t cap = pc->write_cap, send;
		size_t budget = cap == (size_t)-1 ? (size_t)-1 : m < cap ? cap - m : 0;

		send = pc->h->inject(pc, iov, iovcnt, m, budget);
		if (send < m) {
			iovcnt = iov_cut(iov, iovcnt, send, cut);
			iov = cut;
			m = send;
		}
	}
	if (!pc->sp.n) {
		rep = io(arg, iov, iovcnt);
	} else {
		n = splice_iov(&pc->sp, iov, iovcnt, m, v, PCONN_IOV_MAX, &applied);
		if (n < 0) {
			errno = EAGAIN; /* cannot happen: PCONN_IOV_MAX covers every edit */
			return -1;
		}
		k = io(arg, v, n);
		if (k < 0)
			return k; /* nothing left: the edits stay as they are for the retry */
		rep = splice_settle(&pc->sp, applied, m, (size_t)k);
		if (rep < 0)
			errno = EAGAIN; /* only our bytes left: the socket is full */
	}
	if (rep > 0 && pc->h && pc->h->sent && pc->st)
		pc->h->sent(pc, iov, iovcnt, (size_t)rep, pc->host->now());
	return rep;
}

int pconn_edit(struct proto_conn *pc, size_t pos, size_t del, const char *bytes, size_t len)
{
	return splice_add(&pc->sp, pos, del, bytes, len);
}

void pconn_emit(struct proto_conn *pc, const struct exchange *x, struct span_rec *r, uint16_t error,
		uint64_t ts)
{
	uint8_t nattrs = r->nattrs;
	uint16_t str_used = r->str_used;

	/* the header goes to shared memory whole: no stale stack bytes */
	memset(r, 0, offsetof(struct span_rec, tracestate_len));
	r->nattrs = nattrs;
	r->str_used = str_used;
	memcpy(r->trace_id, x->ctx.trace_id, 16);
	memcpy(r->span_id, x->ctx.span_id, 8);
	memcpy(r->parent_id, x->parent, 8);
	r->trace_flags = x->ctx.flags;
	r->kind = pc->side == PROTO_SERVER ? SPAN_SERVER : SPAN_CLIENT;
	r->flags = (uint16_t)(x->flags | (pc->tls ? SPAN_F_TLS : 0));
	r->proto = pc->h->id;
	r->error = error;
	r->peer_port = pc->peer_port;
	r->start_ns = x->start_ns;
	r->end_ns = ts;
	str_copy(r->peer, sizeof(r->peer), pc->peer);
	r->tracestate_len = x->tracestate_len;
	memcpy(r->tracestate, x->tracestate, x->tracestate_len);
	r->tracestate[x->tracestate_len] = 0;
	pc->host->emit(pc, x, r);
}

void pconn_count(struct proto_conn *pc, enum proto_count what)
{
	if (pc->host->count)
		pc->host->count(pc, what);
}

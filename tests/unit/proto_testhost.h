/*
 * proto_testhost - a proto_host for unit tests: what a protocol module
 * asks of the source of its bytes, done simply and visibly. Ids come from
 * a counter, the clock ticks once per call, emitted records are kept in
 * order. Context follows the same rules as the shim: a server request is
 * the child of a valid incoming traceparent, a client request a new root
 * (or the child of the app's own traceparent).
 */
#ifndef OBS_PROTO_TESTHOST_H
#define OBS_PROTO_TESTHOST_H
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pconn.h"

#define TH_RECS 64

static struct {
	struct span_rec recs[TH_RECS];
	int nrec;
	int counts[4];
	uint64_t clock;
	unsigned ids;
} th;

static void th_reset(void)
{
	memset(&th, 0, sizeof(th));
	th.clock = 1000;
}

static void th_new_ids(struct tp_ctx *c, int root)
{
	th.ids++;
	if (root) {
		memset(c->trace_id, 0, 16);
		c->trace_id[0] = 0x7e;
		c->trace_id[15] = (uint8_t)th.ids;
		c->flags = TP_FLAG_SAMPLED;
	}
	memset(c->span_id, 0, 8);
	c->span_id[0] = 0x5b;
	c->span_id[7] = (uint8_t)th.ids;
}

static void th_child(struct exchange *x, const struct tp_ctx *parent)
{
	x->ctx = *parent;
	memcpy(x->parent, parent->span_id, 8);
	th_new_ids(&x->ctx, 0);
	x->flags |= SPAN_F_HAS_PARENT;
}

static void th_server_begin(struct proto_conn *pc, struct exchange *x, const struct proto_tp_in *in,
			    uint32_t stream)
{
	struct tp_ctx p;

	(void)pc, (void)stream;
	if (in->tp_count == 1 && !tp_parse(in->tp, in->tp_len, &p)) {
		th_child(x, &p);
		x->flags |= SPAN_F_REMOTE_PARENT;
	} else {
		th_new_ids(&x->ctx, 1);
	}
}

static void th_client_begin(struct proto_conn *pc, struct exchange *x, uint32_t stream)
{
	(void)pc, (void)stream;
	exchange_clear(x);
	th_new_ids(&x->ctx, 1);
}

static int th_client_adopt(struct proto_conn *pc, struct exchange *x, const char *tp, size_t len)
{
	struct tp_ctx p;

	(void)pc;
	if (tp_parse(tp, len, &p))
		return -1;
	x->flags = SPAN_F_APP_CONTEXT;
	th_child(x, &p);
	return 0;
}

static void th_emit(struct proto_conn *pc, const struct exchange *x, struct span_rec *r)
{
	(void)pc, (void)x;
	r->pid = 4242;
	if (th.nrec < TH_RECS)
		spanrec_copy(&th.recs[th.nrec++], r);
}

static void th_count(struct proto_conn *pc, enum proto_count what)
{
	(void)pc;
	th.counts[what]++;
}

static uint64_t th_now(void)
{
	return ++th.clock;
}

static void *th_alloc(size_t n)
{
	return malloc(n);
}

static void th_free(void *p, size_t n)
{
	(void)n;
	free(p);
}

static const struct proto_host th_host = {
    .server_begin = th_server_begin,
    .client_begin = th_client_begin,
    .client_adopt = th_client_adopt,
    .emit = th_emit,
    .count = th_count,
    .now = th_now,
    .alloc = th_alloc,
    .free = th_free,
};

/* A socket that takes at most `take` bytes per write (0: everything) and
 * keeps what it took; the next `eagain` writes fail with EAGAIN. */
struct th_wire {
	char b[8192];
	size_t n, take;
	int eagain;
};

static ssize_t th_io(void *arg, const struct iovec *iov, int iovcnt)
{
	struct th_wire *w = arg;
	size_t left = w->take ? w->take : (size_t)-1, got = 0;

	if (w->eagain > 0) {
		w->eagain--;
		errno = EAGAIN;
		return -1;
	}
	for (int i = 0; i < iovcnt && left; i++) {
		size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;
		if (w->n + k > sizeof(w->b))
			k = sizeof(w->b) - w->n;
		memcpy(w->b + w->n, iov[i].iov_base, k);
		w->n += k;
		got += k;
		left -= k;
	}
	return (ssize_t)got;
}

/* The app writes buf whole, re-presenting what it is told did not go. */
static void th_write_all(struct proto_conn *pc, struct th_wire *w, const char *buf, size_t n)
{
	size_t off = 0;
	int guard = 0;

	while (off < n && guard++ < 100000) {
		struct iovec v = {(char *)buf + off, n - off};
		ssize_t k = pconn_write(pc, &v, 1, th_io, w);
		if (k > 0)
			off += (size_t)k;
	}
}

#endif

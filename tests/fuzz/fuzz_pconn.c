/*
 * libFuzzer: a followed connection as the shim drives it (pconn.h with
 * every registered protocol), bytes both ways. The input is a script:
 * its first byte picks the side (server or client); then each step is an
 * op byte, a length and that many bytes: the app reads them (fed in), or
 * writes them through a socket that takes a fuzzed number of bytes per
 * call (short writes, 0 = EAGAIN), or the connection ends.
 *
 * Never harm the app: it is never told more of its bytes left than it
 * offered, every byte it is told left is on the wire in its order (HTTP/1
 * only adds fields: the app's bytes are a subsequence of the wire; HTTP/2
 * rewrites frame headers, so there the counts are checked), nothing
 * crashes, leaks or reads out of bounds (ASan/UBSan), and every record
 * written is well-formed (spanrec_check keeps every attribute).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pconn.h"
#include "registry.h"

static size_t nrecs;
static int bad_rec;

static void h_server_begin(struct proto_conn *pc, struct exchange *x, const struct proto_tp_in *in)
{
	struct tp_ctx p;

	(void)pc;
	if (in->tp_count == 1 && in->tp_len <= TP_LEN + 16 && !tp_parse(in->tp, in->tp_len, &p)) {
		x->ctx = p;
		memcpy(x->parent, p.span_id, 8);
		x->flags |= SPAN_F_HAS_PARENT;
	}
	x->ctx.span_id[0] ^= 1;
}

static void h_client_begin(struct proto_conn *pc, struct exchange *x)
{
	(void)pc;
	exchange_clear(x);
	memset(x->ctx.trace_id, 0x11, 16);
	memset(x->ctx.span_id, 0x22, 8);
	x->ctx.flags = 1;
}

static int h_client_adopt(struct proto_conn *pc, struct exchange *x, const char *tp, size_t len)
{
	(void)pc;
	return tp_parse(tp, len, &x->ctx) ? -1 : 0;
}

static void h_emit(struct proto_conn *pc, const struct exchange *x, struct span_rec *r)
{
	struct span_rec c;

	(void)pc, (void)x;
	spanrec_copy(&c, r);
	if (spanrec_check(&c))
		bad_rec = 1;
	nrecs++;
}

static uint64_t clk;
static uint64_t h_now(void)
{
	return ++clk;
}

static void *h_alloc(size_t n)
{
	return malloc(n);
}

static void h_free(void *p, size_t n)
{
	(void)n;
	free(p);
}

static const struct proto_host host = {
    .server_begin = h_server_begin,
    .client_begin = h_client_begin,
    .client_adopt = h_client_adopt,
    .emit = h_emit,
    .now = h_now,
    .alloc = h_alloc,
    .free = h_free,
};

struct wire {
	uint8_t b[1 << 16];
	size_t n;
	size_t take; /* per call */
};

static ssize_t io(void *arg, const struct iovec *iov, int iovcnt)
{
	struct wire *w = arg;
	size_t left = w->take, got = 0;

	for (int i = 0; i < iovcnt && left; i++) {
		size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;
		if (k > sizeof(w->b) - w->n)
			k = sizeof(w->b) - w->n;
		memcpy(w->b + w->n, iov[i].iov_base, k);
		w->n += k;
		got += k;
		left -= k;
	}
	return (ssize_t)got;
}

static struct proto_conn pc;
static struct wire w;
static uint8_t app[1 << 16]; /* the app's bytes told as sent, in order */

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	size_t napp = 0, off = 1;
	int multiplexed = 0;

	if (n < 1)
		return 0;
	pconn_init(&pc, &host, proto_handlers, d[0] & 1 ? PROTO_CLIENT : PROTO_SERVER);
	w.n = 0;
	nrecs = 0;
	bad_rec = 0;
	while (off + 2 <= n) {
		uint8_t op = d[off], len = d[off + 1];
		const uint8_t *p = d + off + 2;
		size_t m = len <= n - off - 2 ? len : n - off - 2;

		off += 2 + m;
		if ((op & 3) == 0) {
			pconn_feed(&pc, PROTO_IN, p, m, h_now());
		} else if ((op & 3) == 3) {
			pconn_eof(&pc, h_now());
		} else {
			/* the app writes p[0..m), re-presenting what did not go,
			 * on a socket taking op >> 2 bytes a call (0: EAGAIN) */
			size_t done = 0;
			int tries = 0;
			w.take = op >> 2;
			while (done < m && tries++ < 4) {
				struct iovec v[2] = {{(void *)(p + done), (m - done) / 2},
						     {(void *)(p + done + (m - done) / 2),
						      m - done - (m - done) / 2}};
				ssize_t k = pconn_write(&pc, v, 2, io, &w);
				if (k < 0)
					continue;
				if ((size_t)k > m - done)
					abort(); /* told more than it offered */
				memcpy(app + napp, p + done, (size_t)k);
				napp += (size_t)k;
				done += (size_t)k;
				if (w.take == 0)
					w.take = 64; /* the socket drains */
			}
		}
		multiplexed |= pconn_multiplexed(&pc);
	}
	pconn_eof(&pc, h_now());
	if (bad_rec)
		abort();
	if (w.n < napp && w.n < sizeof(w.b))
		abort(); /* bytes told as sent that never reached the wire */
	if (!multiplexed && w.n < sizeof(w.b)) {
		/* every byte the app was told left is on the wire, in order */
		size_t j = 0;
		for (size_t i = 0; i < w.n && j < napp; i++)
			if (w.b[i] == app[j])
				j++;
		if (j != napp)
			abort();
	}
	pconn_release(&pc);
	return 0;
}

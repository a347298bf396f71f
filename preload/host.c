/*
 * host - what the protocol modules ask of the shim (proto_host): the
 * context of each request, where finished records go, counters, memory.
 *
 * An outgoing request's parent, best signal first:
 *   1. a runtime helper's word (Node.js, Python asyncio: the incoming
 *      request whose code is writing, host_tell below), exact;
 *   2. the request the connection was opened for, for its first request
 *      (if no other server request began since it was opened);
 *   3. parent.c's thread and process rules;
 * and whatever these say, the app's own traceparent wins (client_adopt).
 * Where none can tell, the request starts a new trace marked
 * SPAN_F_PARENT_UNKNOWN: never a guess.
 *
 * Helpers talk through access(2) on a path that cannot exist
 * (OBS_CTX_PATH, below): harmless without the shim (ENOENT), no syscall
 * with it, callable from any runtime without a native module.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "conn_priv.h"
#include "link.h"
#include "parent.h"
#include "proto_red.h"

static struct conn *conn_of(struct proto_conn *pc)
{
	return (struct conn *)((char *)pc - offsetof(struct conn, pc));
}

static void host_server_begin(struct proto_conn *pc, struct exchange *x,
			      const struct proto_tp_in *in, uint32_t stream)
{
	ctx_server_context(x, in->tp, in->tp_len, in->tp_count, in->ts, in->ts_len, in->ts_bad);
	parent_server_begin(x, conn_of(pc)->fd, pc->peer_port, stream);
}

/* The helper's word for this request, if it gave one. */
static const struct conn_hint *hint_for(struct conn *c, uint32_t stream)
{
	if (stream) {
		for (int i = 0; i < CONN_H2HINTS; i++)
			if (c->h2hint[i].kind == HINT_KEY && c->h2hint[i].out_stream == stream)
				return &c->h2hint[i];
	}
	return c->hint.kind == HINT_KEY ? &c->hint : NULL;
}

static void host_client_begin(struct proto_conn *pc, struct exchange *x, uint32_t stream)
{
	struct conn *c = conn_of(pc);
	const struct conn_hint *h = hint_for(c, stream);
	struct parent_ref ref;
	const struct parent_ref *p = &ref;
	enum parent_how how;

	if (h)
		how = parent_for_key(h->fd, h->port, h->stream, &ref);
	else if (c->origin_valid && c->requests == 0 && parent_begun() == c->origin_begun)
		p = &c->origin, how = PARENT_FOUND;
	else
		how = parent_for_thread(&ref);
	c->requests++;
	if (how == PARENT_FOUND) {
		ctx_child_of_ref(x, &p->ctx, p->tracestate, p->tracestate_len);
		return;
	}
	ctx_new_root(x);
	if (how == PARENT_UNKNOWN)
		x->flags |= SPAN_F_PARENT_UNKNOWN;
}

static int host_client_adopt(struct proto_conn *pc, struct exchange *x, const char *tp, size_t len)
{
	(void)pc;
	return ctx_adopt(x, tp, len);
}

static void host_emit(struct proto_conn *pc, const struct exchange *x, struct span_rec *r)
{
	struct region *reg;

	if (pc->side == PROTO_SERVER)
		parent_server_end(x, conn_of(pc)->fd, pc->peer_port);
	if (!(reg = link_region()))
		return;
	if (r->flags & SPAN_F_PARENT_UNKNOWN)
		region_count(reg, REGION_CTX_UNKNOWN);
	if (pc->h->observe)
		proto_red_observe(pc->h, reg, link_routes(reg), r, &pc->red_memo, pc->red_tag);
	ctx_emit(r);
	link_check(r->end_ns);
}

/* host_emit for an exchange whose span is not exported (unsampled, or
 * spans off) and whose series the memo still holds, without the record:
 * the same counts, as host_emit and ctx_emit make them. */
static int host_emit_again(struct proto_conn *pc, const struct exchange *x, uint16_t error,
			   uint64_t ts)
{
	struct region *reg = link_region();
	int sampled = !!(x->ctx.flags & TP_FLAG_SAMPLED);
	struct proto_red_same same = {
	    .kind = pc->side == PROTO_SERVER ? SPAN_SERVER : SPAN_CLIENT,
	    .proto = pc->h->id,
	    .flags = (uint16_t)(x->flags | (pc->tls ? SPAN_F_TLS : 0)),
	    .error = error,
	    .peer_port = pc->peer_port,
	};

	if (reg) {
		if (sampled && __atomic_load_n(&reg->hdr->export_spans, __ATOMIC_ACQUIRE))
			return -1; /* a span: its record */
		if (proto_red_again(reg, link_routes(reg), &pc->red_memo, pc->red_tag, &same,
				    (double)(ts - x->start_ns) / 1e9))
			return -1;
	}
	if (pc->side == PROTO_SERVER)
		parent_server_end(x, conn_of(pc)->fd, pc->peer_port);
	if (!reg)
		return 0;
	if (same.flags & SPAN_F_PARENT_UNKNOWN)
		region_count(reg, REGION_CTX_UNKNOWN);
	region_count(reg, sampled ? REGION_SPANS_NOEXPORT : REGION_SPANS_UNSAMPLED);
	link_check(ts);
	return 0;
}

static void host_count(struct proto_conn *pc, enum proto_count what)
{
	(void)pc;
	ctx_count(what);
}

/* Large module state (HTTP/2's 390 KiB): address space only, pages cost
 * memory when touched. */
static void *host_alloc(size_t size)
{
	int e = errno;
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	errno = e;
	return m == MAP_FAILED ? NULL : m;
}

static void host_free(void *p, size_t size)
{
	int e = errno;

	munmap(p, size);
	errno = e;
}

const struct proto_host shim_host = {
    .server_begin = host_server_begin,
    .client_begin = host_client_begin,
    .client_adopt = host_client_adopt,
    .emit = host_emit,
    .emit_again = host_emit_again,
    .count = host_count,
    .now = ctx_now,
    .alloc = host_alloc,
    .free = host_free,
};

/* ---- runtime helpers ----------------------------------------------------- */

/* Parse n comma-separated integers at s; -1 if malformed or out of range. */
static int parse_ints(const char *s, long long *v, int n)
{
	for (int i = 0; i < n; i++) {
		char *end;
		if ((*s < '0' || *s > '9') && *s != '-')
			return -1;
		v[i] = strtoll(s, &end, 10);
		if (end == s || end - s > 12 || (i < n - 1 ? *end != ',' : *end != 0))
			return -1;
		s = end + 1;
	}
	return 0;
}

static void set_hint(struct conn_hint *h, long long fd, long long port, long long stream,
		     uint32_t out_stream)
{
	h->kind = fd < 0 ? HINT_NONE : HINT_KEY;
	h->fd = (int32_t)fd;
	h->port = (uint16_t)port;
	h->stream = (uint32_t)stream;
	h->out_stream = out_stream;
}

/*
 * A helper's message:
 *   H1                      a helper runs in this process
 *   C<out>,<in>,<port>,<s>  requests written on fd out from now on belong
 *                           to the incoming request on fd in (peer port,
 *                           HTTP/2 stream s or 0); in -1: the helper cannot
 *                           say (the rules of parent.c decide)
 *   S<out>,<os>,<in>,<port>,<s>  the same for HTTP/2 client stream os only
 */
int host_tell(const char *msg)
{
	long long v[5], *in;
	int h2 = msg[0] == 'S', ok;
	struct conn *c;

	if (!strcmp(msg, "H1")) {
		parent_helpers_on();
		return 0;
	}
	if ((msg[0] != 'C' && !h2) || parse_ints(msg + 1, v, h2 ? 5 : 4))
		return -1;
	in = v + (h2 ? 2 : 1); /* incoming fd, its peer port, its stream */
	ok = v[0] >= 0 && v[0] < CONN_FD_MAX && in[0] >= -1 && in[0] < CONN_FD_MAX && in[1] >= 0 &&
	     in[1] <= 0xffff && in[2] >= 0 && in[2] <= 0x7fffffffLL &&
	     (!h2 || (v[1] > 0 && v[1] <= 0x7fffffffLL));
	if (!ok || !(c = conn_lookup((int)v[0])) || !conn_lock(c))
		return -1;
	if (h2)
		set_hint(&c->h2hint[c->h2next++ % CONN_H2HINTS], in[0], in[1], in[2],
			 (uint32_t)v[1]);
	else
		set_hint(&c->hint, in[0], in[1], in[2], 0);
	conn_unlock(c);
	return 0;
}

/*
 * kcap_host.c - the protocols' host for kernel-side capture: whose child a
 * request is (the traceparent a server request carried; for an outgoing
 * one, the thread rule, or in a Go program the goroutine that made the
 * call), and where a finished record goes (the process's region).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/socket.h>

#include <linux/types.h>

#include "inj_scan.h"
#include "kcap_priv.h"
#include "log.h"
#include "monotime.h"
#include "proto_red.h"
#include "registry.h"

/* ---- trace context --------------------------------------------------------- */

static int sample_root(struct kproc *p, const uint8_t trace_id[16])
{
	uint32_t mode = __atomic_load_n(&p->reg.hdr->sample_mode, __ATOMIC_RELAXED);
	uint64_t q53 = __atomic_load_n(&p->reg.hdr->sample_q53, __ATOMIC_RELAXED);

	if (mode == SPANRING_SAMPLE_PROCESS)
		return 1; /* the program's own sampler is not known: always on */
	return tp_ratio_key(trace_id) < q53;
}

static void new_root(struct kproc *p, struct exchange *x)
{
	uint8_t rnd[24];

	exchange_clear(x);
	rng_fill(&p->k->rng, rnd, sizeof(rnd));
	tp_new_root(&x->ctx, rnd, 0);
	x->ctx.flags =
	    (uint8_t)((sample_root(p, x->ctx.trace_id) ? TP_FLAG_SAMPLED : 0) | TP_FLAG_RANDOM);
}

static void child_of(struct kproc *p, struct exchange *x, const struct tp_ctx *parent)
{
	uint8_t rnd[8];

	rng_fill(&p->k->rng, rnd, sizeof(rnd));
	tp_new_child(&x->ctx, parent, rnd); /* parent-based: its sampled flag */
	memcpy(x->parent, parent->span_id, 8);
	x->flags |= SPAN_F_HAS_PARENT;
}

/* --go-inject: the ids of a Go server span, derived from the connection
 * and the number of the read its request began in (the first request
 * that did: a second has its own, random), as the kernel derives them
 * (inject.bpf.h, inj_derive), so that what it sent out names this span.
 * 0 if not so. */
static int derived_ids(struct kproc *p, struct kconn *c, uint64_t start, struct exchange *x,
		       int root)
{
	uint32_t seq = 0;
	int found = 0;

	if (!p->go || !p->k->cfg.inject)
		return 0;
	for (unsigned i = 0; i < KCAP_READS && !found; i++)
		if (c->reads[i].ts == start && start) {
			seq = c->reads[i].seq;
			found = 1;
		}
	if (!found || (c->inj_used && c->inj_seq == seq))
		return 0;
	c->inj_used = 1;
	c->inj_seq = seq;
	inj_derive_ids(p->k->cfg.inj_key, c->conn, seq, x->ctx.span_id,
		       root ? x->ctx.trace_id : NULL);
	if (root)
		x->ctx.flags = inj_root_flags(x->ctx.trace_id, p->k->cfg.inj_q53);
	return 1;
}

static void host_server_begin(struct proto_conn *pc, struct exchange *x,
			      const struct proto_tp_in *in, uint32_t stream)
{
	struct kproc *p = conn_of(pc)->p;
	uint64_t start = x->start_ns; /* the module's: when the request began */
	struct tp_ctx parent;
	uint64_t who;

	exchange_clear(x);
	x->start_ns = start;
	if (in->tp_count == 1 && !tp_parse(in->tp, in->tp_len, &parent)) {
		child_of(p, x, &parent);
		derived_ids(p, conn_of(pc), start, x, 0);
		x->flags |= SPAN_F_REMOTE_PARENT;
		if (in->ts_len && !in->ts_bad && !tp_tracestate_valid(in->ts, in->ts_len)) {
			memcpy(x->tracestate, in->ts, in->ts_len);
			x->tracestate_len = (uint16_t)in->ts_len;
		}
		x->tracestate[x->tracestate_len] = 0;
	} else {
		new_root(p, x);
		x->start_ns = start;
		derived_ids(p, conn_of(pc), start, x, 1);
		if (in->tp_count)
			x->flags |= SPAN_F_BAD_TRACEPARENT;
	}
	/* Go: net/http serves a connection's requests on the goroutine that
	 * first read from it (its handler runs there); goroutines move
	 * between threads, so without one no thread says whose a request is */
	who = p->go ? conn_of(pc)->goid : p->k->cur->tid;
	if (!who)
		return;
	for (int i = 0; i < KCAP_THREADS; i++)
		if (!p->serving[i].who) {
			p->serving[i].who = who;
			p->serving[i].conn = conn_of(pc)->conn;
			p->serving[i].stream = stream;
			memcpy(p->serving[i].span, x->ctx.span_id, 8);
			p->serving[i].ctx = x->ctx;
			return;
		}
}

static void server_end(struct kproc *p, const struct exchange *x)
{
	for (int i = 0; i < KCAP_THREADS; i++)
		if (p->serving[i].who && !memcmp(p->serving[i].span, x->ctx.span_id, 8))
			p->serving[i].who = 0;
}

/* The context of the one request goroutine or thread who serves; NULL if
 * none, or more than one, or (threads) another thread serves one too. */
static const struct tp_ctx *served_by(struct kproc *p, uint64_t who)
{
	const struct tp_ctx *mine = NULL;
	int others = 0;

	for (int i = 0; who && i < KCAP_THREADS; i++) {
		if (!p->serving[i].who)
			continue;
		if (p->serving[i].who == who && !mine)
			mine = &p->serving[i].ctx;
		else if (p->serving[i].who == who || !p->go)
			others++; /* (a goroutine's other requests are not this call's) */
	}
	return others ? NULL : mine;
}

/* --go-inject: a call whose context the kernel sent out with its request
 * is that context's span, the child of the request it names. */
static void sent_context(struct kproc *p, struct exchange *x, const struct gorel_ctx *gc,
			 const struct tp_ctx *parent)
{
	exchange_clear(x);
	memcpy(x->ctx.trace_id, gc->trace_id, 16);
	memcpy(x->ctx.span_id, gc->span_id, 8);
	x->ctx.flags = gc->flags;
	memcpy(x->parent, gc->parent_id, 8);
	x->flags |= SPAN_F_HAS_PARENT;
	/* the goroutines' word and the kernel's differ (the request the
	 * kernel kept was not the one served): the kernel's went out */
	if (!parent || memcmp(parent->span_id, gc->parent_id, 8) ||
	    memcmp(parent->trace_id, gc->trace_id, 16))
		log_debug("pid %d: a call's sent context names another request than its "
			  "goroutine serves",
			  (int)p->tgid);
}

static void host_client_begin(struct proto_conn *pc, struct exchange *x, uint32_t stream)
{
	struct kproc *p = conn_of(pc)->p;
	const struct tp_ctx *parent;
	uint64_t who = p->k->cur->tid;
	struct gorel_ctx gc = {0};
	int serving = 0;

	/* Go: net/http's transport and grpc-go write a call from goroutines
	 * of their own: the goroutine whose call this connection's writer
	 * writes, from the uprobes' tables (the thread rule would be wrong:
	 * the writer is not the caller). A database/sql driver writes on the
	 * goroutine that called it: that one. */
	if (p->go && (pc->h->id == PROTO_HTTP1 || pc->h->id == PROTO_HTTP2))
		who = p->gr ? gorel_take_ctx(p->gr, p->k->cur->goid, &gc) : 0;
	else if (p->go)
		who = p->k->cur->goid;
	parent = served_by(p, who);
	if (gc.has) {
		sent_context(p, x, &gc, parent);
		return;
	}
	if (parent) {
		exchange_clear(x);
		child_of(p, x, parent);
		return;
	}
	new_root(p, x);
	for (int i = 0; !p->go && i < KCAP_THREADS && !serving; i++)
		serving = p->serving[i].who != 0;
	if (p->go || serving) /* serving, but which request cannot be told */
		x->flags |= SPAN_F_PARENT_UNKNOWN;
	/* grpc-go: the call's first send on its stream may be said after
	 * its frames were written; asked again when it ends (host_emit) */
	if (p->go && stream)
		x->host[0] = stream;
}

static int host_client_adopt(struct proto_conn *pc, struct exchange *x, const char *tp, size_t len)
{
	struct tp_ctx app;

	if (tp_parse(tp, len, &app))
		return -1;
	/* the program propagates itself (an OpenTelemetry SDK): its word */
	x->flags = 0;
	child_of(conn_of(pc)->p, x, &app);
	x->flags |= SPAN_F_APP_CONTEXT;
	x->tracestate_len = 0;
	x->tracestate[0] = 0;
	return 0;
}

/* A grpc-go call, at its end: the request its caller was serving when it
 * sent on its stream, if one. r becomes its child. */
static void grpc_call_parent(struct kproc *p, struct kconn *c, uint32_t stream, struct span_rec *r)
{
	struct tp_ctx parent;

	/* a client transport's first reader is its reader goroutine */
	if (!p->gr || !gorel_stream_take(p->gr, c->goid, stream, &parent))
		return;
	memcpy(r->trace_id, parent.trace_id, 16);
	memcpy(r->parent_id, parent.span_id, 8);
	r->trace_flags = parent.flags;
	r->flags = (uint16_t)((r->flags & ~SPAN_F_PARENT_UNKNOWN) | SPAN_F_HAS_PARENT);
}

static void host_emit(struct proto_conn *pc, const struct exchange *x, struct span_rec *r)
{
	struct kproc *p = conn_of(pc)->p;
	struct region *reg = &p->reg;

	if (pc->side == PROTO_SERVER)
		server_end(p, x);
	else if (x->host[0] && (r->flags & SPAN_F_PARENT_UNKNOWN))
		grpc_call_parent(p, conn_of(pc), (uint32_t)x->host[0], r);
	if (r->flags & SPAN_F_PARENT_UNKNOWN)
		region_count(reg, REGION_CTX_UNKNOWN);
	if (pc->h->observe)
		proto_red_observe(pc->h, reg, p->k->cfg.routes, r, &pc->red_memo, pc->red_tag);
	if (!(r->trace_flags & TP_FLAG_SAMPLED)) {
		region_count(reg, REGION_SPANS_UNSAMPLED);
		return;
	}
	if (!__atomic_load_n(&reg->hdr->export_spans, __ATOMIC_ACQUIRE)) {
		region_count(reg, REGION_SPANS_NOEXPORT);
		return;
	}
	r->pid = (uint32_t)p->tgid;
	r->pidns = 0;
	region_count(reg, REGION_SPANS_SAMPLED);
	/* as a shim does: a byte on the process's socket wakes the span drain */
	if (spanring_push(&reg->ring, r) > 0)
		(void)send(p->sock, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void host_count(struct proto_conn *pc, enum proto_count what)
{
	static const enum region_counter to[] = {
	    [PROTO_COUNT_UNTRACKED] = REGION_UNTRACKED,
	    [PROTO_COUNT_PARSE_ERROR] = REGION_PARSE_ERRORS,
	    [PROTO_COUNT_INJECTED] = REGION_INJECTED,
	    [PROTO_COUNT_INJECT_SKIPPED] = REGION_INJECT_SKIPPED,
	};

	if ((unsigned)what < sizeof(to) / sizeof(to[0]))
		region_count(&conn_of(pc)->p->reg, to[what]);
}

static void *host_alloc(size_t size)
{
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return m == MAP_FAILED ? NULL : m;
}

static void host_free(void *p, size_t size)
{
	munmap(p, size);
}

const struct proto_host kcap_host = {
    .server_begin = host_server_begin,
    .client_begin = host_client_begin,
    .client_adopt = host_client_adopt,
    .emit = host_emit,
    .count = host_count,
    .now = monotime_ns, /* asked around the writes the shim makes: capture makes none */
    .alloc = host_alloc,
    .free = host_free,
};

/* ---- Go's goroutines ---------------------------------------------------- */

/* Whether c may be the connection of the transport whose reader goroutine
 * is reader: that reader read it last, or no transport's reader has read
 * it yet. grpc-go's server handshakes a connection on the goroutine that
 * accepted it, and that goroutine's buffered read of the client's SETTINGS
 * also takes whatever came with them: a client that writes its first
 * calls with its preface has their HEADERS read there. */
static int grpc_conn_may_be(struct kproc *p, const struct kconn *c, uint64_t reader)
{
	return c->goid_last == reader || (c->goid_last && !gorel_is_reader(p->gr, c->goid_last));
}

/* grpc-go runs a server call's handler on a goroutine of its own, started
 * by the transport's reader once it read the call's headers: the request
 * on that transport's connection with that stream id is the handler's. */
static void grpc_handler(struct kproc *p, uint64_t st, uint32_t stream, uint64_t goid)
{
	uint64_t reader = gorel_reader_of(p->gr, st);
	int at = -1, n = 0;

	for (int i = 0; reader && i < KCAP_THREADS; i++) {
		struct kconn **c;

		if (!p->serving[i].who || p->serving[i].stream != stream)
			continue;
		c = kcap_conn_find(p->k, p->serving[i].conn);
		if (c && grpc_conn_may_be(p, *c, reader))
			at = i, n++;
	}
	/* the goroutine serves this call from now on, none before it (a
	 * stream worker takes call after call; the last one's answer may not
	 * be read yet): a call it makes must never be given to the last one,
	 * also when this one cannot be told */
	for (int i = 0; i < KCAP_THREADS; i++)
		if (p->serving[i].who == goid)
			p->serving[i].who = KCAP_WHO_NONE;
	if (n == 1) /* else which request is its cannot be told */
		p->serving[at].who = goid;
}

void kcap_go_event(struct kproc *p, const struct obs_cap_event *e)
{
	if (!p->gr && (p->gr = malloc(sizeof(*p->gr))))
		gorel_init(p->gr);
	if (!p->gr)
		return;
	switch (e->kind) {
	case OBS_CAP_GO_WRITER:
		gorel_writer(p->gr, e->conn, e->goid);
		break;
	case OBS_CAP_GO_CALL:
		if (e->caplen == sizeof(struct obs_go_inj)) { /* --go-inject: sent */
			const struct obs_go_inj *in = (const void *)e->data;
			struct gorel_ctx gc = {.flags = in->flags, .has = 1};

			memcpy(gc.trace_id, in->trace_id, 16);
			memcpy(gc.span_id, in->span_id, 8);
			memcpy(gc.parent_id, in->parent_id, 8);
			gorel_call_ctx(p->gr, e->conn, e->goid, &gc);
		} else {
			gorel_call(p->gr, e->conn, e->goid);
		}
		break;
	case OBS_CAP_GRPC_SRV_CONN:
	case OBS_CAP_GRPC_CLI_CONN:
		gorel_reader(p->gr, e->conn, e->goid);
		break;
	case OBS_CAP_GRPC_SRV_STREAM:
		grpc_handler(p, e->conn, e->len, e->goid);
		break;
	case OBS_CAP_GRPC_CLI_STREAM:
		gorel_stream(p->gr, e->conn, e->len, served_by(p, e->goid));
		break;
	default:
		break;
	}
}

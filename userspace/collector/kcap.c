#include "kcap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "gorel.h"
#include "log.h"
#include "pconn.h"
#include "proto_red.h"
#include "registry.h"
#include "rng.h"
#include "str.h"

#define KCAP_PROCS   256
#define KCAP_CONNS   4096 /* connections followed at once, over every process */
#define KCAP_THREADS 64	  /* server requests in flight per process (thread rule) */

struct kcap;

struct kproc {
	struct kcap *k;
	pid_t tgid;
	int go;
	int sock; /* our end of the pair: closed, the region is retired */
	struct region reg;
	void *mem;
	size_t len;
	struct gorel *gr; /* a Go program's client connections, once said */
	uint32_t go_lost; /* the kernel's count of Go events lost, as last seen */
	struct {
		uint64_t who; /* the thread, or a Go program's goroutine */
		uint8_t span[8];
		struct tp_ctx ctx;
	} serving[KCAP_THREADS];
};

struct kconn {
	uint64_t conn;
	uint32_t fd;
	uint32_t next_seq; /* the number the kernel gives its next chunk */
	uint32_t next_off; /* where the next chunk starts in its syscall's bytes */
	uint64_t goid;	   /* a Go server connection's goroutine: its first reader */
	struct kproc *p;
	struct proto_conn pc; /* last: its module state follows inline */
};

struct kcap {
	struct kcap_cfg cfg;
	struct kproc *procs[KCAP_PROCS];
	size_t nprocs;
	struct kconn *conns[KCAP_CONNS]; /* by conn id, linear probing */
	size_t nconns;
	const struct obs_cap_event *cur; /* the event being fed */
	struct rng rng;			 /* span and trace ids */
	pid_t go_pending[KCAP_PROCS];	 /* Go programs named before their first event */
	size_t ngo_pending;
	uint64_t refused; /* connections not followed: no room */
	unsigned warned;  /* regions that could not be made, said */
};

static struct kconn *conn_of(struct proto_conn *pc)
{
	return (struct kconn *)((char *)pc - offsetof(struct kconn, pc));
}

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

static void host_server_begin(struct proto_conn *pc, struct exchange *x,
			      const struct proto_tp_in *in, uint32_t stream)
{
	struct kproc *p = conn_of(pc)->p;
	uint64_t start = x->start_ns; /* the module's: when the request began */
	struct tp_ctx parent;
	uint64_t who;

	(void)stream;
	exchange_clear(x);
	x->start_ns = start;
	if (in->tp_count == 1 && !tp_parse(in->tp, in->tp_len, &parent)) {
		child_of(p, x, &parent);
		x->flags |= SPAN_F_REMOTE_PARENT;
		if (in->ts_len && !in->ts_bad && !tp_tracestate_valid(in->ts, in->ts_len)) {
			memcpy(x->tracestate, in->ts, in->ts_len);
			x->tracestate_len = (uint16_t)in->ts_len;
		}
		x->tracestate[x->tracestate_len] = 0;
	} else {
		new_root(p, x);
		x->start_ns = start;
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

static void host_client_begin(struct proto_conn *pc, struct exchange *x, uint32_t stream)
{
	struct kproc *p = conn_of(pc)->p;
	const struct tp_ctx *mine = NULL;
	uint64_t who = p->k->cur->tid;
	int others = 0;

	(void)stream;
	/* Go: the goroutine whose call this connection's writer writes (the
	 * thread rule would be wrong: the writer is not the caller); a call
	 * nothing names, or an HTTP/2 one, stays unknown */
	if (p->go)
		who = p->gr ? gorel_take(p->gr, p->k->cur->goid) : 0;
	for (int i = 0; who && i < KCAP_THREADS; i++) {
		if (!p->serving[i].who)
			continue;
		if (p->serving[i].who == who && !mine)
			mine = &p->serving[i].ctx;
		else if (p->serving[i].who == who || !p->go)
			others++; /* (a goroutine's other requests are not this call's) */
	}
	if (mine && !others) {
		exchange_clear(x);
		child_of(p, x, mine);
		return;
	}
	new_root(p, x);
	if (p->go || mine || others) /* serving, but which request cannot be told */
		x->flags |= SPAN_F_PARENT_UNKNOWN;
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

static void host_emit(struct proto_conn *pc, const struct exchange *x, struct span_rec *r)
{
	struct kproc *p = conn_of(pc)->p;
	struct region *reg = &p->reg;

	if (pc->side == PROTO_SERVER)
		server_end(p, x);
	if (r->flags & SPAN_F_PARENT_UNKNOWN)
		region_count(reg, REGION_CTX_UNKNOWN);
	if (pc->h->observe)
		proto_red_observe(pc->h, reg, p->k->cfg.routes, r);
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
	spanring_push(&reg->ring, r);
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

/* Only asked for around the writes the shim makes: capture makes none. */
static uint64_t host_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
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

static const struct proto_host kcap_host = {
    .server_begin = host_server_begin,
    .client_begin = host_client_begin,
    .client_adopt = host_client_adopt,
    .emit = host_emit,
    .count = host_count,
    .now = host_now,
    .alloc = host_alloc,
    .free = host_free,
};

/* ---- processes and their regions ------------------------------------------ */

static struct kproc *proc_find(struct kcap *k, pid_t tgid)
{
	for (size_t i = 0; i < k->nprocs; i++)
		if (k->procs[i]->tgid == tgid)
			return k->procs[i];
	return NULL;
}

/* Was tgid named a Go program before its first connection? (Taken off
 * the list: it is the process's own from now on.) */
static int go_pending_take(struct kcap *k, pid_t tgid)
{
	for (size_t i = 0; i < k->ngo_pending; i++)
		if (k->go_pending[i] == tgid) {
			k->go_pending[i] = k->go_pending[--k->ngo_pending];
			return 1;
		}
	return 0;
}

/* A region for tgid, written here and adopted as the process's own. */
static struct kproc *proc_new(struct kcap *k, pid_t tgid)
{
	size_t len = region_bytes(REGION_SERIES, REGION_RING);
	struct regions_who who = {.pid = (uint32_t)tgid};
	struct kproc *p;
	int fd = -1, sv[2] = {-1, -1};

	if (k->nprocs == KCAP_PROCS || !(p = calloc(1, sizeof(*p))))
		return NULL;
	p->k = k;
	p->tgid = tgid;
	p->mem = MAP_FAILED;
	fd = memfd_create("obs-kcap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)len) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) ||
	    (p->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED ||
	    region_init(&p->reg, p->mem, len, REGION_SERIES, REGION_RING, (uint32_t)tgid, 0) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		goto fail;
	p->len = len;
	k->cfg.who(k->cfg.who_ctx, tgid, &who);
	who.pid = (uint32_t)tgid;
	if (spans_adopt(k->cfg.spans, fd, sv[1], &who))
		goto fail;
	close(fd);
	p->sock = sv[0];
	p->go = go_pending_take(k, tgid);
	k->procs[k->nprocs++] = p;
	log_debug("kernel-side capture: pid %d (%s)%s", (int)tgid, who.service,
		  p->go ? ", a Go program" : "");
	return p;
fail:
	if (k->warned++ < 10) /* not for ever: every connection of it asks again */
		log_warn("capture_failed", "kernel-side capture of pid %d: no region: %s",
			 (int)tgid, strerror(errno));
	if (p->mem != MAP_FAILED)
		munmap(p->mem, len);
	if (fd >= 0)
		close(fd);
	if (sv[0] >= 0)
		close(sv[0]), close(sv[1]);
	free(p);
	return NULL;
}

void kcap_set_go(struct kcap *k, pid_t pid)
{
	struct kproc *p = proc_find(k, pid);

	if (p)
		p->go = 1;
	else if (k->ngo_pending < KCAP_PROCS)
		k->go_pending[k->ngo_pending++] = pid;
}

/* ---- connections ------------------------------------------------------------- */

static size_t slot_of(uint64_t conn)
{
	return (size_t)(conn * 0x9e3779b97f4a7c15ULL >> 52) & (KCAP_CONNS - 1);
}

static struct kconn **conn_find(struct kcap *k, uint64_t conn)
{
	for (size_t i = slot_of(conn), n = 0; n < KCAP_CONNS; i = (i + 1) & (KCAP_CONNS - 1), n++) {
		if (!k->conns[i])
			return NULL;
		if (k->conns[i]->conn == conn)
			return &k->conns[i];
	}
	return NULL;
}

/* Remove at a slot, moving later entries of the run back (no tombstones). */
static void conn_remove(struct kcap *k, struct kconn **at)
{
	size_t i = (size_t)(at - k->conns), j = i;

	k->conns[i] = NULL;
	k->nconns--;
	for (;;) {
		struct kconn *c;
		size_t home;

		j = (j + 1) & (KCAP_CONNS - 1);
		if (!(c = k->conns[j]))
			return;
		home = slot_of(c->conn);
		/* may c move to i? only if i lies between its home and j */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			k->conns[i] = c;
			k->conns[j] = NULL;
			i = j;
		}
	}
}

static void conn_open(struct kcap *k, struct kproc *p, const struct obs_cap_event *e)
{
	struct kconn *c;
	size_t i;

	if (k->nconns >= KCAP_CONNS * 3 / 4 || !(c = calloc(1, sizeof(*c)))) {
		region_count(&p->reg, REGION_UNTRACKED);
		k->refused++;
		return;
	}
	c->conn = e->conn;
	c->fd = e->fd;
	c->p = p;
	pconn_init(&c->pc, &kcap_host, proto_handlers,
		   e->kind == OBS_CAP_OPEN_SERVER ? PROTO_SERVER : PROTO_CLIENT);
	pconn_peer(&c->pc, (const struct sockaddr *)e->data, e->caplen);
	for (i = slot_of(e->conn); k->conns[i]; i = (i + 1) & (KCAP_CONNS - 1))
		;
	k->conns[i] = c;
	k->nconns++;
}

static void conn_end(struct kcap *k, struct kconn **at, uint64_t ts)
{
	struct kconn *c = *at;

	pconn_eof(&c->pc, ts);
	pconn_release(&c->pc);
	conn_remove(k, at);
	free(c);
}

/* A chunk of what a read or write moved. An event the ring had no room for
 * leaves a hole in the numbers: bytes nobody saw, at a place nobody knows,
 * so the connection is given up (counted), never parsed past a gap. */
static void feed(struct kconn *c, const struct obs_cap_event *e)
{
	enum proto_dir dir = e->kind == OBS_CAP_IN ? PROTO_IN : PROTO_OUT;
	size_t n = e->caplen < OBS_CAP_BYTES ? e->caplen : OBS_CAP_BYTES;

	if (c->pc.dead)
		return;
	if (e->seq != c->next_seq || e->off != c->next_off) {
		if (c->pc.h)
			pconn_count(&c->pc, PROTO_COUNT_PARSE_ERROR);
		c->pc.dead = 1;
		return;
	}
	if (!c->goid && e->kind == OBS_CAP_IN)
		c->goid = e->goid;
	c->next_seq = e->seq + 1;
	c->next_off = e->last ? 0 : e->off + (uint32_t)n;
	pconn_feed(&c->pc, dir, e->data, n, e->ts_ns);
	/* beyond what the kernel copied: bytes only counted */
	if (e->last && e->len > e->off + n)
		pconn_skip(&c->pc, dir, e->len - e->off - n, e->ts_ns);
}

struct kcap *kcap_new(const struct kcap_cfg *cfg)
{
	struct kcap *k = calloc(1, sizeof(*k));
	uint64_t seed[4] = {0};

	if (!k)
		return NULL;
	k->cfg = *cfg;
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed[0] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)k;
	rng_seed(&k->rng, seed);
	return k;
}

void kcap_free(struct kcap *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < KCAP_CONNS; i++)
		while (k->conns[i]) /* what is open ends (no event: cur is not read) */
			conn_end(k, &k->conns[i], 0);
	for (size_t i = 0; i < k->nprocs; i++) {
		close(k->procs[i]->sock); /* the regions module retires it, counts kept */
		munmap(k->procs[i]->mem, k->procs[i]->len);
		free(k->procs[i]->gr);
		free(k->procs[i]);
	}
	free(k);
}

void kcap_forget(struct kcap *k, pid_t pid, void (*unmark)(void *ctx, pid_t pid, uint32_t fd),
		 void *ctx)
{
	struct kproc *p = k ? proc_find(k, pid) : NULL;

	if (k)
		go_pending_take(k, pid); /* named, but gone before any connection */
	if (!p)
		return;
	for (size_t i = 0; i < KCAP_CONNS; i++)
		while (k->conns[i] && k->conns[i]->p == p) {
			if (unmark)
				unmark(ctx, pid, k->conns[i]->fd);
			conn_end(k, &k->conns[i], 0);
		}
	close(p->sock); /* the regions module retires it, its counts kept */
	munmap(p->mem, p->len);
	for (size_t i = 0; i < k->nprocs; i++)
		if (k->procs[i] == p)
			k->procs[i] = k->procs[--k->nprocs];
	free(p->gr);
	free(p);
}

void kcap_event(void *ctx, const struct obs_cap_event *e)
{
	struct kcap *k = ctx;
	struct kconn **at;
	struct kproc *p;

	k->cur = e;
	if (e->go_lost && (p = proc_find(k, (pid_t)e->tgid)) && p->go_lost != e->go_lost) {
		p->go_lost = e->go_lost; /* a call was not said: none pending is sure */
		if (p->gr)
			gorel_init(p->gr);
	}
	switch (e->kind) {
	case OBS_CAP_OPEN_SERVER:
	case OBS_CAP_OPEN_CLIENT:
		p = proc_find(k, (pid_t)e->tgid);
		if (p || (p = proc_new(k, (pid_t)e->tgid)))
			conn_open(k, p, e);
		break;
	case OBS_CAP_IN:
	case OBS_CAP_OUT:
		if (!(at = conn_find(k, e->conn)))
			break; /* opened before capture began, or not followed */
		feed(*at, e);
		break;
	case OBS_CAP_CLOSE:
		if ((at = conn_find(k, e->conn)))
			conn_end(k, at, e->ts_ns);
		break;
	case OBS_CAP_GO_WRITER:
	case OBS_CAP_GO_CALL:
		p = proc_find(k, (pid_t)e->tgid);
		if (!p && !(p = proc_new(k, (pid_t)e->tgid)))
			break;
		if (!p->gr && (p->gr = malloc(sizeof(*p->gr))))
			gorel_init(p->gr);
		if (!p->gr)
			break;
		if (e->kind == OBS_CAP_GO_WRITER)
			gorel_writer(p->gr, e->conn, e->goid);
		else
			gorel_call(p->gr, e->conn, e->goid);
		break;
	case OBS_CAP_GO:
		kcap_set_go(k, (pid_t)e->tgid);
		if (k->cfg.found_go)
			k->cfg.found_go(k->cfg.who_ctx, (pid_t)e->tgid);
		break;
	default:
		break;
	}
}

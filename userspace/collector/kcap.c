#include "kcap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "kcap_priv.h"
#include "log.h"
#include "registry.h"
#include "str.h"

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

struct kconn **kcap_conn_find(struct kcap *k, uint64_t conn)
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
	pconn_init(&c->pc, &kcap_host, proto_kernel_handlers,
		   e->kind == OBS_CAP_OPEN_SERVER ? PROTO_SERVER : PROTO_CLIENT);
	pconn_peer(&c->pc, (const struct sockaddr *)e->data, e->caplen);
	for (i = slot_of(e->conn); k->conns[i]; i = (i + 1) & (KCAP_CONNS - 1))
		;
	k->conns[i] = c;
	k->nconns++;
}

/* The connection cannot be followed on: bytes nobody saw (counted). */
static void give_up(struct kconn *c)
{
	if (c->pc.h && !c->pc.dead)
		pconn_count(&c->pc, PROTO_COUNT_PARSE_ERROR);
	c->pc.dead = 1;
}

static void conn_end(struct kcap *k, struct kconn **at, uint64_t ts)
{
	struct kconn *c = *at;

	if (capseq_waiting(&c->seq)) /* still waiting for a number: its bytes were lost */
		give_up(c);
	pconn_eof(&c->pc, ts);
	pconn_release(&c->pc);
	conn_remove(k, at);
	capseq_free(&c->seq);
	free(c);
}

struct feed_arg {
	struct kcap *k;
	struct kconn *c;
};

/* The next chunk of a connection's bytes, in order: to its protocol. */
static void feed_one(void *arg, const struct obs_cap_event *e)
{
	struct feed_arg *a = arg;
	struct kconn *c = a->c;
	enum proto_dir dir = e->kind == OBS_CAP_IN ? PROTO_IN : PROTO_OUT;
	size_t n = e->caplen < OBS_CAP_BYTES ? e->caplen : OBS_CAP_BYTES;

	if (c->pc.dead)
		return;
	a->k->cur = e;
	if (e->kind == OBS_CAP_IN && e->off == 0) { /* a read's first chunk */
		unsigned i = c->nreads++ & (KCAP_READS - 1);

		c->reads[i].ts = e->ts_ns;
		c->reads[i].seq = e->seq;
	}
	if (e->kind == OBS_CAP_IN && e->goid) {
		if (!c->goid)
			c->goid = e->goid;
		c->goid_last = e->goid;
	}
	/* a syscall's final bytes, after bytes the kernel did not copy:
	 * those counted first */
	if (e->last == OBS_CAP_TAIL && e->off > c->fed_end)
		pconn_skip(&c->pc, dir, e->off - c->fed_end, e->ts_ns);
	c->fed_end = e->off + (uint32_t)n;
	if (n)
		pconn_feed(&c->pc, dir, e->data, n, e->ts_ns);
	/* beyond what the kernel copied: bytes only counted */
	if (e->last && e->len > e->off + n)
		pconn_skip(&c->pc, dir, e->len - e->off - n, e->ts_ns);
}

/* A chunk of what a read or write moved, put in order (capseq.h); a gap
 * gives the connection up (counted), never parsed past. */
static void feed(struct kcap *k, struct kconn *c, const struct obs_cap_event *e)
{
	struct feed_arg a = {k, c};

	if (!c->pc.dead && capseq_offer(&c->seq, e, feed_one, &a))
		give_up(c);
	k->cur = e;
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
		if (!(at = kcap_conn_find(k, e->conn)))
			break; /* opened before capture began, or not followed */
		feed(k, *at, e);
		break;
	case OBS_CAP_CLOSE:
		if ((at = kcap_conn_find(k, e->conn)))
			conn_end(k, at, e->ts_ns);
		break;
	case OBS_CAP_GO_WRITER:
	case OBS_CAP_GO_CALL:
	case OBS_CAP_GRPC_SRV_CONN:
	case OBS_CAP_GRPC_SRV_STREAM:
	case OBS_CAP_GRPC_CLI_CONN:
	case OBS_CAP_GRPC_CLI_STREAM:
		p = proc_find(k, (pid_t)e->tgid);
		if (p || (p = proc_new(k, (pid_t)e->tgid)))
			kcap_go_event(p, e);
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

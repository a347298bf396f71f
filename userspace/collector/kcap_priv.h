/*
 * kcap_priv.h - what kcap.c (processes, connections, the events) and
 * kcap_host.c (the protocols' host: whose child a request is, and where
 * its record goes) share. Not for other modules.
 */
#ifndef OBS_KCAP_PRIV_H
#define OBS_KCAP_PRIV_H
#include <stddef.h>
#include <stdint.h>

#include "capseq.h"
#include "gorel.h"
#include "kcap.h"
#include "pconn.h"
#include "rng.h"

#define KCAP_PROCS   256
#define KCAP_CONNS   4096 /* connections followed at once, over every process */
#define KCAP_THREADS 64	  /* server requests in flight per process (thread rule) */
/* serving[].who of a request still in flight that no goroutine serves now */
#define KCAP_WHO_NONE UINT64_MAX

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
		uint64_t who;  /* the thread, or a Go program's goroutine */
		uint64_t conn; /* the connection and stream it came on */
		uint32_t stream;
		uint8_t span[8];
		struct tp_ctx ctx;
	} serving[KCAP_THREADS];
};

#define KCAP_READS 4 /* (a power of two) */

struct kconn {
	uint64_t conn;
	uint32_t fd;
	struct capseq seq;  /* its events back in the order the bytes went */
	uint64_t goid;	    /* a Go connection's first reader goroutine */
	uint64_t goid_last; /* ... and its latest */
	uint32_t fed_end;   /* where the last chunk fed ended in its syscall's bytes */
	uint32_t inj_seq;   /* --go-inject: the read whose derived ids a request took */
	int inj_used;
	/* ... and the last reads' times and numbers: which read a request
	 * began in (its first byte's time) */
	struct {
		uint64_t ts;
		uint32_t seq;
	} reads[KCAP_READS];
	unsigned nreads;
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

static inline struct kconn *conn_of(struct proto_conn *pc)
{
	return (struct kconn *)((char *)pc - offsetof(struct kconn, pc));
}

/* kcap_host.c */
extern const struct proto_host kcap_host;
/* A uprobe event of a Go program (OBS_CAP_GO_*, OBS_CAP_GRPC_*). */
void kcap_go_event(struct kproc *p, const struct obs_cap_event *e);

/* kcap.c */
struct kconn **kcap_conn_find(struct kcap *k, uint64_t conn);

#endif

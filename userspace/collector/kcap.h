/*
 * kcap - kernel-side capture's collector end: the bytes a followed
 * process's TCP connections carried (capture.bpf.c: a bounded prefix of
 * each read and write) are fed to the same protocol modules the shim
 * drives (proto.h), and their records are counted and sampled in a region
 * the collector writes for that process, adopted by the regions module as
 * if the process had handed it over. So a Go or static program gets the
 * same http_* series and spans as a program the shim enters.
 *
 * Whose child a request is (kcap_host.c): a server request is the child
 * of the traceparent it carried. An outgoing call of a Go program is the
 * child of the request whose handler goroutine made it, where uprobes say
 * which goroutine that is (net/http, grpc-go; collector_go_follow); else a
 * new trace, marked unknown and counted, never a guess. For other programs
 * the thread rule applies: the request the calling thread is serving, if
 * the process serves one on no other thread. Nothing is injected, except
 * by the kernel into a Go program's net/http requests with --go-inject.
 *
 * Main thread only (the collector's event poll).
 */
#ifndef OBS_KCAP_H
#define OBS_KCAP_H
#include <linux/types.h>
#include <sys/types.h>

#include "obs.h"
#include "regions.h"
#include "route.h"
#include "spans.h"

struct kcap;

/* How often the collector drains kernel-side capture at least: the kernel
 * wakes it only once its ring is a quarter full (capture.bpf.c), so a
 * quiet service's requests would otherwise wait to be counted. */
#define KCAP_DRAIN_MS 50

struct kcap_cfg {
	struct spans *spans;		  /* where the regions go */
	const struct route_table *routes; /* http.route patterns (may change: read each time) */
	/* Who a captured process is, for its region's labels. */
	void (*who)(void *ctx, pid_t pid, struct regions_who *out);
	void *who_ctx;
	/* The kernel found that pid is a Go program it now captures (may be NULL). */
	void (*found_go)(void *ctx, pid_t pid);
	/* Injection into Go programs' requests (--go-inject): a Go server
	 * span's ids are derived as the kernel derives them (inject.bpf.h),
	 * with this key and, for a new trace, this sampling threshold; a
	 * client span takes the ids its call's context went out with. */
	int inject;
	__u64 inj_key[2];
	uint64_t inj_q53;
};

struct kcap *kcap_new(const struct kcap_cfg *cfg);
/* Every connection ends, every region is let go (retired with its counts). */
void kcap_free(struct kcap *k);
/* A capture event (collector_cfg.on_capture). */
void kcap_event(void *k, const struct obs_cap_event *e);
/* pid exited: its connections end, its region is retired (counts kept);
 * unmark (may be NULL) is told each fd the kernel side still marks. */
void kcap_forget(struct kcap *k, pid_t pid, void (*unmark)(void *ctx, pid_t pid, uint32_t fd),
		 void *ctx);
/* pid is a Go program: no thread rule; its outgoing requests' parents are
 * what its goroutines say, else unknown. */
void kcap_set_go(struct kcap *k, pid_t pid);

#endif

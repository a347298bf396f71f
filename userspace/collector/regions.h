/*
 * regions - the collector's end of the traced processes' regions
 * (model/region.h): the Unix socket they hand their region to, the
 * regions held, what they counted (read at scrape time), and their span
 * rings, drained. A process's identity is the kernel's word
 * (SO_PEERCRED), never the region's; a region that is not sealed against
 * resizing, or whose sizes do not hold together, is refused and counted.
 * When a process is gone (its socket closed: exit or exec), its region is
 * drained and read a last time, its counts kept, and it is let go: a
 * count is never lost. Not thread-safe: the caller locks.
 */
#ifndef OBS_REGIONS_H
#define OBS_REGIONS_H
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "redagg.h"
#include "region.h"

/* Who handed a region over, as the collector labels it. */
struct regions_who {
	uint32_t pid; /* in the collector's pid namespace */
	/* set by regions: the same for spans with the same labels below, so
	 * an exporter groups them without comparing the strings */
	uint32_t labels_id;
	char service[128];
	char container_id[72];
	char pod_uid[40];
};

struct regions_cfg {
	const char *path; /* "@name": abstract; else a file, made with mode */
	unsigned mode;
	/* May pid hand a region over (key: what it sent, OBS_SOCKET_KEY), and
	 * who is it? 0, or -1 (refused). */
	int (*accept)(void *ctx, pid_t pid, const char *key, struct regions_who *who);
	void *accept_ctx;
};

struct regions;

int regions_open(struct regions **out, const struct regions_cfg *cfg, char *err, size_t errlen);
/* A region the collector itself writes for a process the shim cannot
 * enter (kernel-side capture): fd its sealed memfd (not kept), sock the
 * end of a socket pair whose other end stands for the process (taken:
 * closed there, the region is retired as a gone process's). 0 or -1. */
int regions_adopt(struct regions *rs, int fd, int sock, const struct regions_who *who);
/* Stop taking regions and let every one go (read what is needed first). */
void regions_close(struct regions *rs);
/* The fds to poll for (the socket and each process's), at most max. */
int regions_pollfds(struct regions *rs, struct pollfd *pfd, int max);
/* New regions in, gone processes retired (drained first, through take). */
void regions_service(struct regions *rs,
		     void (*take)(void *arg, struct span_rec *r, const struct regions_who *who),
		     void *arg);
/* Ask each process to wake the collector (a byte on its socket, which
 * regions_pollfds polls) once ahead more spans are in its ring. */
void regions_arm(struct regions *rs, uint32_t ahead);
/* Up to max sampled spans from the regions' rings, taking turns. */
size_t regions_drain(struct regions *rs, size_t max,
		     void (*take)(void *arg, struct span_rec *r, const struct regions_who *who),
		     void *arg);
/* What every process counted (held and retired), into a; unix_off:
 * Unix time minus CLOCK_MONOTONIC, for exemplars. With agent labels
 * (container, pod) or not. */
void regions_merge(struct regions *rs, struct redagg *a, int64_t unix_off, int agent);
/* Counters summed over every process, held and retired. */
void regions_counters(struct regions *rs, uint64_t out[REGION_COUNTERS]);
/* Outgoing requests of unknown parent, by service: calls fn per service. */
void regions_unknown(struct regions *rs, void (*fn)(void *arg, const char *svc, uint64_t n),
		     void *arg);
/* The collector's settings, for every region (and each new one). */
void regions_set(struct regions *rs, int export_spans, enum spanring_sample mode, double ratio,
		 const struct route_table *routes);
/* Regions refused, and held now. */
uint64_t regions_refused(const struct regions *rs);
/* Forget what exited processes of this service counted (its series
 * expired); how many series went. */
size_t regions_forget(struct regions *rs, const char *svc, const char *container_id,
		      const char *pod_uid);
size_t regions_held(const struct regions *rs);
/* How full the fullest ring is, in percent (rounded up: 0 is empty). */
unsigned regions_fill_max(const struct regions *rs);
/* 1 if every ring is armed (regions_arm) to wake the collector before it
 * is half full, and no process waits to hand its region over: what comes
 * next will be announced on the sockets (regions_pollfds). */
int regions_announced(const struct regions *rs);
/* pid is now who (the agent named its service anew): its region's counts
 * and spans go under these labels from now on (each of its regions). 1 if
 * pid holds one. */
int regions_relabel(struct regions *rs, pid_t pid, const struct regions_who *who);
/* Spans lost in the rings, over every process: full, and cells a process
 * that died mid-write never finished (skipped). */
void regions_ring_losses(struct regions *rs, uint64_t *full, uint64_t *stalled);

#endif

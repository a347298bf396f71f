/*
 * collector_priv.h - the collector's state, shared by collector.c (load,
 * attach, drain, read) and collector_go.c (uprobes on Go programs). Not
 * for other modules.
 */
#ifndef OBS_COLLECTOR_PRIV_H
#define OBS_COLLECTOR_PRIV_H
#include <stdint.h>

#include "collector.h"

struct obs_bpf;
struct ring_buffer;
struct bpf_link;

struct collector {
	struct obs_bpf *skel;
	struct ring_buffer *rb;
	collector_event_fn on_event;
	void *ctx;
	collector_capture_fn on_capture;
	void *capture_ctx;
	int ncpus;
	int attached;
	uint64_t events_seen;
	struct {		       /* uprobes on Go programs (collector_go.c) */
		struct bpf_link *link; /* a perf-event uprobe's, or */
		int fd;		       /* a uprobe_multi link's */
		pid_t pid;
	} go_links[COLLECTOR_GO_LINKS];
	int ngo_links;
	int uprobe_multi; /* Go programs' uprobes are uprobe_multi links */
	/* injection into Go programs (inject.bpf.c): attached, and how */
	int inject_on;
	uint64_t inj_q53;
	struct bpf_link *inj_sockops;
};

/* err gets the message; -1. */
int collector_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* cap_procs changed: the capture programs look again. */
void collector_cap_changed(struct collector *c);
/* Before load: how Go programs' uprobes will be attached (uprobe_multi
 * where the kernel has it). */
struct btf;
void collector_go_prepare(struct collector *c, const struct btf *vmlinux);
/* Every Go uprobe goes. */
void collector_go_close(struct collector *c);
/* Before load: injection's programs and maps, loaded (and sized) only if
 * cfg asks for it. After load: attached (inject_on), or said in warn. */
void collector_inject_prepare(struct collector *c, const struct collector_cfg *cfg);
void collector_inject_attach(struct collector *c, char *warn, size_t warnlen);
void collector_inject_close(struct collector *c);
/* What became of injection, into s (collector_snapshot). */
struct obs_snapshot;
void collector_inject_read(struct collector *c, struct obs_snapshot *s);

#endif

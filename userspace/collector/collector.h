/*
 * collector - owns the BPF object: load, attach, follow processes, drain
 * the process-event ring buffer, and read the in-kernel aggregates.
 */
#ifndef OBS_COLLECTOR_H
#define OBS_COLLECTOR_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/types.h>
#include "obs.h"

struct collector;

typedef void (*collector_event_fn)(void *ctx, const struct obs_proc_event *e);
typedef void (*collector_capture_fn)(void *ctx, const struct obs_cap_event *e);

struct collector_cfg {
	unsigned probes;       /* OBS_PROBE_* (cli.h) */
	uint32_t default_slot; /* slot for untracked tasks: OBS_SLOT_NONE or a slot */
	int emit_exec;	       /* deliver OBS_EV_EXEC events */
	collector_event_fn on_event;
	void *ctx;
	/* kernel-side capture (capture.bpf.c): loaded only when set; the
	 * processes are named with collector_capture */
	collector_capture_fn on_capture;
	void *capture_ctx;
	/* capture every exec'd Go program (the agent): found by the kernel,
	 * said with an OBS_CAP_GO event */
	int capture_probe_exec;
	/* inject a traceparent into followed Go programs' net/http requests
	 * (inject.bpf.c): the key ids are derived with (kcap's too), and the
	 * threshold a new trace is sampled below (tp_ratio_key) */
	int go_inject;
	uint64_t inj_key[2];
	uint64_t inj_q53;
};

struct snap_hist {
	struct obs_hist_key key;
	struct obs_hist h; /* summed over CPUs */
};

struct map_fill {
	const char *name;
	uint32_t used, max;
};

#define SNAP_MAPS  10
#define SNAP_PROGS 64

/* A loaded program's runs the kernel skipped: it fired again on a CPU
 * where it was already running (an interrupt's I/O completing inside a
 * task's), and an event was lost without any map being full. */
struct prog_miss {
	const char *name;
	uint64_t misses;
};

/* A consistent-enough read of every aggregate, summed over CPUs. */
struct obs_snapshot {
	struct snap_hist *hists;
	size_t nhists;
	struct obs_counters counters[OBS_MAX_SLOTS];
	uint64_t drops[OBS_DROP_COUNT];
	struct map_fill fill[SNAP_MAPS];
	size_t nfill;
	struct prog_miss progs[SNAP_PROGS];
	size_t nprogs;
	uint64_t ringbuf_pending; /* bytes not yet consumed */
	uint64_t disk_unseen;	  /* followed block requests that ended unseen */
	uint64_t events_seen;
	int inject_on;			/* injection into Go programs is attached */
	uint64_t inject[OBS_INJ_STATS]; /* what became of it (enum obs_inj_stat) */
};

/* 1 if the kernel (its BTF, btf__load_vmlinux_btf) has the block_io_start
 * tracepoint (6.5+): block I/O is charged to the task that made the
 * request, in its own context. */
struct btf;
int collector_has_block_io_start(const struct btf *vmlinux);

/* 1 if BPF programs may call bpf_loop (5.17+): block I/O merged across
 * processes is then charged to its makers (disk.bpf.c). */
int collector_has_bpf_loop(void);

/* Load and attach. On failure returns -1 with a clear message in err. */
int collector_open(const struct collector_cfg *cfg, struct collector **out, char *err,
		   size_t errlen);
void collector_close(struct collector *c);
/* Follow a process (and, from now on, its new children) under slot. */
int collector_track(struct collector *c, pid_t tgid, uint32_t slot);
/* 1 if tgid is followed (CMD's tree for obs-run), else 0. */
int collector_tracks(struct collector *c, pid_t tgid);
/* The slot a tracked process counts in: 0, or -1 if it is not tracked. */
int collector_slot(struct collector *c, pid_t tgid, uint32_t *slot);
/* live[slot] = 1 for every slot a process is tracked under (the rest of
 * live is left as it is; OBS_MAX_SLOTS entries). */
void collector_live_slots(struct collector *c, uint8_t *live);
/* Remove everything the kernel side counted under slot (its series
 * expired); how many histogram series went. */
size_t collector_forget_slot(struct collector *c, uint32_t slot);
/* Capture tgid's TCP connections (and those of the processes it forks
 * from now on). -1 if capture is not loaded or its table is full. */
int collector_capture(struct collector *c, pid_t tgid);
/* Tell tgid's goroutines apart (a Go program whose layout golayout_read
 * read, at path): uprobes on the net/http and grpc-go functions the
 * layout found, for that process only, so its outgoing calls get the
 * parent of the request whose handler made them. Needs
 * the privileges of attach time. -1 with a message in err. */
#define COLLECTOR_GO_LINKS 1536 /* 6 per Go program */
struct golayout;
int collector_go_follow(struct collector *c, pid_t tgid, const char *path,
			const struct golayout *gl, char *err, size_t errlen);
/* tgid is gone: its uprobes go. */
void collector_go_forget(struct collector *c, pid_t tgid);
/* Forget a connection capture marked (its process is gone). */
void collector_capture_forget(struct collector *c, pid_t tgid, uint32_t fd);
/* fd that becomes readable when process events are pending. */
int collector_event_fd(struct collector *c);
/* Drain pending process and capture events (calls on_event, on_capture):
 * timeout_ms 0 reads every ring at once. Returns count or -1. */
int collector_poll(struct collector *c, int timeout_ms);
/* Read aggregates. Free with snapshot_free. */
int collector_snapshot(struct collector *c, struct obs_snapshot *s);
void snapshot_free(struct obs_snapshot *s);
/* Number of programs attached. */
int collector_attached(const struct collector *c);

#endif

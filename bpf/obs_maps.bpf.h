// SPDX-License-Identifier: GPL-2.0
/*
 * obs_maps.bpf.h - what the kernel programs share (the bpf/ programs, linked
 * into one object with `bpftool gen object`): the tracked processes, the
 * histograms and counters, the drop counters, the per-CPU syscall slot,
 * and the helpers every area uses to find a task's slot and record into
 * them. obs.bpf.c defines the maps (OBS_MAPS_DEFINE); the others see
 * extern declarations of the same maps, which the linker joins.
 */
#ifndef OBS_MAPS_BPF_H
#define OBS_MAPS_BPF_H
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "obs.h"
#include "obs_log2.h"

#ifdef OBS_MAPS_DEFINE
#define OBS_SHARED
#else
#define OBS_SHARED extern
#endif

#define MAX_CPUS 1024 /* power of two; cur[] is indexed by cpu & (MAX_CPUS-1) */

/* Set: the hot paths read kernel objects the CO-RE way even where
 * bpf_rdonly_cast exists (tcp.bpf.c), as on a kernel before 6.2 (tests:
 * OBS_DEBUG_NO_BTF_CAST=1). */
OBS_SHARED const volatile __u32 no_btf_cast;

/* Set by userspace before load. */
OBS_SHARED const volatile __u32 default_slot; /* slot for untracked tasks */

OBS_SHARED struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tgid */
	__type(value, struct obs_tracked);
} tracked SEC(".maps");

OBS_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct obs_hist_key);
	__type(value, struct obs_hist);
} hists SEC(".maps");

OBS_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OBS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct obs_counters);
} counters SEC(".maps");

OBS_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OBS_DROP_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/*
 * Kernel-side capture's syscall programs (capture.bpf.c), when capture is
 * on: obs_sys_enter and obs_sys_exit tail-call them, so each tracepoint
 * runs one program, not two. Entering a program costs ~0.1 us per syscall
 * (bench/syscall-overhead: two empty programs add ~0.23 us), paid on every
 * syscall on the machine; a tail call costs a few ns. Set before load.
 */
/* Syscall numbers (x86_64; the Makefile builds for the host's). */
enum {
	NR_read = 0,
	NR_write = 1,
	NR_close = 3,
	NR_readv = 19,
	NR_writev = 20,
	NR_connect = 42,
	NR_accept = 43,
	NR_sendto = 44,
	NR_recvfrom = 45,
	NR_sendmsg = 46,
	NR_recvmsg = 47,
	NR_accept4 = 288,
};

/* The syscalls kernel-side capture looks at: obs_sys_enter and
 * obs_sys_exit tail-call it for these only. */
static __always_inline int cap_wanted(long nr)
{
	return nr == NR_read || nr == NR_write || nr == NR_recvfrom || nr == NR_sendto ||
	       nr == NR_readv || nr == NR_writev || nr == NR_recvmsg || nr == NR_sendmsg ||
	       nr == NR_accept || nr == NR_accept4 || nr == NR_connect || nr == NR_close;
}

OBS_SHARED const volatile __u32 cap_tail_on;
OBS_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, OBS_CAP_TAILS);
	__type(key, __u32);
	__type(value, __u32);
} cap_tail SEC(".maps");

/* The syscall a task is in, while it is on a CPU (struct in obs.h). */
OBS_SHARED struct obs_cur_sys cur[MAX_CPUS];

/* Bumped whenever the tracked map changes (here and by userspace). */
OBS_SHARED __u32 track_gen;

/* A start time and the slot it is for. */
struct ts_slot {
	__u64 ts;
	__u32 slot;
	__u32 pad;
};

static __always_inline void count_drop(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&drops, &reason);

	if (v)
		(*v)++;
}

static __always_inline __u32 slot_of_tgid(__u32 tgid)
{
	struct obs_tracked *t = bpf_map_lookup_elem(&tracked, &tgid);

	return t ? t->slot : default_slot;
}

/* This CPU's histogram of (slot, kind, op, id), made if new; NULL (counted)
 * when the map is full. */
static __always_inline struct obs_hist *hist_of(__u32 slot, __u16 kind, __u16 op, __u32 id)
{
	struct obs_hist_key key = {.slot = slot, .kind = kind, .op = op, .id = id};
	struct obs_hist *h = bpf_map_lookup_elem(&hists, &key);

	if (!h) {
		static const struct obs_hist zero;

		/* EEXIST from a racing CPU is fine: look it up again. */
		bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &key);
		if (!h)
			count_drop(OBS_DROP_HIST_FULL);
	}
	return h;
}

static __always_inline void hist_record(__u32 slot, __u16 kind, __u16 op, __u32 id, __u64 delta,
					__u64 bytes)
{
	struct obs_hist *h = hist_of(slot, kind, op, id);

	if (!h)
		return;
	h->slots[obs_hist_slot(delta)]++;
	h->sum_ns += delta;
	h->bytes += bytes;
}

static __always_inline struct obs_counters *counters_of(__u32 slot)
{
	if (slot >= OBS_MAX_SLOTS)
		return NULL;
	return bpf_map_lookup_elem(&counters, &slot);
}

/* The current task's slot, through this CPU's one-entry cache (c). */
static __always_inline __u32 current_slot(struct obs_cur_sys *c, __u64 task)
{
	__u32 gen = track_gen, slot;

	if (c->cache_task == task && c->cache_gen == gen)
		return c->cache_slot;
	slot = slot_of_tgid(bpf_get_current_pid_tgid() >> 32);
	c->cache_task = task;
	c->cache_slot = slot;
	c->cache_gen = gen;
	return slot;
}

static __always_inline struct obs_cur_sys *this_cpu(void)
{
	return &cur[bpf_get_smp_processor_id() & (MAX_CPUS - 1)];
}

#endif

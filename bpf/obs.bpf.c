// SPDX-License-Identifier: GPL-2.0
/*
 * obs.bpf.c - kernel-side latency aggregation for obs: the shared maps
 * (obs_maps.bpf.h), syscalls, the scheduler (run-queue latency, syscall
 * parking) and the process tree. Block I/O is disk.bpf.c, TCP tcp.bpf.c;
 * the Makefile links them into one object (bpftool gen object).
 *
 * Only raw tracepoints: this project's target kernels lack kprobes and the
 * whole BPF "tracing" program type (no fentry, no tp_btf). Raw tracepoints
 * need no tracefs either.
 *
 * Everything is aggregated here into log2 histograms keyed by a "slot" (one
 * service label set, assigned by userspace and inherited across fork). A
 * syscall never costs a ring-buffer event.
 */
#define OBS_MAPS_DEFINE
#include "obs_maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define TASK_RUNNING 0

const volatile __u32 default_slot = OBS_SLOT_NONE;
const volatile __u32 cap_tail_on = 0;
const volatile __u32 no_btf_cast = 0;
/* The syscall and run-queue histograms (--probes): off, their programs
 * may still run for capture's tail calls. */
const volatile __u32 sys_hist_on = 1;
const volatile __u32 runq_on = 1;
/* Run-queue waits from the scheduler's own bookkeeping (CONFIG_SCHED_INFO:
 * sched_info.last_queued, stamped with the run queue's clock when a task
 * is queued) instead of a wakeup program and a hash entry per wakeup:
 * set by userspace when the kernel's BTF has both. */
const volatile __u32 runq_sched_info = 0;
const volatile __u32 emit_exec = 0; /* send OBS_EV_EXEC events */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} proc_events SEC(".maps");

/* One environment string at a time, read at exec (per CPU: too big for
 * the stack). */
#define OBS_ENV_CHUNK  128
#define OBS_ENV_PIECES 192 /* strings, or 127-byte pieces of long ones */
struct env_chunk {
	union {
		char buf[OBS_ENV_CHUNK];
		__u64 w[OBS_ENV_CHUNK / 8];
	};
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct env_chunk);
} env_scratch SEC(".maps");

/* Unconsumed bytes in proc_events after the last submit (ring-buffer lag). */
__u64 ringbuf_avail;

/* In-flight syscalls of tasks switched out mid-syscall (key: task ptr). */
struct parked_sys {
	__u64 start;
	__u32 nr;
	__u32 slot;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct parked_sys);
} parked SEC(".maps");

/* Slot 0's syscall histograms, indexed by syscall number. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OBS_FAST_SYSCALLS);
	__type(key, __u32);
	__type(value, struct obs_hist);
} fast_sys SEC(".maps");

/* Runnable-since timestamps (key: task ptr). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct ts_slot);
} runq_start SEC(".maps");

/* ---- syscalls ---------------------------------------------------------- */

/*
 * The hot path. Costs measured on the reference VM: bpf_ktime_get_ns ~58 ns,
 * hash lookup ~32 ns, get_current_pid_tgid ~21 ns, get_current_task ~6 ns,
 * per-CPU array lookup ~2 ns (inlined). So: no hash operation and no pid
 * read per syscall in the common case; only the two clock reads remain.
 */
SEC("raw_tp/sys_enter")
int BPF_PROG(obs_sys_enter, struct pt_regs *regs, long id)
{
	__u64 task = bpf_get_current_task();
	struct obs_cur_sys *c = this_cpu();
	__u32 slot = sys_hist_on ? current_slot(c, task) : OBS_SLOT_NONE;

	if (slot != OBS_SLOT_NONE) {
		c->task = task;
		c->nr = (__u32)id;
		c->slot = slot;
		c->start = bpf_ktime_get_ns();
	}
	if (cap_tail_on && cap_wanted(id))
		bpf_tail_call(ctx, &cap_tail, OBS_CAP_TAIL_ENTER); /* returns only if empty */
	return 0;
}

static __always_inline void syscall_record(__u32 slot, __u32 nr, __u64 delta)
{
	struct obs_hist *h;

	if (slot == 0 && nr < OBS_FAST_SYSCALLS) {
		h = bpf_map_lookup_elem(&fast_sys, &nr);
		if (h) {
			h->slots[obs_hist_slot(delta)]++;
			h->sum_ns += delta;
		}
		return;
	}
	hist_record(slot, OBS_H_SYSCALL, 0, nr, delta, 0);
}

/* The syscall's number, or -1 if this task's entry was not seen. */
static __always_inline long syscall_end(void)
{
	__u64 task = bpf_get_current_task();
	struct obs_cur_sys *c = this_cpu();
	__u64 now, start;
	__u32 nr, slot;

	c->end_task = 0; /* (set again below when the clock is read) */
	if (c->task == task && c->start) {
		start = c->start;
		nr = c->nr;
		slot = c->slot;
		c->start = 0;
	} else {
		struct parked_sys *p;

		/* a process obs does not track (every other one on the node,
		 * under obs-run) parked nothing: no hash lookup for it */
		if (current_slot(c, task) == OBS_SLOT_NONE)
			return -1;
		p = bpf_map_lookup_elem(&parked, &task);
		if (!p)
			return -1;
		start = p->start;
		nr = p->nr;
		slot = p->slot;
		bpf_map_delete_elem(&parked, &task);
	}
	now = bpf_ktime_get_ns();
	c->end = now;
	c->end_task = task;
	syscall_record(slot, nr, now - start);
	return nr;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(obs_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = -1;

	if (sys_hist_on)
		nr = syscall_end();
	/* a syscall capture does not look at (futex, epoll_pwait, nanosleep:
	 * most of a Go program's) need not be offered to it; one whose entry
	 * was not seen here still is */
	if (cap_tail_on && (nr < 0 || cap_wanted(nr)))
		bpf_tail_call(ctx, &cap_tail, OBS_CAP_TAIL_EXIT);
	return 0;
}

/* ---- scheduler: run queue latency, syscall parking, process tree ------- */

static __always_inline void runq_mark(struct task_struct *p)
{
	__u64 key = (__u64)p;
	struct ts_slot v = {};

	v.slot = slot_of_tgid(BPF_CORE_READ(p, tgid));
	if (v.slot == OBS_SLOT_NONE || !BPF_CORE_READ(p, pid))
		return;
	v.ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&runq_start, &key, &v, BPF_ANY))
		count_drop(OBS_DROP_RUNQ_FULL);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(obs_sched_wakeup, struct task_struct *p)
{
	runq_mark(p);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(obs_sched_wakeup_new, struct task_struct *p)
{
	runq_mark(p);
	return 0;
}

/* next is about to run: it waited from when it was queued (wakeup or
 * preemption; the scheduler clears the stamp only after this tracepoint)
 * to this run queue's clock now (updated just before the pick), reached
 * through next's own run queue (the per-CPU runqueues variable is not in
 * kallsyms on kernels without KALLSYMS_ALL). Both are the run queue's
 * clock, not bpf_ktime_get_ns's, so only their difference is used. */
static __always_inline void runq_from_sched_info(struct task_struct *next)
{
	__u64 queued = BPF_CORE_READ(next, sched_info.last_queued), now;
	__u32 slot;

	if (!queued || !BPF_CORE_READ(next, pid))
		return;
	slot = slot_of_tgid(BPF_CORE_READ(next, tgid));
	if (slot == OBS_SLOT_NONE)
		return;
	now = BPF_CORE_READ(next, se.cfs_rq, rq, clock);
	if (now > queued)
		hist_record(slot, OBS_H_RUNQ, 0, 0, now - queued, 0);
}

/* The same, runqlat's way (kernels without the stamp): prev, preempted
 * while runnable, waits from now; next waited since its mark. */
static __always_inline void runq_from_marks(struct task_struct *prev, struct task_struct *next,
					    unsigned int prev_state)
{
	__u64 nkey = (__u64)next;
	struct ts_slot *rs;

	if (prev_state == TASK_RUNNING)
		runq_mark(prev);
	rs = bpf_map_lookup_elem(&runq_start, &nkey);
	if (rs) {
		__u64 now = bpf_ktime_get_ns();

		if (now > rs->ts)
			hist_record(rs->slot, OBS_H_RUNQ, 0, 0, now - rs->ts, 0);
		bpf_map_delete_elem(&runq_start, &nkey);
	}
}

SEC("raw_tp/sched_switch")
int BPF_PROG(obs_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	struct obs_cur_sys *c = this_cpu();
	__u64 pkey = (__u64)prev;

	/* prev leaves the CPU inside a syscall: park its start time. */
	if (c->task == pkey && c->start) {
		struct parked_sys p = {.start = c->start, .nr = c->nr, .slot = c->slot};

		if (bpf_map_update_elem(&parked, &pkey, &p, BPF_ANY))
			count_drop(OBS_DROP_PARKED_FULL);
		c->start = 0;
	}
	if (runq_on && runq_sched_info)
		runq_from_sched_info(next);
	else if (runq_on)
		runq_from_marks(prev, next, prev_state);
	if (cap_tail_on)
		bpf_tail_call(ctx, &cap_tail, OBS_CAP_TAIL_SWITCH);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(obs_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	struct obs_tracked *t = bpf_map_lookup_elem(&tracked, &ptgid);

	if (!t)
		return 0;
	/* A new task of a tracked process: per-CPU caches keyed by task
	 * address may hold a stale "untracked" for this address. */
	__sync_fetch_and_add(&track_gen, 1);
	if (ptgid == ctgid) /* a new thread: tracked by tgid already */
		return 0;
	if (bpf_map_update_elem(&tracked, &ctgid, t, BPF_ANY))
		count_drop(OBS_DROP_TRACKED_FULL);
	return 0;
}

/* A process event, reserved and filled in; NULL (counted) when the ring
 * is full. The caller may add to it, then proc_event_submit. */
static __always_inline struct obs_proc_event *proc_event(__u32 type, struct task_struct *p,
							 __u32 slot)
{
	struct obs_proc_event *e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);

	if (!e) {
		count_drop(OBS_DROP_RINGBUF);
		return NULL;
	}
	e->type = type;
	e->tgid = BPF_CORE_READ(p, tgid);
	e->slot = slot;
	e->exit_code = BPF_CORE_READ(p, exit_code);
	e->ts_ns = bpf_ktime_get_ns();
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &p->comm);
	e->svc_state = OBS_SVC_NONE;
	e->exe_kind = OBS_EXE_UNKNOWN;
	e->service[0] = 0;
	e->exe[0] = 0;
	e->resattrs[0] = 0;
	return e;
}

static __always_inline void proc_event_submit(struct obs_proc_event *e)
{
	bpf_ringbuf_submit(e, 0);
	ringbuf_avail = bpf_ringbuf_query(&proc_events, BPF_RB_AVAIL_DATA);
}

/* OTEL_SERVICE_NAME (and OTEL_RESOURCE_ATTRIBUTES, whose service.name
 * comes next) from the environment exec has just laid out on the new
 * stack: string by string (a long one in pieces), bounded. */
static __always_inline void env_service(struct task_struct *p, struct obs_proc_event *e)
{
	/* compared 8 bytes at a time: bytewise, 192 pieces are more than the
	 * verifier takes */
	static const union {
		char s[24];
		__u64 w[3];
	} want = {"OTEL_SERVICE_NAME="};
	static const union {
		char s[32];
		__u64 w[4];
	} want_res = {"OTEL_RESOURCE_ATTRIBUTES="};
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	unsigned long cur = BPF_CORE_READ(mm, env_start), end = BPF_CORE_READ(mm, env_end);
	__u32 zero = 0;
	struct env_chunk *c = bpf_map_lookup_elem(&env_scratch, &zero);
	int in_long = 0;

	e->svc_state = OBS_SVC_UNKNOWN;
	if (!c)
		return;
	for (int i = 0; i < OBS_ENV_PIECES; i++) {
		long n;

		if (cur >= end) {
			e->svc_state = OBS_SVC_ABSENT;
			return;
		}
		n = bpf_probe_read_user_str(c->buf, sizeof(c->buf), (const void *)cur);
		if (n <= 0)
			return;
		/* 18 bytes: two words and "E=" */
		if (!in_long && c->w[0] == want.w[0] && c->w[1] == want.w[1] &&
		    (c->w[2] & 0xffff) == (want.w[2] & 0xffff)) {
			bpf_probe_read_kernel_str(e->service, sizeof(e->service), &c->buf[18]);
			e->svc_state = e->service[0] ? OBS_SVC_FOUND : OBS_SVC_ABSENT;
			return;
		}
		/* 25 bytes: three words and "=" */
		if (!in_long && c->w[0] == want_res.w[0] && c->w[1] == want_res.w[1] &&
		    c->w[2] == want_res.w[2] && (c->w[3] & 0xff) == (want_res.w[3] & 0xff))
			/* its first 127 bytes, from the stack itself */
			bpf_probe_read_user_str(e->resattrs, sizeof(e->resattrs),
						(const void *)(cur + 25));
		/* n counts the NUL; a full buffer is a piece of a longer one */
		in_long = n == sizeof(c->buf);
		cur += in_long ? n - 1 : n;
	}
}

/* A Go program: its data segment opens with the build info,
 * "\xff Go buildinf:" (Go 1.13+), which the kernel has just mapped at
 * mm->start_data. Else static or dynamic: whether the loader was mapped
 * (the AT_BASE entry of the auxiliary vector the kernel saved). */
static __always_inline __u32 exe_kind(struct task_struct *p)
{
	static const union {
		char s[16];
		__u64 w[2];
	} go = {"\xff Go buildinf:"};
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	__u64 magic[2] = {};

	if (!bpf_probe_read_user(magic, 14, (const void *)BPF_CORE_READ(mm, start_data)) &&
	    magic[0] == go.w[0] && (magic[1] & 0xffffffffffffULL) == (go.w[1] & 0xffffffffffffULL))
		return OBS_EXE_GO;
	for (int i = 0; i < 32; i++) {
		unsigned long kv[2];

		if (bpf_probe_read_kernel(kv, sizeof(kv), &mm->saved_auxv[2 * i]))
			return OBS_EXE_UNKNOWN;
		if (kv[0] == 0) /* AT_NULL */
			return OBS_EXE_UNKNOWN;
		if (kv[0] == 7) /* AT_BASE: where the loader is, 0 without one */
			return kv[1] ? OBS_EXE_DYNAMIC : OBS_EXE_STATIC;
	}
	return OBS_EXE_UNKNOWN;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(obs_sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct obs_proc_event *e;
	struct obs_tracked *t;

	if (!emit_exec)
		return 0;
	t = bpf_map_lookup_elem(&tracked, &tgid);
	if (!t)
		return 0;
	e = proc_event(OBS_EV_EXEC, p, t->slot);
	if (!e)
		return 0;
	env_service(p, e);
	e->exe_kind = exe_kind(p);
	bpf_probe_read_kernel_str(e->exe, sizeof(e->exe),
				  BPF_CORE_READ(bprm, file, f_path.dentry, d_name.name));
	proc_event_submit(e);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(obs_sched_process_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	__u64 key = (__u64)p;
	struct obs_proc_event *e;
	struct obs_tracked *t;

	bpf_map_delete_elem(&parked, &key);
	bpf_map_delete_elem(&runq_start, &key);
	if (!group_dead)
		return 0;
	t = bpf_map_lookup_elem(&tracked, &tgid);
	if (!t)
		return 0;
	e = proc_event(OBS_EV_EXIT, p, t->slot);
	if (e)
		proc_event_submit(e);
	bpf_map_delete_elem(&tracked, &tgid);
	__sync_fetch_and_add(&track_gen, 1);
	return 0;
}

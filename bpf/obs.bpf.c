// SPDX-License-Identifier: GPL-2.0
/*
 * obs.bpf.c - kernel-side latency aggregation for obs.
 *
 * Only raw tracepoints: this project's target kernels lack kprobes and the
 * whole BPF "tracing" program type (no fentry, no tp_btf). Raw tracepoints
 * need no tracefs either.
 *
 * Everything is aggregated here into log2 histograms keyed by a "slot" (one
 * service label set, assigned by userspace and inherited across fork). A
 * syscall never costs a ring-buffer event.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "obs.h"
#include "obs_log2.h"

char LICENSE[] SEC("license") = "GPL";

#define MAX_CPUS 1024 /* power of two; cur[] is indexed by cpu & (MAX_CPUS-1) */

#define TASK_RUNNING 0
#define IPPROTO_TCP_ 6
#define AF_INET_     2
#define AF_INET6_    10

enum {
	TCP_ESTABLISHED_ = 1,
	TCP_SYN_SENT_ = 2,
	TCP_SYN_RECV_ = 3,
	TCP_CLOSE_ = 7,
	TCP_LISTEN_ = 10,
};

/* Set by userspace before load. */
const volatile __u32 default_slot = OBS_SLOT_NONE; /* slot for untracked tasks */
const volatile __u32 emit_exec = 0;		   /* send OBS_EV_EXEC events */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tgid */
	__type(value, struct obs_tracked);
} tracked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct obs_hist_key);
	__type(value, struct obs_hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OBS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct obs_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OBS_DROP_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} proc_events SEC(".maps");

/* The syscall a task is in, while it is on a CPU (struct in obs.h). */
struct obs_cur_sys cur[MAX_CPUS];

/* Bumped whenever the tracked map changes (here and by userspace). */
__u32 track_gen;

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

struct ts_slot {
	__u64 ts;
	__u32 slot;
	__u32 pad;
};

/* Runnable-since timestamps (key: task ptr). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct ts_slot);
} runq_start SEC(".maps");

/* In-flight block requests (key: struct request *). ts == 0: inserted only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ts_slot);
} disk_start SEC(".maps");

/* Outbound connects in SYN_SENT (key: struct sock *). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ts_slot);
} connect_start SEC(".maps");

/* Owning slot of established TCP sockets (key: struct sock *). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u32);
} sock_owner SEC(".maps");

/* Owning slot of listening TCP ports (key: local port). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} listen_owner SEC(".maps");

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

static __always_inline void hist_record(__u32 slot, __u16 kind, __u16 op, __u32 id, __u64 delta,
					__u64 bytes)
{
	struct obs_hist_key key = {.slot = slot, .kind = kind, .op = op, .id = id};
	struct obs_hist *h = bpf_map_lookup_elem(&hists, &key);

	if (!h) {
		static const struct obs_hist zero;

		/* EEXIST from a racing CPU is fine: look it up again. */
		bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &key);
		if (!h) {
			count_drop(OBS_DROP_HIST_FULL);
			return;
		}
	}
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

/* ---- syscalls ---------------------------------------------------------- */

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
	__u32 slot = current_slot(c, task);

	if (slot == OBS_SLOT_NONE)
		return 0;
	c->task = task;
	c->nr = (__u32)id;
	c->slot = slot;
	c->start = bpf_ktime_get_ns();
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

SEC("raw_tp/sys_exit")
int BPF_PROG(obs_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 task = bpf_get_current_task();
	struct obs_cur_sys *c = this_cpu();
	__u64 now, start;
	__u32 nr, slot;

	if (c->task == task && c->start) {
		start = c->start;
		nr = c->nr;
		slot = c->slot;
		c->start = 0;
	} else {
		struct parked_sys *p = bpf_map_lookup_elem(&parked, &task);

		if (!p)
			return 0;
		start = p->start;
		nr = p->nr;
		slot = p->slot;
		bpf_map_delete_elem(&parked, &task);
	}
	now = bpf_ktime_get_ns();
	if ((long)nr < 0)
		return 0;
	syscall_record(slot, nr, now - start);
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

SEC("raw_tp/sched_switch")
int BPF_PROG(obs_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	struct obs_cur_sys *c = this_cpu();
	__u64 pkey = (__u64)prev, nkey = (__u64)next;
	struct ts_slot *rs;

	/* prev leaves the CPU inside a syscall: park its start time. */
	if (c->task == pkey && c->start) {
		struct parked_sys p = {.start = c->start, .nr = c->nr, .slot = c->slot};

		if (bpf_map_update_elem(&parked, &pkey, &p, BPF_ANY))
			count_drop(OBS_DROP_PARKED_FULL);
		c->start = 0;
	}

	/* Preempted while runnable: it waits on the run queue from now. */
	if (prev_state == TASK_RUNNING)
		runq_mark(prev);

	rs = bpf_map_lookup_elem(&runq_start, &nkey);
	if (rs) {
		__u64 now = bpf_ktime_get_ns();

		if (now > rs->ts)
			hist_record(rs->slot, OBS_H_RUNQ, 0, 0, now - rs->ts, 0);
		bpf_map_delete_elem(&runq_start, &nkey);
	}
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

static __always_inline void proc_event(__u32 type, struct task_struct *p, __u32 slot)
{
	struct obs_proc_event *e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);

	if (!e) {
		count_drop(OBS_DROP_RINGBUF);
		return;
	}
	e->type = type;
	e->tgid = BPF_CORE_READ(p, tgid);
	e->slot = slot;
	e->exit_code = BPF_CORE_READ(p, exit_code);
	e->ts_ns = bpf_ktime_get_ns();
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &p->comm);
	bpf_ringbuf_submit(e, 0);
	ringbuf_avail = bpf_ringbuf_query(&proc_events, BPF_RB_AVAIL_DATA);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(obs_sched_process_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct obs_tracked *t;

	if (!emit_exec)
		return 0;
	t = bpf_map_lookup_elem(&tracked, &tgid);
	if (t)
		proc_event(OBS_EV_EXEC, p, t->slot);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(obs_sched_process_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	__u64 key = (__u64)p;
	struct obs_tracked *t;

	bpf_map_delete_elem(&parked, &key);
	bpf_map_delete_elem(&runq_start, &key);
	if (!group_dead)
		return 0;
	t = bpf_map_lookup_elem(&tracked, &tgid);
	if (!t)
		return 0;
	proc_event(OBS_EV_EXIT, p, t->slot);
	bpf_map_delete_elem(&tracked, &tgid);
	__sync_fetch_and_add(&track_gen, 1);
	return 0;
}

/* ---- block I/O ---------------------------------------------------------- */

static __always_inline __u16 disk_op(struct request *rq)
{
	/* REQ_OP_* values are a stable part of the block layer's ABI. */
	__u32 op = BPF_CORE_READ(rq, cmd_flags) & 0xff;

	switch (op) {
	case 0:
		return OBS_DISK_READ;
	case 1:
		return OBS_DISK_WRITE;
	case 2:
		return OBS_DISK_FLUSH;
	case 3:
		return OBS_DISK_DISCARD;
	default:
		return OBS_DISK_OTHER;
	}
}

SEC("raw_tp/block_rq_insert")
int BPF_PROG(obs_block_rq_insert, struct request *rq)
{
	struct ts_slot v = {};
	__u64 key = (__u64)rq;

	/* Insert runs in the submitter's context: remember who asked. */
	v.slot = slot_of_tgid(bpf_get_current_pid_tgid() >> 32);
	if (v.slot == OBS_SLOT_NONE)
		return 0;
	if (bpf_map_update_elem(&disk_start, &key, &v, BPF_ANY))
		count_drop(OBS_DROP_DISK_FULL);
	return 0;
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(obs_block_rq_issue, struct request *rq)
{
	__u64 key = (__u64)rq;
	struct ts_slot *v = bpf_map_lookup_elem(&disk_start, &key);
	struct ts_slot n = {};

	if (v) {
		v->ts = bpf_ktime_get_ns();
		return 0;
	}
	n.slot = slot_of_tgid(bpf_get_current_pid_tgid() >> 32);
	if (n.slot == OBS_SLOT_NONE)
		return 0;
	n.ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&disk_start, &key, &n, BPF_ANY))
		count_drop(OBS_DROP_DISK_FULL);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(obs_block_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	__u64 key = (__u64)rq;
	struct ts_slot *v = bpf_map_lookup_elem(&disk_start, &key);
	struct gendisk *disk;
	__u32 dev;
	__u64 now;

	if (!v)
		return 0;
	if (v->ts) {
		now = bpf_ktime_get_ns();
		disk = BPF_CORE_READ(rq, q, disk);
		dev = ((__u32)BPF_CORE_READ(disk, major) << 20) |
		      (__u32)BPF_CORE_READ(disk, first_minor);
		hist_record(v->slot, OBS_H_DISK, disk_op(rq), dev, now - v->ts, nr_bytes);
	}
	bpf_map_delete_elem(&disk_start, &key);
	return 0;
}

/* ---- TCP ---------------------------------------------------------------- */

static __always_inline int sk_is_tcp(const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	return (family == AF_INET_ || family == AF_INET6_) &&
	       BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP_;
}

static __always_inline __u32 sock_slot(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u32 *slot = bpf_map_lookup_elem(&sock_owner, &key);

	return slot ? *slot : default_slot;
}

static __always_inline void sock_set_owner(const struct sock *sk, __u32 slot)
{
	__u64 key = (__u64)sk;

	if (bpf_map_update_elem(&sock_owner, &key, &slot, BPF_ANY))
		count_drop(OBS_DROP_TCP_FULL);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(obs_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	struct obs_counters *c;
	struct ts_slot *cs;
	__u32 port, slot;

	if (!sk_is_tcp(sk))
		return 0;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);

	switch (newstate) {
	case TCP_SYN_SENT_: {
		/* connect() runs in the caller's context. */
		struct ts_slot v = {};

		v.slot = slot_of_tgid(bpf_get_current_pid_tgid() >> 32);
		if (v.slot == OBS_SLOT_NONE)
			return 0;
		v.ts = bpf_ktime_get_ns();
		if (bpf_map_update_elem(&connect_start, &key, &v, BPF_ANY))
			count_drop(OBS_DROP_TCP_FULL);
		return 0;
	}
	case TCP_LISTEN_:
		slot = slot_of_tgid(bpf_get_current_pid_tgid() >> 32);
		if (slot == OBS_SLOT_NONE)
			return 0;
		if (bpf_map_update_elem(&listen_owner, &port, &slot, BPF_ANY))
			count_drop(OBS_DROP_TCP_FULL);
		return 0;
	case TCP_ESTABLISHED_:
		if (oldstate == TCP_SYN_RECV_) {
			/* Passive open completes in softirq: the listener owns it. */
			__u32 *ls = bpf_map_lookup_elem(&listen_owner, &port);

			if (!ls)
				return 0;
			slot = *ls;
			c = counters_of(slot);
			if (c)
				c->tcp_conn_in++;
			sock_set_owner(sk, slot);
			return 0;
		}
		break;
	case TCP_CLOSE_:
		bpf_map_delete_elem(&sock_owner, &key);
		if (oldstate == TCP_LISTEN_)
			bpf_map_delete_elem(&listen_owner, &port);
		break;
	}

	if (oldstate != TCP_SYN_SENT_)
		return 0;
	cs = bpf_map_lookup_elem(&connect_start, &key);
	if (!cs)
		return 0;
	slot = cs->slot;
	c = counters_of(slot);
	if (newstate == TCP_ESTABLISHED_) {
		hist_record(slot, OBS_H_TCP_CONNECT, 0, 0, bpf_ktime_get_ns() - cs->ts, 0);
		if (c)
			c->tcp_conn_out++;
		sock_set_owner(sk, slot);
	} else if (c) {
		c->tcp_connect_fail++;
	}
	bpf_map_delete_elem(&connect_start, &key);
	return 0;
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(obs_tcp_retransmit_skb, const struct sock *sk)
{
	struct obs_counters *c = counters_of(sock_slot(sk));

	if (c)
		c->tcp_retrans++;
	return 0;
}

SEC("raw_tp/tcp_send_reset")
int BPF_PROG(obs_tcp_send_reset, const struct sock *sk)
{
	struct obs_counters *c;

	if (!sk)
		return 0;
	c = counters_of(sock_slot(sk));
	if (c)
		c->tcp_rst_sent++;
	return 0;
}

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(obs_tcp_receive_reset, struct sock *sk)
{
	struct obs_counters *c = counters_of(sock_slot(sk));

	if (c)
		c->tcp_rst_recv++;
	return 0;
}

static __always_inline void sock_bytes(struct sock *sk, int ret, int sent)
{
	struct obs_counters *c;
	__u32 slot;

	if (ret <= 0)
		return;
	/* inside the send/recv syscall: sys_enter just filled the cache */
	slot = current_slot(this_cpu(), bpf_get_current_task());
	if (slot == OBS_SLOT_NONE || !sk_is_tcp(sk))
		return;
	c = counters_of(slot);
	if (!c)
		return;
	if (sent)
		c->tcp_bytes_sent += ret;
	else
		c->tcp_bytes_recv += ret;
}

SEC("raw_tp/sock_send_length")
int BPF_PROG(obs_sock_send_length, struct sock *sk, int ret, int flags)
{
	sock_bytes(sk, ret, 1);
	return 0;
}

SEC("raw_tp/sock_recv_length")
int BPF_PROG(obs_sock_recv_length, struct sock *sk, int ret, int flags)
{
	sock_bytes(sk, ret, 0);
	return 0;
}

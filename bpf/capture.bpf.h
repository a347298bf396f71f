// SPDX-License-Identifier: GPL-2.0
/*
 * capture.bpf.h - what kernel-side capture's programs share: capture.bpf.c
 * (syscalls on followed connections) defines the maps (CAPTURE_DEFINE),
 * capture_proc.bpf.c (which processes are followed) and goprobe.bpf.c
 * (uprobes on Go programs) declare them extern, and the linker joins
 * them; and the helpers they use to say an event and to know a Go
 * program and its goroutine.
 */
#ifndef CAPTURE_BPF_H
#define CAPTURE_BPF_H
#include "obs_maps.bpf.h"

#ifdef CAPTURE_DEFINE
#define CAPTURE_SHARED
#else
#define CAPTURE_SHARED extern
#endif

/* Processes whose connections are captured (OBS_CAP_ON), or that may be Go
 * programs (OBS_CAP_PROBE: see capture.bpf.c). */
CAPTURE_SHARED struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct obs_cap_proc);
} cap_procs SEC(".maps");

struct cap_sock {
	__u64 conn;
	/* reads and writes numbered, dropped ones too (the collector sees a
	 * gap): a write at entry, before its bytes can reach the peer, so
	 * the answer it gets is numbered after it even when the answer's read
	 * returns (on another CPU) before the write's exit is seen; a read
	 * at exit, when its bytes have come. The collector puts events back
	 * in this order. */
	__u32 seq;
	__u8 looked; /* whose first bytes were looked at: 1 << kind */
	__u8 chunks; /* per read or write */
	__u8 server; /* accepted, not connected */
	__u8 pad;
	/* injection (inject.bpf.h), a server's: 1 + the number of the read
	 * that began the request being served (0 once an answer is written),
	 * its bytes kept so far, and the goroutine that read them last */
	__u32 req_seq;
	__u16 req_len;
	__u16 pad2;
	__u64 req_goid;
};

/* Marked connections (tgid << 32 | fd). */
CAPTURE_SHARED struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct cap_sock);
} cap_socks SEC(".maps");

/* Bumped by whatever changes which tasks are captured (capture.bpf.c's
 * per-CPU cache of the answer is valid while it is unchanged). */
CAPTURE_SHARED __u32 cap_gen;

/* What the collector is told. */
CAPTURE_SHARED struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} cap_events SEC(".maps");

/* Waking the collector for every event would cost a context switch per
 * read and write (on a busy service, more than all the rest): it is woken
 * once a quarter of the ring is used, and drains it at least every second
 * anyway (spans carry the events' own timestamps). */
#define CAP_WAKE_BYTES (1 << 20)

/* The flag for a record about to be sent: wake the collector or not. */
static __always_inline __u64 cap_wake_flag(void)
{
	return bpf_ringbuf_query(&cap_events, BPF_RB_AVAIL_DATA) >= CAP_WAKE_BYTES
		   ? BPF_RB_FORCE_WAKEUP
		   : BPF_RB_NO_WAKEUP;
}

static __always_inline void cap_submit(struct obs_cap_event *e)
{
	bpf_ringbuf_submit(e, cap_wake_flag());
}

/* An event's header: who (id: pid_tgid), when, and nothing moved yet. */
static __always_inline void cap_head(struct obs_cap_event *e, __u32 kind, __u32 fd, __u64 conn,
				     __u64 id, __u64 ts)
{
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->fd = fd;
	e->kind = kind;
	e->conn = conn;
	e->ts_ns = ts;
	e->len = 0;
	e->caplen = 0;
	e->off = 0;
	e->seq = 0;
	e->last = 1;
	e->go_lost = 0;
	e->goid = 0;
}

/* An event of kind, reserved at its largest and filled in with who and
 * when; NULL (and counted) when the ring is full. */
static __always_inline struct obs_cap_event *cap_event(__u32 kind, __u32 fd, __u64 conn)
{
	struct obs_cap_event *e = bpf_ringbuf_reserve(&cap_events, sizeof(*e), 0);

	if (!e) {
		count_drop(OBS_DROP_CAPTURE);
		return NULL;
	}
	cap_head(e, kind, fd, conn, bpf_get_current_pid_tgid(), bpf_ktime_get_ns());
	return e;
}

/* The goroutine whose g is at g_addr (a user address), 0 if unreadable. */
static __always_inline __u64 go_goid(__u64 g_addr, __u32 goid_off)
{
	__u64 goid = 0;

	if (!g_addr || bpf_probe_read_user(&goid, sizeof(goid), (const void *)(g_addr + goid_off)))
		return 0;
	return goid;
}

/* 1: Go's build info is at addr; 0: something else is; -1: unreadable. */
static __always_inline int is_go(__u64 addr)
{
	static const union {
		char s[16];
		__u64 w[2];
	} go = {"\xff Go buildinf:"};
	__u64 magic[2] = {};

	if (bpf_probe_read_user(magic, 14, (const void *)addr))
		return -1;
	return magic[0] == go.w[0] &&
	       (magic[1] & 0xffffffffffffULL) == (go.w[1] & 0xffffffffffffULL);
}

/* Where a syscall's goroutine is read whole: g's first words up to goid
 * (runtime.g starts with its stack's bounds; goid is at 152 in Go 1.19 to
 * 1.23), per CPU (too big for the stack of a program that also chunks). */
#define GO_G_WORDS 32
CAPTURE_SHARED __u64 go_gwords[MAX_CPUS][GO_G_WORDS];

/* The goroutine whose g Go's register ABI (1.17+, amd64) keeps in R14,
 * also at the SYSCALL instruction (Syscall6 leaves it alone): g and goid
 * in one read of user memory, where the thread's TLS takes two, each
 * ~90 ns here. Believed only if the syscall's stack pointer lies in g's
 * stack: code that keeps something else in R14 (an older Go, C in a cgo
 * program, a signal handler) fails that, and is read the TLS way. 0:
 * not so. */
static __always_inline __u64 go_current_r14(__u32 goid_off)
{
#if defined(__TARGET_ARCH_x86)
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	__u64 *w = go_gwords[bpf_get_smp_processor_id() & (MAX_CPUS - 1)];
	__u64 g = r->r14, sp = r->sp;
	__u32 len = goid_off + 8;

	if (!g || (goid_off & 7) || goid_off < 16 || len > GO_G_WORDS * 8 ||
	    bpf_probe_read_user(w, len, (const void *)g))
		return 0;
	if (w[0] > sp || sp >= w[1]) /* stack.lo, stack.hi */
		return 0;
	return w[(goid_off / 8) & (GO_G_WORDS - 1)];
#else
	return 0;
#endif
}

/* The goroutine running on this thread: Go keeps g in thread-local storage
 * (on amd64, just below the thread pointer: the offset comes from the
 * binary), and, from 1.17, in R14. Goroutines move between threads; this
 * is the one that made the syscall. */
static __always_inline __u64 go_current(__s32 tls_g, __u32 goid_off)
{
	__u64 fsbase, g = 0, goid = go_current_r14(goid_off);

	if (goid)
		return goid;
	/* (a BTF pointer: fsbase is a plain load, not a helper's copy) */
	fsbase = bpf_get_current_task_btf()->thread.fsbase;
	if (!fsbase || bpf_probe_read_user(&g, sizeof(g), (const void *)(fsbase + (__s64)tls_g)))
		return 0;
	return go_goid(g, goid_off);
}

#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * capture.bpf.c - kernel-side capture for the programs the shim cannot
 * enter (Go makes its syscalls itself; a static binary has no dynamic
 * linker): the TCP connections a followed process accepts or connects are
 * marked, and a bounded prefix of each read and write on them goes to the
 * collector, whose protocol modules parse it as they parse the shim's
 * bytes. Only processes in cap_procs (set by userspace, kept across fork)
 * and only marked fds cost more than a syscall-number test. The programs
 * load only when something is to be captured.
 */
#define CAPTURE_DEFINE
#define INJECT_DEFINE /* (here: libbpf 1.1 links a map's definition before its uses) */
#include "capture.bpf.h"
#include "capture_wide.bpf.h"
#include "inject.bpf.h"

#define AF_INET_     2
#define AF_INET6_    10
#define EINPROGRESS_ 115

/* A process in cap_procs as OBS_CAP_PROBE (the agent's) may be a Go
 * program: start_data is where Go keeps its build info, not yet readable
 * at exec (the page is not mapped in until the program touches it), so it
 * is looked at again at its next syscalls, this many at most. */
#define OBS_CAP_PROBE_TRIES 64

/* Is the task on this CPU one whose syscalls capture looks at? A cache per
 * CPU of the last answer, valid while cap_gen is unchanged: every syscall
 * on the machine enters and exits here, and most are of processes nobody
 * captures, which then cost no hash lookup. cap_gen is bumped by whatever
 * changes the answer for a task: userspace changing cap_procs, and here a
 * fork or clone of a captured process (a new task may reuse an old one's
 * address), an exec probe, an exit. */
struct obs_cap_cpu cap_cpus[MAX_CPUS];
__u32 cap_gen; /* (capture.bpf.h) */

static __always_inline struct obs_cap_cpu *cap_cpu_of(void)
{
	return &cap_cpus[bpf_get_smp_processor_id() & (MAX_CPUS - 1)];
}

/* 0 if the current task is surely not captured (no hash lookup). */
static __always_inline int maybe_captured(struct obs_cap_cpu *c, __u64 task)
{
	return !(c->task == task && c->gen == cap_gen && !c->captured);
}

/* The answer for task, from its cap_procs entry (NULL: not captured). A
 * captured one keeps what its syscalls read of the entry, so the next ones
 * on this CPU look nothing up: the entry changes only with cap_gen. */
static __always_inline void cap_cpu_set(struct obs_cap_cpu *c, __u64 task, __u32 gen,
					const struct obs_cap_proc *proc)
{
	c->task = task;
	c->gen = gen;
	if (!proc) {
		c->captured = OBS_CAP_CACHED_NO;
	} else if (proc->state != OBS_CAP_ON) {
		c->captured = OBS_CAP_CACHED_LOOKUP;
	} else {
		c->go_tls_g = proc->go_tls_g;
		c->go_goid_off = proc->go_goid_off;
		c->go_lost = proc->go_lost;
		c->inject = proc->inject;
		c->captured = OBS_CAP_CACHED_ON;
	}
}

/* An HTTP/2, PostgreSQL, Redis or MySQL connection (its client preface,
 * startup message, first command or server greeting was seen) gets up to
 * this many chunks' worth of bytes per read or write, 64 KiB: their
 * parsers need every frame or message header (beyond it, only bytes inside
 * a message can be counted, not copied). For HTTP/2: a frame header lost
 * in a prefix would end it (HPACK needs every header block), and grpc-go
 * reads through a 32 KiB buffer and writes through one it flushes past
 * 32 KiB, of twice that (bpftrace: writes of up to 36 986 bytes with
 * 100 KiB messages). 16 KiB, as before, gave up a connection at its first
 * message over ~15 KiB. */
#define CAP_WIDE_CHUNKS 128
/* Any other (HTTP/1) gets 4 KiB: a head, and a chunked body's size lines
 * where a server writes through a buffer of that size (Go's net/http: a
 * 4 KiB bufio.Writer, flushed with a size line anywhere in it; with 512
 * bytes, every chunked answer of a Go handler was given up). Only what a
 * call moved is copied: a small answer costs what it did. */
#define CAP_HTTP1_CHUNKS 8
/* Vectored I/O (readv, writev, recvmsg, sendmsg): the buffers looked at. */
#define CAP_IOVS 8

#include "capture_chunks.bpf.h"

/* A syscall in flight is kept per CPU, from its enter to its exit: most
 * of a captured read or write runs without leaving the CPU (a Go program's
 * sockets never block), and a hash update and delete per call were the
 * largest part of capture's cost. A task that leaves the CPU inside one
 * (a blocking read) has it parked in cap_calls (key: pid_tgid) by
 * obs_cap_switch, where its exit finds it. */
struct cap_inflight {
	__u64 task; /* 0: none */
	__u64 pid_tgid;
	struct cap_call call;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cap_inflight);
} cap_cur SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct cap_call);
} cap_calls SEC(".maps");

static __always_inline struct cap_inflight *cap_cur_of(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cap_cur, &zero);
}

__u64 cap_next_conn = 0;

/* A new connection: marked, and said with its peer. */
static __always_inline void cap_open(__u32 tgid, __u32 fd, __u32 kind, const void *addr, int user)
{
	__u64 key = (__u64)tgid << 32 | fd;
	struct cap_sock s = {.conn = __sync_fetch_and_add(&cap_next_conn, 1) + 1,
			     .chunks = CAP_HTTP1_CHUNKS,
			     .server = kind == OBS_CAP_OPEN_SERVER};
	struct obs_cap_event *e;

	if (bpf_map_update_elem(&cap_socks, &key, &s, BPF_ANY)) {
		count_drop(OBS_DROP_CAPTURE);
		return;
	}
	e = cap_event(kind, fd, s.conn);
	if (!e)
		return;
	if (user)
		bpf_probe_read_user(e->data, 28, addr);
	else
		bpf_probe_read_kernel(e->data, 28, addr);
	e->caplen = 28;
	cap_submit(e);
}

/* A syscall's first three arguments, from the task's saved user
 * registers (the ones the tracepoint is given): through BTF pointers they
 * are plain loads, where reading the tracepoint's pt_regs is a helper
 * call and its checks. */
static __always_inline void sys_args3(__u64 args[3])
{
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	args[0] = r->di;
	args[1] = r->si;
	args[2] = r->dx;
}

static __always_inline int is_write(__u32 nr)
{
	return nr == NR_write || nr == NR_sendto || nr == NR_writev || nr == NR_sendmsg;
}

static __always_inline int is_read(__u32 nr)
{
	return nr == NR_read || nr == NR_recvfrom || nr == NR_readv || nr == NR_recvmsg;
}

/* Tail-called by obs_sys_enter (cap_tail), never attached itself. */
SEC("raw_tp/sys_enter")
int BPF_PROG(obs_cap_enter, struct pt_regs *regs, long id)
{
	__u64 pid_tgid, key;
	__u32 tgid, fd;
	struct cap_call call = {};
	struct cap_inflight *cur;
	struct obs_cap_proc *proc;
	struct cap_sock *s;
	__u64 task, args[3];
	__u32 gen;
	struct obs_cap_cpu *cpu;

	if (!cap_wanted(id)) /* (obs_sys_enter asked already; a cheap second word) */
		return 0;
	task = bpf_get_current_task();
	cpu = cap_cpu_of();
	gen = cap_gen; /* (read before the lookup: a change meanwhile refills) */
	/* (a task the cache answers for reads no pid: most on the machine
	 * are not captured) */
	if (cpu->task != task || cpu->gen != gen || cpu->captured == OBS_CAP_CACHED_LOOKUP) {
		tgid = bpf_get_current_pid_tgid() >> 32;
		proc = bpf_map_lookup_elem(&cap_procs, &tgid);
		if (proc && proc->state == OBS_CAP_PROBE) {
			int go = is_go(proc->start_data);

			if (go == 1) {
				struct obs_cap_event *e = cap_event(OBS_CAP_GO, 0, 0);

				proc->state = OBS_CAP_ON; /* from this syscall on */
				if (e)
					cap_submit(e);
			} else if (go == 0 || ++proc->tries > OBS_CAP_PROBE_TRIES) {
				bpf_map_delete_elem(&cap_procs, &tgid);
				__sync_fetch_and_add(&cap_gen, 1);
				proc = NULL;
			}
		}
		cap_cpu_set(cpu, task, gen, proc);
	}
	if (cpu->captured != OBS_CAP_CACHED_ON)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	tgid = pid_tgid >> 32;
	sys_args3(args);
	fd = (__u32)args[0];
	key = (__u64)tgid << 32 | fd;
	call.nr = (__u32)id;
	call.fd = fd;
	switch (id) {
	case NR_accept:
	case NR_accept4:
		call.buf = args[1];
		break;
	case NR_connect: /* (its address is read at exit, see cap_end) */
		call.buf = args[1];
		call.iovcnt = (__u32)args[2]; /* addrlen */
		if (cpu->inject)	      /* net/http's? (inject.bpf.h) */
			call.armed = (__u8)inj_connect(pid_tgid,
						       go_current(cpu->go_tls_g, cpu->go_goid_off));
		break;
	case NR_close:
		s = bpf_map_lookup_elem(&cap_socks, &key);
		if (s) {
			struct obs_cap_event *e = cap_event(OBS_CAP_CLOSE, fd, s->conn);

			if (e)
				cap_submit(e);
			bpf_map_delete_elem(&cap_socks, &key);
		}
		return 0;
	default: /* read, write, recvfrom, sendto, and the vectored ones */
		call.key = key;
		/* a read's connection is looked up at exit, and only if it
		 * moved bytes: most of a Go server's reads end in EAGAIN, and
		 * a read on a file or pipe costs only what is kept here */
		if (is_write(id)) {
			s = bpf_map_lookup_elem(&cap_socks, &key);
			if (!s)
				return 0;
			call.conn = s->conn;
			call.seq = __sync_fetch_and_add(&s->seq, 1);
			/* injection: a server's answer ends its request; a
			 * client's write may be the one its call's context
			 * is to go out with (before tcp_sendmsg runs) */
			if (cpu->inject && s->server)
				s->req_seq = 0;
			else if (cpu->inject)
				call.armed = (__u8)inj_arm(
				    pid_tgid, go_current(cpu->go_tls_g, cpu->go_goid_off));
		}
		call.buf = args[1];
		/* (recvmsg's and sendmsg's msghdr is read at exit, as
		 * connect's address: see cap_msg) */
		if (id == NR_readv || id == NR_writev) {
			call.iovcnt = (__u32)args[2];
			if (!call.iovcnt)
				return 0; /* no buffer to look at */
		}
		/* the goroutine is read at exit, and only for a call that
		 * moved bytes (most of a Go server's reads end in EAGAIN): a
		 * goroutine in a syscall keeps its thread, to the end */
		if (cpu->go_goid_off) {
			call.go_tls_g = cpu->go_tls_g;
			call.go_goid_off = cpu->go_goid_off;
			call.go_lost = cpu->go_lost;
			call.inject = (__u8)cpu->inject;
		}
		break;
	}
	cur = cap_cur_of();
	if (!cur)
		return 0;
	cur->call = call;
	cur->pid_tgid = pid_tgid;
	cur->task = task;
	return 0;
}

/* The buffer i of a vectored call's iovec array at iov: base and length. */
static __always_inline int iov_at(__u64 iov, __u32 i, __u64 *base, __u64 *len)
{
	__u64 v[2] = {};

	if (bpf_probe_read_user(v, sizeof(v), (const void *)(iov + 16 * (__u64)i)))
		return -1;
	*base = v[0];
	*len = v[1];
	return 0;
}

/* What a read or write moved: its first bytes, in chunks of OBS_CAP_BYTES
 * (up to CAP_HTTP1_CHUNKS for HTTP/1, CAP_WIDE_CHUNKS for HTTP/2 and the data stores),
 * each numbered. A
 * vectored call's first CAP_IOVS buffers are gathered first, so that a
 * head split over several arrives whole. */
static __always_inline void cap_data(struct cap_call *call, struct cap_sock *s, __u32 n,
				     const struct cap_now *now)
{
	__u32 kind = is_read(call->nr) ? OBS_CAP_IN : OBS_CAP_OUT;
	struct cap_scratch *sc;
	__u32 cpu = bpf_get_smp_processor_id(), want, pos = 0, seq;
	__u64 base, len = 0;

	if (!(s->looked & (1 << kind))) {
		/* the first bytes each way: a connection whose parser needs
		 * every header gets 64 KiB per call (capture_wide.bpf.h) */
		__u64 head = 0;
		int w;

		s->looked |= 1 << kind;
		base = call->buf;
		if (call->iovcnt && iov_at(call->buf, 0, &base, &len))
			base = 0;
		if (base && n >= 8 && !bpf_probe_read_user(&head, 8, (const void *)base)) {
			w = cap_first_bytes(head, kind);
			if (w == CAP_FIRST_WIDE)
				s->chunks = CAP_WIDE_CHUNKS;
			else if (w == CAP_FIRST_AGAIN)
				s->looked &= (__u8) ~(1 << kind);
		}
	}
	if (!(sc = bpf_map_lookup_elem(&cap_scratch, &cpu)))
		return;
	want = s->chunks * OBS_CAP_BYTES;
	if (want > CAP_GATHER)
		want = CAP_GATHER;
	if (want > n)
		want = n;
	for (__u32 i = 0; i < CAP_IOVS; i++) {
		__u32 take;

		if (pos >= want)
			break;
		if (!call->iovcnt) { /* a plain call: one buffer (none: 0) */
			if (i || !call->buf)
				break;
			base = call->buf;
			len = n;
		} else if (i >= call->iovcnt || iov_at(call->buf, i, &base, &len)) {
			break;
		}
		take = len < want - pos ? (__u32)len : want - pos;
		/* (both at most CAP_GATHER, as the verifier must see: within
		 * the buffer after the header's room) */
		if (pos > CAP_GATHER || take > CAP_GATHER ||
		    bpf_probe_read_user(&sc->buf[CAP_HDR + pos], take, (const void *)base))
			break;
		pos += take;
	}
	/* through memory: every way out of the loop above then reaches the
	 * chunking with the same state, not a state per way (too many paths
	 * for the verifier otherwise) */
	call->have = pos;
	seq = kind == OBS_CAP_IN ? __sync_fetch_and_add(&s->seq, 1) : call->seq;
	/* injection: a server read may begin a request, or go on with one */
	if (call->inject && kind == OBS_CAP_IN && s->server && pos)
		inj_server_read(now->id >> 32, call->goid, call->fd, s, seq, &sc->buf[CAP_HDR],
				pos);
	cap_chunks(call, seq, kind, n, sc, *(volatile __u32 *)&call->have & 0x1ffff, s->chunks,
		   now);
}

/* recvmsg's or sendmsg's buffers, from its msghdr (msg_iov at 16,
 * msg_iovlen at 24), read at exit: the kernel has read it, so its page is
 * in (read at entry, it may not be, and the call went unseen). Unreadable:
 * counted, and its bytes said as moved but not copied (the collector
 * skips them, and gives up a connection it cannot follow past them). */
static __always_inline void cap_msg(struct cap_call *call)
{
	__u64 mh[2] = {};

	if (bpf_probe_read_user(mh, sizeof(mh), (const void *)(call->buf + 16))) {
		count_drop(OBS_DROP_CAPTURE);
		mh[0] = 0;
		mh[1] = 0;
	}
	call->buf = mh[1] ? mh[0] : 0;
	call->iovcnt = (__u32)mh[1];
}

/* A write that moved nothing (EAGAIN, an error) still took a number at
 * entry: said, so the collector does not wait for it. */
static __always_inline void cap_nothing(struct cap_call *call)
{
	struct obs_cap_event *e = cap_event(OBS_CAP_OUT, call->fd, call->conn);

	if (!e)
		return;
	e->seq = call->seq;
	e->goid = call->goid;
	e->go_lost = call->go_lost;
	e->len = 0;
	e->off = 0;
	e->last = 1;
	e->caplen = 0;
	cap_submit(e);
}

/* A captured call's end: a new connection said, or what a read or write
 * moved. */
static __always_inline void cap_end(struct cap_call *call, const struct cap_now *now, long ret)
{
	__u32 tgid = now->id >> 32;
	struct cap_sock *s;

	switch (call->nr) {
	case NR_accept:
	case NR_accept4:
		if (ret >= 0) {
			__u8 addr[28] = {};
			__u16 family;

			if (call->buf &&
			    bpf_probe_read_user(addr, sizeof(addr), (const void *)call->buf)) {
				count_drop(OBS_DROP_CAPTURE); /* (said, not guessed) */
				break;
			}
			family = *(__u16 *)addr;
			/* a Unix socket's peer is no TCP connection */
			if (!call->buf || family == AF_INET_ || family == AF_INET6_)
				cap_open(tgid, (__u32)ret, OBS_CAP_OPEN_SERVER, addr, 0);
		}
		break;
	case NR_connect:
		/* The peer's address is read here, not at entry: at entry its
		 * page may not be in yet (a Go goroutine's stack just grown, a
		 * fresh heap span), the read fails, and the connection went
		 * unmarked, its requests lost without a word. The kernel has
		 * read it by now. Only addrlen bytes: 28 from a 16-byte IPv4
		 * address at a page's end reached into the next page. */
		if (ret == 0 || ret == -EINPROGRESS_) {
			__u8 addr[28] = {};
			__u32 alen = call->iovcnt < sizeof(addr) ? call->iovcnt : sizeof(addr);
			__u16 family;

			if (alen < 2 ||
			    bpf_probe_read_user(addr, alen & 31, (const void *)call->buf)) {
				count_drop(OBS_DROP_CAPTURE);
				break;
			}
			family = *(__u16 *)addr;
			if (family == AF_INET_ || family == AF_INET6_)
				cap_open(tgid, call->fd, OBS_CAP_OPEN_CLIENT, addr, 0);
		}
		break;
	default:
		if (ret <= 0 && !is_write(call->nr))
			break; /* a read that moved nothing says nothing */
		if (ret > 0) {
			s = bpf_map_lookup_elem(&cap_socks, &call->key);
			if (!s)
				break; /* not a followed connection (a read's), or closed */
			call->conn = s->conn;
		}
		if (call->go_goid_off)
			call->goid = go_current(call->go_tls_g, call->go_goid_off);
		if (ret <= 0) {
			cap_nothing(call);
			break;
		}
		if (call->nr == NR_recvmsg || call->nr == NR_sendmsg)
			cap_msg(call);
		cap_data(call, s, (__u32)ret, now);
		break;
	}
}

/* Tail-called by obs_sys_exit (cap_tail), never attached itself. */
SEC("raw_tp/sys_exit")
int BPF_PROG(obs_cap_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid, task = bpf_get_current_task();
	struct cap_inflight *cur;
	struct obs_cur_sys *c;
	struct cap_call *call;
	struct cap_now now;
	int parked = 0;

	/* a call was kept at entry only for a captured task (the cache
	 * cannot say "not captured" of one with a call kept: it changes only
	 * with cap_gen, and then it is looked up again) */
	if (!maybe_captured(cap_cpu_of(), task))
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	cur = cap_cur_of();
	if (!cur)
		return 0;
	if (cur->task == task && cur->pid_tgid == pid_tgid) {
		call = &cur->call;
		cur->task = 0;
	} else {
		call = bpf_map_lookup_elem(&cap_calls, &pid_tgid);
		if (!call)
			return 0;
		parked = 1;
	}
	now.id = pid_tgid;
	/* obs_sys_exit, which tail-called us, has just read the clock */
	c = this_cpu();
	now.ts = c->end_task == task ? c->end : bpf_ktime_get_ns();
	/* an arming outlives no syscall (the socket may not be in the
	 * sockhash: connected before obs attached) */
	if (call->armed && call->nr == NR_connect)
		bpf_map_delete_elem(&inj_dialer, &pid_tgid);
	else if (call->armed)
		bpf_map_delete_elem(&inj_armed, &pid_tgid);
	cap_end(call, &now, ret);
	if (parked)
		bpf_map_delete_elem(&cap_calls, &pid_tgid);
	return 0;
}

/* Tail-called by obs_sched_switch (cap_tail): a task leaving the CPU in
 * the middle of a captured syscall takes its call along, into cap_calls.
 * A read is kept at entry whatever its fd (its connection is looked up at
 * exit): one blocked on a pipe or a terminal is let go here, so that only
 * followed connections' calls take room in cap_calls, as before. */
SEC("raw_tp/sched_switch")
int BPF_PROG(obs_cap_switch, bool preempt, struct task_struct *prev)
{
	struct cap_inflight *cur = cap_cur_of();

	if (!cur || cur->task != (__u64)prev)
		return 0;
	if (is_read(cur->call.nr) && !bpf_map_lookup_elem(&cap_socks, &cur->call.key)) {
		cur->task = 0;
		return 0;
	}
	if (bpf_map_update_elem(&cap_calls, &cur->pid_tgid, &cur->call, BPF_ANY))
		count_drop(OBS_DROP_CAPTURE);
	cur->task = 0;
	return 0;
}

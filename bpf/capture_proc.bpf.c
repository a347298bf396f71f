// SPDX-License-Identifier: GPL-2.0
/*
 * capture_proc.bpf.c - which processes kernel-side capture follows, as
 * they come and go: a captured process's children are captured too, the
 * agent has every exec'd program probed for Go (capture.bpf.c looks at
 * its build info at its first syscalls), and a process that exits leaves
 * cap_procs. Each change bumps cap_gen, so that capture.bpf.c's per-CPU
 * answers are asked again.
 */
#include "capture.bpf.h"

/* Set by userspace: probe every exec'd program for Go (the agent). */
const volatile __u32 cap_probe_exec = 0;

/* A new process of a captured one is captured too (its connections:
 * those it makes from now on; an fd it inherited stays its parent's). */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(obs_cap_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
	struct obs_cap_proc *p = bpf_map_lookup_elem(&cap_procs, &ptgid);

	if (!p)
		return 0;
	/* a new task of a captured process (a thread too) */
	__sync_fetch_and_add(&cap_gen, 1);
	if (ptgid != ctgid && p->state == OBS_CAP_ON)
		bpf_map_update_elem(&cap_procs, &ctgid, p, BPF_ANY);
	return 0;
}

/* The agent: is the new program Go? (A captured process that execs stays
 * captured: it was named so.) */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(obs_cap_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct obs_cap_proc *cur, probe = {.state = OBS_CAP_PROBE};

	if (!cap_probe_exec)
		return 0;
	cur = bpf_map_lookup_elem(&cap_procs, &tgid);
	if (cur && cur->state == OBS_CAP_ON)
		return 0;
	probe.start_data = BPF_CORE_READ(p, mm, start_data);
	if (bpf_map_update_elem(&cap_procs, &tgid, &probe, BPF_ANY))
		count_drop(OBS_DROP_CAPTURE);
	__sync_fetch_and_add(&cap_gen, 1);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(obs_cap_exit_proc, struct task_struct *p, bool group_dead)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (group_dead) {
		if (!bpf_map_delete_elem(&cap_procs, &tgid))
			__sync_fetch_and_add(&cap_gen, 1);
	} else if (bpf_map_lookup_elem(&cap_procs, &tgid)) {
		/* a captured thread's task may be reused by any other: the
		 * per-CPU answers keyed by it are stale */
		__sync_fetch_and_add(&cap_gen, 1);
	}
	return 0;
}

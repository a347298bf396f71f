// SPDX-License-Identifier: GPL-2.0
/* Reference point for the benchmark: two empty raw tracepoint programs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("raw_tp/sys_enter")
int empty_enter(void *ctx)
{
	return 0;
}

SEC("raw_tp/sys_exit")
int empty_exit(void *ctx)
{
	return 0;
}

/* The floor for any latency histogram: the same two programs, each
 * reading the clock once (what start/stop timing cannot avoid). */
__u64 sink;

SEC("raw_tp/sys_enter")
int clock_enter(void *ctx)
{
	sink = bpf_ktime_get_ns();
	return 0;
}

SEC("raw_tp/sys_exit")
int clock_exit(void *ctx)
{
	sink = bpf_ktime_get_ns();
	return 0;
}

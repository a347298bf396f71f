// SPDX-License-Identifier: GPL-2.0
/*
 * disk.bpf.c - block I/O latency per request (biolatency's raw-tracepoint
 * variant), charged to the process that asked for it.
 */
#include "obs_maps.bpf.h"

/* In-flight block requests (key: struct request *). ts == 0: inserted only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ts_slot);
} disk_start SEC(".maps");

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

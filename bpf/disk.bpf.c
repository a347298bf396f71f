// SPDX-License-Identifier: GPL-2.0
/*
 * disk.bpf.c - block I/O latency per request (biolatency's raw-tracepoint
 * variant), charged to the process that asked for it.
 */
#include "obs_maps.bpf.h"

/*
 * Who asked for a block request is known only in the submitter's context:
 * block_io_start (kernel 6.5+) fires there for every request, when it is
 * made from its bio. Issue is no such place: a request queued behind a busy
 * device is dispatched later by whichever task runs the queue (kblockd, or
 * another process submitting its own I/O), so charging issue's current task
 * both lost a tracked process's requests and charged it others'. Set by
 * userspace: the kernel has block_io_start (else block_rq_insert stands in,
 * and issue charges its current task, biolatency's rule).
 */
const volatile __u32 disk_io_start_on;

/* A request in flight: when it was made and issued, and for whom. */
struct disk_req {
	__u64 made_ts;
	__u64 issue_ts; /* 0: not issued yet */
	__u32 slot;
	__u32 pad;
};

/* In-flight block requests (key: struct request *). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct disk_req);
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

/* The current task asks for rq: remember it, if it is followed. */
static __always_inline void disk_remember(struct request *rq, __u64 issue_ts)
{
	struct disk_req v = {.made_ts = bpf_ktime_get_ns(), .issue_ts = issue_ts};
	__u64 key = (__u64)rq;

	v.slot = slot_of_tgid(bpf_get_current_pid_tgid() >> 32);
	if (v.slot == OBS_SLOT_NONE)
		return;
	/* BPF_ANY: a request merged away in the scheduler never completes;
	 * its address comes back with a new request, which replaces it */
	if (bpf_map_update_elem(&disk_start, &key, &v, BPF_ANY))
		count_drop(OBS_DROP_DISK_FULL);
}

SEC("raw_tp/block_io_start")
int BPF_PROG(obs_block_io_start, struct request *rq)
{
	disk_remember(rq, 0);
	return 0;
}

/* Loaded only where the kernel has no block_io_start. */
SEC("raw_tp/block_rq_insert")
int BPF_PROG(obs_block_rq_insert, struct request *rq)
{
	disk_remember(rq, 0);
	return 0;
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(obs_block_rq_issue, struct request *rq)
{
	__u64 key = (__u64)rq;
	struct disk_req *v = bpf_map_lookup_elem(&disk_start, &key);

	if (v) {
		v->issue_ts = bpf_ktime_get_ns(); /* again if requeued */
		return 0;
	}
	/* not made by a followed process */
	if (disk_io_start_on)
		return 0;
	/* an older kernel's request issued without an insert (no I/O
	 * scheduler): issued directly, by the task that made it */
	disk_remember(rq, bpf_ktime_get_ns());
	return 0;
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(obs_block_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	__u64 key = (__u64)rq;
	struct disk_req *v = bpf_map_lookup_elem(&disk_start, &key);
	struct gendisk *disk;
	__u64 from;
	__u32 dev;

	if (!v)
		return 0;
	/* the device's time; a request whose issue was not seen (none
	 * known) still counts, timed from when it was made */
	from = v->issue_ts ? v->issue_ts : v->made_ts;
	disk = BPF_CORE_READ(rq, q, disk);
	dev = ((__u32)BPF_CORE_READ(disk, major) << 20) | (__u32)BPF_CORE_READ(disk, first_minor);
	hist_record(v->slot, OBS_H_DISK, disk_op(rq), dev, bpf_ktime_get_ns() - from, nr_bytes);
	bpf_map_delete_elem(&disk_start, &key);
	return 0;
}

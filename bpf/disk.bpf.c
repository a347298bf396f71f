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

/* A request in flight: when it was made and issued, and for whom; what it
 * was when made (its bytes count if its end goes unseen). */
struct disk_req {
	__u64 made_ts;
	__u64 issue_ts; /* 0: not issued yet */
	__u32 slot;
	__u32 dev;
	__u32 bytes;
	__u16 op;
	__u16 pad;
};

/* In-flight block requests (key: struct request *). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct disk_req);
} disk_start SEC(".maps");

/*
 * Merges. The I/O scheduler merges a bio into a request (block_bio_*merge,
 * in the submitter's context) and a request into another (block_rq_merge),
 * whoever made either: a merged request never completes, its bios now end
 * the other's (lost before: 498 of dd's 500 writes in CI, two merged into
 * a writeback request; and a request counted bytes others had merged in).
 * Each merged bio, and each merged request's first bio, is kept here
 * (keys: the bio's address; with bit 0 set for a request), and the
 * completing request's bios are walked: a merged request counts as the
 * request it was, with its bios' bytes; a bio merged into another's
 * request counts as one of its maker's; the request keeps only its own
 * bytes. While followed requests are in flight, others' merges are kept
 * too (slot OBS_SLOT_NONE), so a followed request does not count them.
 */
struct disk_merged {
	__u64 made_ts;
	__u64 issue_ts; /* 0: not issued yet */
	__u32 slot;
	__u16 op;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct disk_merged);
} disk_merged SEC(".maps");

/* Entries in disk_start and in disk_merged: a request's bios are walked
 * only while some merge waits in disk_merged. */
__u32 disk_inflight_n;
__u32 disk_merged_n;

/*
 * Followed requests that ended unseen by this program: on Linux 6.18
 * (virtio-blk), while another process fsyncs, obs_block_rq_complete does
 * not see the end of 1 to 59 of dd's 500 direct writes, though ftrace
 * records block_rq_complete for each of them and the program records no
 * recursion miss (bpftrace's tracepoint programs, without obs, miss some
 * too). Not yet explained. Known when a new request, anyone's, is made
 * at the address of one still in flight: its latency is lost, but it is
 * counted here (obs_disk_io_end_unseen_total) and its bytes in its
 * service's series, not hidden.
 */
__u64 disk_unseen_n;

/* Bios walked per request, at most: a request holds max_segments (often
 * 128 to 256) of them. */
#define DISK_WALK_MAX 512
#define DISK_KEY_RQ   1ULL

/* ---- block I/O ---------------------------------------------------------- */

/* The operation of a request's cmd_flags or a bio's bi_opf. */
static __always_inline __u16 disk_op_of(__u32 opf)
{
	/* REQ_OP_* values are a stable part of the block layer's ABI. */
	switch (opf & 0xff) {
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

static __always_inline __u16 disk_op(struct request *rq)
{
	return disk_op_of(BPF_CORE_READ(rq, cmd_flags));
}

/* The device of rq, as the collector names it (major << 20 | minor). */
static __always_inline __u32 disk_dev(struct request *rq)
{
	struct gendisk *disk = BPF_CORE_READ(rq, q, disk);

	return ((__u32)BPF_CORE_READ(disk, major) << 20) | (__u32)BPF_CORE_READ(disk, first_minor);
}

/* rq's entry is gone: it completed or was merged away. */
static __always_inline void disk_forget(__u64 *key)
{
	if (!bpf_map_delete_elem(&disk_start, key))
		__sync_fetch_and_add(&disk_inflight_n, -1);
}

/* A request is made at the address of old, a followed one still in
 * flight: old ended unseen. Counted, and its bytes (as made) go to its
 * service's series: they moved. (Not on older kernels, where insert
 * fires again for a requeued request.) */
static __always_inline void disk_unseen(const struct disk_req *old)
{
	struct obs_hist *h;

	if (!disk_io_start_on)
		return;
	__sync_fetch_and_add(&disk_unseen_n, 1);
	if ((h = hist_of(old->slot, OBS_H_DISK, old->op, old->dev)))
		h->bytes += old->bytes;
}

/* The current task asks for rq: remember it, if it is followed. */
static __always_inline void disk_remember(struct request *rq, __u64 issue_ts)
{
	struct disk_req v = {.issue_ts = issue_ts}, *old;
	__u64 key = (__u64)rq;

	v.slot = slot_of_tgid(bpf_get_current_pid_tgid() >> 32);
	if (v.slot == OBS_SLOT_NONE) {
		/* another's request at the address of one of ours in flight:
		 * ours ended unseen (not before block_io_start: insert fires
		 * again, in kblockd, for a requeued request) */
		if (disk_io_start_on && disk_inflight_n &&
		    (old = bpf_map_lookup_elem(&disk_start, &key))) {
			disk_unseen(old);
			disk_forget(&key);
		}
		return;
	}
	old = bpf_map_lookup_elem(&disk_start, &key);
	if (old)
		disk_unseen(old);
	v.made_ts = bpf_ktime_get_ns();
	v.dev = disk_dev(rq);
	v.bytes = BPF_CORE_READ(rq, __data_len);
	v.op = disk_op(rq);
	/* BPF_ANY: a request whose end was not seen leaves its address to
	 * the next request made there */
	if (bpf_map_update_elem(&disk_start, &key, &v, BPF_ANY))
		count_drop(OBS_DROP_DISK_FULL);
	else if (!old)
		__sync_fetch_and_add(&disk_inflight_n, 1);
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

/* Keep a merge (value m) under key, if anyone followed may be involved. */
static __always_inline void disk_keep(__u64 key, struct disk_merged *m)
{
	int known;

	if (m->slot == OBS_SLOT_NONE && !disk_inflight_n)
		return;
	m->made_ts = m->made_ts ? m->made_ts : bpf_ktime_get_ns();
	known = bpf_map_lookup_elem(&disk_merged, &key) != NULL;
	/* BPF_ANY: one a walk did not reach (over DISK_WALK_MAX bios) leaves
	 * its address to the next bio there */
	if (bpf_map_update_elem(&disk_merged, &key, m, BPF_ANY))
		count_drop(OBS_DROP_DISK_FULL);
	else if (!known)
		__sync_fetch_and_add(&disk_merged_n, 1);
}

SEC("raw_tp/block_rq_merge")
int BPF_PROG(obs_block_rq_merge, struct request *rq)
{
	__u64 key = (__u64)rq;
	struct disk_req *v = bpf_map_lookup_elem(&disk_start, &key);
	struct disk_merged m = {.slot = OBS_SLOT_NONE, .op = disk_op(rq)};
	__u64 bio = (__u64)BPF_CORE_READ(rq, bio);

	if (v) {
		m.made_ts = v->made_ts;
		m.issue_ts = v->issue_ts;
		m.slot = v->slot;
		disk_forget(&key);
	}
	if (bio)
		disk_keep(bio | DISK_KEY_RQ, &m);
	return 0;
}

/* Before 6.12 a plug's requests were a list of their own. */
struct blk_plug___old {
	struct request *mq_list;
} __attribute__((preserve_access_index));

/*
 * 1 if bio, merged by the current task, adjoins the newest request in the
 * task's own plug (its head, or its tail since 6.12): a plug merge, into a
 * request the task made itself. Those are most merges (a writeback's pages
 * joining its request one by one), and keeping each one made every such
 * request's completion walk its bios: 3 us a request more, measured.
 */
static __always_inline int disk_plug_merge(struct bio *bio)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	struct blk_plug *plug = BPF_CORE_READ(t, plug);
	struct request_queue *q;
	struct request *rq[2] = {};
	__u64 s, e;

	if (!plug)
		return 0;
	if (bpf_core_type_exists(struct rq_list)) {
		rq[0] = BPF_CORE_READ(plug, mq_list.head);
		rq[1] = BPF_CORE_READ(plug, mq_list.tail);
	} else {
		rq[0] = BPF_CORE_READ((struct blk_plug___old *)plug, mq_list);
	}
	q = BPF_CORE_READ(bio, bi_bdev, bd_disk, queue);
	s = BPF_CORE_READ(bio, bi_iter.bi_sector);
	e = s + (BPF_CORE_READ(bio, bi_iter.bi_size) >> 9);
	for (int i = 0; i < 2; i++) {
		__u64 rs, re;

		if (!rq[i] || BPF_CORE_READ(rq[i], q) != q)
			continue;
		/* the tracepoint fires before the request grows */
		rs = BPF_CORE_READ(rq[i], __sector);
		re = rs + (BPF_CORE_READ(rq[i], __data_len) >> 9);
		if (re == s || e == rs)
			return 1;
	}
	return 0;
}

static __always_inline void disk_bio_merge(struct bio *bio)
{
	struct disk_merged m = {.op = disk_op_of(BPF_CORE_READ(bio, bi_opf))};

	if (disk_plug_merge(bio))
		return;
	m.slot = slot_of_tgid(bpf_get_current_pid_tgid() >> 32);
	disk_keep((__u64)bio, &m);
}

SEC("raw_tp/block_bio_backmerge")
int BPF_PROG(obs_block_bio_backmerge, struct bio *bio)
{
	disk_bio_merge(bio);
	return 0;
}

SEC("raw_tp/block_bio_frontmerge")
int BPF_PROG(obs_block_bio_frontmerge, struct bio *bio)
{
	disk_bio_merge(bio);
	return 0;
}

/*
 * One walk of a completing (or issued) request's bios, for bpf_loop. The
 * bios run in request order: the request's own, then each merged
 * request's after its first bio; run is whose request the walk is in.
 */
struct disk_walk {
	struct bio *bio;
	__u64 now;
	__u32 dev;
	__u32 complete;
	struct disk_merged run;
	__u64 run_bytes;
};

static __always_inline void disk_account(struct disk_walk *w, struct disk_merged *m, __u64 bytes)
{
	__u64 from = m->issue_ts ? m->issue_ts : m->made_ts;

	/* the device's time; one whose issue was not seen (none known)
	 * still counts, timed from when it was made */
	if (m->slot != OBS_SLOT_NONE)
		hist_record(m->slot, OBS_H_DISK, m->op, w->dev, w->now - from, bytes);
}

/* The merge kept under key, if any: at issue, it is issued (0); at
 * completion, it is copied to out and forgotten (1). */
static __always_inline int disk_found(struct disk_walk *w, __u64 key, struct disk_merged *out)
{
	struct disk_merged *m = bpf_map_lookup_elem(&disk_merged, &key);

	if (!m)
		return 0;
	if (!w->complete) {
		m->issue_ts = w->now;
		return 0;
	}
	*out = *m;
	if (!bpf_map_delete_elem(&disk_merged, &key))
		__sync_fetch_and_add(&disk_merged_n, -1);
	return 1;
}

static long disk_walk_bio(__u32 i, void *ctx)
{
	struct disk_walk *w = ctx;
	struct bio *bio = w->bio;
	struct disk_merged m;
	__u64 size;

	(void)i;
	if (!bio)
		return 1;
	size = BPF_CORE_READ(bio, bi_iter.bi_size);
	if (disk_found(w, (__u64)bio | DISK_KEY_RQ, &m)) {
		/* a merged request begins here: the one before ends */
		disk_account(w, &w->run, w->run_bytes);
		w->run = m;
		w->run_bytes = 0;
	}
	if (disk_found(w, (__u64)bio, &m) && m.slot != w->run.slot)
		disk_account(w, &m, size); /* another's bio */
	else
		w->run_bytes += size;
	w->bio = BPF_CORE_READ(bio, bi_next);
	return 0;
}

static __always_inline void disk_walk(struct request *rq, struct disk_walk *w)
{
	w->bio = BPF_CORE_READ(rq, bio);
	bpf_loop(DISK_WALK_MAX, disk_walk_bio, w, 0);
	if (w->complete)
		disk_account(w, &w->run, w->run_bytes);
}

/*
 * Issue and completion while merges wait (disk_merged_n) are tail calls
 * into their walking variants: bpf_loop (kernel 5.17+) is only in those,
 * so an older kernel loads the rest, without the merge programs, and
 * merges are not corrected there (collector.c, obs check). A tail call
 * that finds no program returns, and the plain path runs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, OBS_DISK_TAILS);
	__type(key, __u32);
	__type(value, __u32);
} disk_tail SEC(".maps");

static __always_inline void disk_issue(struct request *rq, int walk)
{
	__u64 key = (__u64)rq;
	struct disk_req *v = bpf_map_lookup_elem(&disk_start, &key);

	if (walk) {
		struct disk_walk w = {.now = bpf_ktime_get_ns()};

		disk_walk(rq, &w);
	}
	if (v) {
		v->issue_ts = bpf_ktime_get_ns(); /* again if requeued */
		return;
	}
	/* not made by a followed process */
	if (disk_io_start_on)
		return;
	/* an older kernel's request issued without an insert (no I/O
	 * scheduler): issued directly, by the task that made it */
	disk_remember(rq, bpf_ktime_get_ns());
}

static __always_inline void disk_complete(struct request *rq, unsigned int nr_bytes, int walk)
{
	__u64 key = (__u64)rq;
	struct disk_req *v = bpf_map_lookup_elem(&disk_start, &key);
	struct disk_walk w = {.complete = 1};

	if (!v && !walk)
		return; /* every other process's request: no clock read */
	w.now = bpf_ktime_get_ns();
	w.dev = disk_dev(rq);
	w.run.slot = OBS_SLOT_NONE;
	w.run.op = disk_op(rq);
	if (v) {
		w.run.slot = v->slot;
		w.run.made_ts = v->made_ts;
		w.run.issue_ts = v->issue_ts;
		disk_forget(&key);
	}
	if (walk)
		disk_walk(rq, &w); /* the runs, each its own bytes */
	else
		disk_account(&w, &w.run, nr_bytes); /* all its own */
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(obs_block_rq_issue, struct request *rq)
{
	if (disk_merged_n)
		bpf_tail_call(ctx, &disk_tail, OBS_DISK_TAIL_ISSUE);
	disk_issue(rq, 0);
	return 0;
}

/* Tail-called by obs_block_rq_issue, never attached itself. */
SEC("raw_tp/block_rq_issue")
int BPF_PROG(obs_disk_walk_issue, struct request *rq)
{
	disk_issue(rq, 1);
	return 0;
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(obs_block_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	if (disk_merged_n)
		bpf_tail_call(ctx, &disk_tail, OBS_DISK_TAIL_COMPLETE);
	disk_complete(rq, nr_bytes, 0);
	return 0;
}

/* Tail-called by obs_block_rq_complete, never attached itself. */
SEC("raw_tp/block_rq_complete")
int BPF_PROG(obs_disk_walk_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	disk_complete(rq, nr_bytes, 1);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * capture_chunks.bpf.h - capture.bpf.c's calls and how their bytes leave:
 * what a read or write keeps from its entry to its exit (cap_call), and
 * at its exit its bytes gathered in a per-CPU scratch, cut in numbered
 * chunks of OBS_CAP_BYTES, a wide connection's last bytes as a tail chunk,
 * each sent to the cap_events ring. Included by capture.bpf.c only, after
 * its connections' definitions (CAP_WIDE_CHUNKS).
 */
#ifndef CAPTURE_CHUNKS_BPF_H
#define CAPTURE_CHUNKS_BPF_H
#include "capture.bpf.h"

/* A syscall in flight on a thread, from enter to exit (key: pid_tgid). */
struct cap_call {
	__u64 key;  /* read/write: the connection's cap_socks key */
	__u64 goid; /* read/write of a Go program whose layout is known */
	__u32 go_lost;
	/* that layout (go_goid_off 0: none), for the goroutine read at exit */
	__s32 go_tls_g;
	__u32 go_goid_off;
	__u8 inject; /* injection (inject.bpf.h) is on for the process */
	__u8 armed;  /* a write armed the thread: disarmed at its exit */
	__u16 pad;
	__u32 iovcnt; /* vectored: buf is the iovec array, of this many; connect: addrlen */
	__u32 have;   /* at exit: bytes gathered (see cap_data) */
	__u32 seq;    /* a write: its number, taken at entry */
	__u64 buf;    /* read/write buffer, or accept's or connect's sockaddr */
	__u64 conn;   /* read/write: the connection */
	__u32 fd;
	__u32 nr;
};

/* Who made the syscall whose end is being said (pid_tgid), and when. */
struct cap_now {
	__u64 id;
	__u64 ts;
};

/* What is copied of a call is first gathered here, per CPU (too big for
 * the stack): a vectored call's buffers in turn, so that a head split over
 * several arrives whole; then it is sent in chunks. Each chunk goes as a
 * record of its own length, its header written just before its bytes
 * (over the end of the chunk before, already sent): a record reserved at
 * its largest size (576 bytes) for a 100-byte request cost more than all
 * the rest of capture, its cache lines cold in a 4 MiB ring; the collector
 * reads fewer of them too. (One chunking loop: two would be more paths
 * than the verifier follows.) */
#define CAP_HDR	   64 /* offsetof(struct obs_cap_event, data), checked below */
#define CAP_GATHER (CAP_WIDE_CHUNKS * OBS_CAP_BYTES) /* 64 KiB */
/* A header's room, then what was gathered: room for CAP_HDR and two
 * CAP_GATHERs, as the verifier bounds an offset and a length apart. More
 * than a per-CPU value may hold (32 KiB): an array of one per CPU, its
 * size set at load (collector.c), indexed by the CPU (a raw tracepoint
 * program is not migrated while it runs). */
#define CAP_SCRATCH (2 * CAP_GATHER + 2 * 1024)
struct cap_scratch {
	__u8 buf[CAP_SCRATCH];
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* the possible CPUs, set at load */
	__type(key, __u32);
	__type(value, struct cap_scratch);
} cap_scratch SEC(".maps");
_Static_assert(CAP_HDR == __builtin_offsetof(struct obs_cap_event, data), "CAP_HDR");

/* One call's chunking, for bpf_loop: what every chunk says, and where. */
struct cap_chunking {
	struct cap_scratch *sc;
	const struct cap_call *call;
	const struct cap_now *now;
	__u32 seq, kind, n, have, chunks;
	__u32 tail; /* the syscall's last bytes follow as a chunk of their own */
};

/* Whether a data record wakes the collector: the ring is asked on every
 * 8th record a CPU sends, not on each (the query reads the consumer's
 * position, a cache line the collector writes). The wake comes at most 7
 * records (4 KiB) past the ring's quarter mark. */
static __always_inline __u64 cap_wake_flag_sometimes(void)
{
	return ++cap_cpu_of()->sent & 7 ? BPF_RB_NO_WAKEUP : cap_wake_flag();
}

/* A chunk of the call's bytes, gathered in e->data (take of them, from off
 * in what it moved), to the ring: its syscall's number on each chunk, off
 * its place in it, so a chunk dropped leaves a gap the collector sees.
 * 0, or -1 (counted) when the ring had no room. */
static __always_inline int cap_send(const struct cap_chunking *k, struct obs_cap_event *e,
				    __u32 off, __u32 take, __u32 last)
{
	cap_head(e, k->kind, k->call->fd, k->call->conn, k->now->id, k->now->ts);
	e->seq = k->seq;
	e->goid = k->call->goid;
	e->go_lost = k->call->go_lost;
	e->len = k->n;
	e->off = off;
	e->last = last;
	e->caplen = take;
	if (bpf_ringbuf_output(&cap_events, e, CAP_HDR + (take & (OBS_CAP_BYTES * 2 - 1)),
			       cap_wake_flag_sometimes())) {
		count_drop(OBS_DROP_CAPTURE);
		return -1;
	}
	return 0;
}

/* Chunk i (a bpf_loop callback: verified once, not once per chunk; 64
 * chunks unrolled were more than the verifier's budget). 1: the last. */
static long cap_chunk(__u32 i, void *arg)
{
	struct cap_chunking *k = arg;
	__u32 off = (i & (CAP_WIDE_CHUNKS - 1)) * OBS_CAP_BYTES, take, last, end;
	struct obs_cap_event *e = (struct obs_cap_event *)&k->sc->buf[off & 0xffff];

	/* (the first always goes: an empty one says "n bytes, none copied",
	 * and the collector skips them) */
	if (i && (i >= k->chunks || off >= k->have))
		return 1;
	take = off >= k->have ? 0 : k->have - off > OBS_CAP_BYTES ? OBS_CAP_BYTES : k->have - off;
	end = i + 1 >= k->chunks || off + take >= k->have;
	last = end && !k->tail;
	return cap_send(k, e, off, take, last) ? 1 : end;
}

/* The last bytes of a plain call that moved more than its prefix (a read
 * of a 300 000-byte result and the packets after it): the packets that end
 * an answer are there, and a parser that counted its way through the
 * bytes in between (inside one message) reads them. At most
 * OBS_CAP_BYTES, none of them in the prefix. */
static __noinline void cap_last_bytes(const struct cap_chunking *k)
{
	struct obs_cap_event *e = (struct obs_cap_event *)k->sc->buf;
	__u32 from = k->n > OBS_CAP_BYTES ? k->n - OBS_CAP_BYTES : 0, take;

	if (from < k->have)
		from = k->have;
	take = k->n - from;
	if (!take || take > OBS_CAP_BYTES ||
	    bpf_probe_read_user(e->data, take, (const void *)(k->call->buf + from))) {
		take = 0; /* unreadable: said as an empty last chunk (skipped) */
		from = k->n;
	}
	cap_send(k, e, from, take, OBS_CAP_TAIL);
}

/* The first bytes of the call's n, gathered in sc (have of them), in
 * chunks of OBS_CAP_BYTES, at most chunks of them, each numbered; a wide
 * connection's plain call that moved more: its last bytes too. */
static __always_inline void cap_chunks(struct cap_call *call, __u32 seq, __u32 kind, __u32 n,
				       struct cap_scratch *sc, __u32 have, __u32 chunks,
				       const struct cap_now *now)
{
	struct cap_chunking k = {.sc = sc,
				 .call = call,
				 .now = now,
				 .seq = seq,
				 .kind = kind,
				 .n = n,
				 .have = have,
				 .chunks = chunks,
				 .tail = chunks == CAP_WIDE_CHUNKS && !call->iovcnt && call->buf &&
					 n > have};

	if (have <= OBS_CAP_BYTES && !k.tail) /* most calls: no loop to set up */
		cap_chunk(0, &k);
	else
		bpf_loop(CAP_WIDE_CHUNKS, cap_chunk, &k, 0);
	if (k.tail)
		cap_last_bytes(&k);
}

#endif

// SPDX-License-Identifier: GPL-2.0
/*
 * inject.bpf.h - injection of a traceparent into a Go program's outgoing
 * net/http requests (docs/design.md, "injection into a Go program's
 * requests"), the parts capture.bpf.c and goprobe.bpf.c run; capture.bpf.c
 * defines the maps (INJECT_DEFINE), inject.bpf.c has the socket programs.
 *
 *   a server read that begins a request   its first bytes kept for the
 *                                          reading goroutine (net/http
 *                                          runs the handler there)
 *   the handler's call (roundTrip)        the server span's ids derived,
 *                                          the client span's made, kept
 *                                          for the call's *persistConn
 *   its writer goroutine's write          the thread armed, for this
 *                                          write only
 *   tcp_sendmsg (inject.bpf.c's sk_msg)   the field inserted into the
 *                                          request head it starts
 *
 * Only for processes whose cap_procs entry says inject (userspace sets it
 * with --go-inject); the maps are sized to one entry otherwise.
 */
#ifndef INJECT_BPF_H
#define INJECT_BPF_H
#include "capture.bpf.h"
#include "inj_scan.h"

#ifdef INJECT_DEFINE
#define INJECT_SHARED
#else
#define INJECT_SHARED extern
#endif

/* The key both the kernel and the collector derive ids with (per run). */
INJECT_SHARED const volatile __u64 inj_key[2];
/* Injection is loaded (its scans need bpf_loop, 5.17+: on an older kernel
 * the verifier drops the paths that would call it) */
INJECT_SHARED const volatile __u32 inj_on;

struct inj_gkey {
	__u32 tgid;
	__u32 pad;
	__u64 id; /* a goroutine, or a *persistConn */
};

/* A request as its first read brought it: whose connection, which read. */
struct inj_req {
	__u64 conn;
	__u32 seq;
	__u32 fd;
	__u32 len;
	__u32 pad;
	__u8 head[INJ_SCAN_ROOM];
};

/* connection -> the request it is serving, its first bytes as read */
INJECT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct inj_req);
} inj_reqs SEC(".maps");

/* (tgid, goroutine) -> the server connection it last read a request's
 * bytes from: net/http's handler runs on that goroutine. (Not always the
 * one that read the first byte: while a handler runs, net/http reads one
 * byte ahead on a goroutine of its own, which may catch the next
 * request's first.) */
INJECT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct inj_gkey);
	__type(value, __u64);
} inj_readers SEC(".maps");

/* (tgid, *persistConn) -> the context its next request carries */
INJECT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct inj_gkey);
	__type(value, struct obs_go_inj);
} inj_calls SEC(".maps");

/* (tgid, writer goroutine) -> its *persistConn */
INJECT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct inj_gkey);
	__type(value, __u64);
} inj_writers SEC(".maps");

/* (tgid, goroutine) dialling for net/http's transport (goprobe.bpf.c) */
INJECT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct inj_gkey);
	__type(value, __u8);
} inj_dialing SEC(".maps");

/* pid_tgid -> 1: its connect in progress is net/http's (inject.bpf.c's
 * sock_ops program, which runs inside it, takes the socket) */
INJECT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} inj_dialer SEC(".maps");

/* pid_tgid -> the context its write in progress is to carry */
INJECT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct obs_go_inj);
} inj_armed SEC(".maps");

INJECT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OBS_INJ_STATS);
	__type(key, __u32);
	__type(value, __u64);
} inj_stats SEC(".maps");

/* Per CPU: a request's bytes on their way into inj_reqs (too big for the
 * stack), and the sk_msg program's copy of a message's first bytes. */
INJECT_SHARED struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct inj_req);
} inj_scratch SEC(".maps");

static __always_inline void inj_count(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&inj_stats, &what);

	if (n)
		*n += 1;
}

static __always_inline struct inj_req *inj_scratch_of(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&inj_scratch, &zero);
}

/* A server read of n bytes (gathered at buf), read number seq, by
 * goroutine goid on connection s (fd): on an idle connection, a first
 * byte that may start a request begins one, kept for the connection; the
 * reads after it add their bytes until INJ_SCAN_MAX are kept. The reading
 * goroutine is the connection's. */
static __always_inline void inj_server_read(__u32 tgid, __u64 goid, __u32 fd, struct cap_sock *s,
					    __u32 seq, const __u8 *buf, __u32 n)
{
	struct inj_gkey k = {.tgid = tgid, .id = goid};
	struct inj_req *r;
	__u32 at, take;

	if (!s->req_seq) {
		if (buf[0] < 'A' || buf[0] > 'Z' || !(r = inj_scratch_of()))
			return;
		r->conn = s->conn;
		r->seq = seq;
		r->fd = fd;
		take = n < INJ_SCAN_MAX ? n : INJ_SCAN_MAX;
		r->len = take;
		/* what the read brought (the rest of head is never read) */
		if (bpf_probe_read_kernel(r->head, take, buf) ||
		    bpf_map_update_elem(&inj_reqs, &s->conn, r, BPF_ANY))
			return;
		s->req_seq = seq + 1;
		s->req_len = (__u16)r->len;
	} else if (s->req_len < INJ_SCAN_MAX) {
		r = bpf_map_lookup_elem(&inj_reqs, &s->conn);
		if (!r || r->seq + 1 != s->req_seq)
			return;
		/* in fixed pieces (what lies past n is not counted): at a
		 * masked offset, each stays in the room a head has */
		at = r->len & (INJ_SCAN_MAX - 1);
		take = INJ_SCAN_MAX - at;
		if (take > n)
			take = n;
		for (__u32 i = 0; i < INJ_SCAN_MAX / 64; i++) {
			if (i * 64 >= take ||
			    bpf_probe_read_kernel(r->head + ((at + i * 64) & (INJ_SCAN_MAX - 1)),
						  64, buf + i * 64))
				break;
		}
		r->len = at + take;
		s->req_len = (__u16)r->len;
	}
	if (goid && s->req_goid != goid) {
		s->req_goid = goid;
		bpf_map_update_elem(&inj_readers, &k, &s->conn, BPF_ANY);
	}
}

/* A connect by goroutine goid is starting: 1 if it is net/http's (the
 * thread marked for the sock_ops program; the syscall's exit unmarks). */
static __always_inline int inj_connect(__u64 pid_tgid, __u64 goid)
{
	struct inj_gkey k = {.tgid = pid_tgid >> 32, .id = goid};
	__u8 one = 1;

	if (!goid || !bpf_map_lookup_elem(&inj_dialing, &k))
		return 0;
	return !bpf_map_update_elem(&inj_dialer, &pid_tgid, &one, BPF_ANY);
}

/* The writer goroutine's write on a client connection is starting: arm
 * the thread with the context its connection's call left, if any. 1 if
 * armed (the syscall's exit disarms what the sk_msg program did not take). */
static __always_inline int inj_arm(__u64 pid_tgid, __u64 goid)
{
	struct inj_gkey k = {.tgid = pid_tgid >> 32, .id = goid};
	struct obs_go_inj *ctx;
	__u64 *pc;

	if (!goid || !(pc = bpf_map_lookup_elem(&inj_writers, &k)))
		return 0;
	k.id = *pc;
	if (!(ctx = bpf_map_lookup_elem(&inj_calls, &k)))
		return 0;
	bpf_map_update_elem(&inj_armed, &pid_tgid, ctx, BPF_ANY);
	bpf_map_delete_elem(&inj_calls, &k); /* one request carries it */
	return 1;
}

/* The ids of the request r began (docs/design.md): the server span's,
 * and, for a request without a parent, its trace's, as the collector
 * derives them from the same connection and read (kcap_host.c). */
static __always_inline void inj_derive(const struct inj_req *r, const struct inj_head *h, __u64 q53,
				       struct obs_go_inj *out)
{
	const __u64 key[2] = {inj_key[0], inj_key[1]};

	if (h->has_parent) {
		inj_derive_ids(key, r->conn, r->seq, out->parent_id, NULL);
		__builtin_memcpy(out->trace_id, h->trace_id, 16);
		out->flags = h->flags & 3; /* parent-based: its flags, as sent */
		return;
	}
	inj_derive_ids(key, r->conn, r->seq, out->parent_id, out->trace_id);
	out->flags = inj_root_flags(out->trace_id, q53);
}

/* A call (net/http's roundTrip on connection pc) by goroutine goid: the
 * context its request is to carry, kept for pc and put in *out; 0 if made. */
static __always_inline int inj_make_call(__u32 tgid, __u64 goid, __u64 pc, __u64 q53,
					 struct obs_go_inj *out)
{
	struct inj_gkey k = {.tgid = tgid, .id = goid};
	struct inj_head h;
	struct inj_req *r;
	struct cap_sock *s;
	__u64 key, *conn;
	__u32 rnd;

	if (!(conn = bpf_map_lookup_elem(&inj_readers, &k)) ||
	    !(r = bpf_map_lookup_elem(&inj_reqs, conn))) {
		inj_count(OBS_INJ_NO_REQUEST);
		return -1;
	}
	/* still that request: no answer written on its connection since */
	key = (__u64)tgid << 32 | r->fd;
	s = bpf_map_lookup_elem(&cap_socks, &key);
	if (!s || s->conn != r->conn || s->req_seq != r->seq + 1 || s->req_goid != goid) {
		inj_count(OBS_INJ_NO_REQUEST);
		return -1;
	}
	if (inj_head_scan(r->head, r->len, &h)) {
		inj_count(OBS_INJ_NOT_WHOLE);
		return -1;
	}
	inj_derive(r, &h, q53, out);
	rnd = bpf_get_prandom_u32();
	__builtin_memcpy(out->span_id, &rnd, 4);
	rnd = bpf_get_prandom_u32();
	__builtin_memcpy(out->span_id + 4, &rnd, 4);
	k.id = pc;
	return bpf_map_update_elem(&inj_calls, &k, out, BPF_ANY) ? -1 : 0;
}

#endif

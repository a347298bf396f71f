// SPDX-License-Identifier: GPL-2.0
/*
 * inject.bpf.c - the socket side of injection into a Go program's
 * net/http requests (inject.bpf.h has the rest, docs/design.md the why):
 *
 *   obs_inj_sockops   a cgroup sock_ops program: a TCP connection
 *                     net/http's transport dials in a followed program
 *                     (TCP_CONNECT_CB runs in its task, which capture
 *                     marked) joins inj_socks once established. Only
 *                     those: a socket in a sockhash answers FIONREAD
 *                     with 0 (Linux 6.18's tcp_bpf_ioctl counts only
 *                     what a verdict program redirected).
 *   obs_inj_msg       the sk_msg program on inj_socks, in tcp_sendmsg of
 *                     the writing task: a write armed by capture (and
 *                     only that write) whose message starts with a whole
 *                     request head and carries no traceparent gets one,
 *                     inserted before the head's blank line. Anything
 *                     else passes untouched: the program never drops or
 *                     redirects (no sk_skb program either, so the
 *                     socket's receive side is as it was).
 *
 * Loaded only with --go-inject. The maps it shares with capture are
 * defined in capture.bpf.c.
 */
#include "inject.bpf.h"

#define INJ_FIELD_LEN 70 /* "traceparent: " 55 "\r\n" */

/* Sockets of followed programs' connections, by cookie, until established. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} inj_connecting SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} inj_socks SEC(".maps");

SEC("sockops")
int obs_inj_sockops(struct bpf_sock_ops *ops)
{
	__u64 cookie;
	__u8 one = 1;

	if (ops->op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
		__u64 id = bpf_get_current_pid_tgid();

		/* (runs in the connecting task: net/http's dial, see
		 * inj_connect) */
		if (!bpf_map_lookup_elem(&inj_dialer, &id))
			return 1;
		cookie = bpf_get_socket_cookie(ops);
		bpf_map_update_elem(&inj_connecting, &cookie, &one, BPF_ANY);
	} else if (ops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		cookie = bpf_get_socket_cookie(ops);
		if (!bpf_map_lookup_elem(&inj_connecting, &cookie))
			return 1;
		bpf_map_delete_elem(&inj_connecting, &cookie);
		if (bpf_sock_hash_update(ops, &inj_socks, &cookie, BPF_NOEXIST))
			inj_count(OBS_INJ_FAILED);
	}
	return 1;
}

static __always_inline void hex_into(__u8 *out, const __u8 *b, __u32 n)
{
	const char digits[] = "0123456789abcdef";

	for (__u32 i = 0; i < n && i < 16; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
}

/* The field carrying ctx, as written into the request. */
static __always_inline void field_of(__u8 *f, const struct obs_go_inj *ctx)
{
	__builtin_memcpy(f, "traceparent: 00-", 16);
	hex_into(f + 16, ctx->trace_id, 16);
	f[48] = '-';
	hex_into(f + 49, ctx->span_id, 8);
	f[65] = '-';
	hex_into(f + 66, &ctx->flags, 1);
	f[68] = '\r';
	f[69] = '\n';
}

/* Room made at `at` and not writable: taken out again, the app's bytes as
 * they were. */
static __always_inline int undo(struct sk_msg_md *msg, __u32 at)
{
	bpf_msg_pop_data(msg, at, INJ_FIELD_LEN, 0);
	inj_count(OBS_INJ_FAILED);
	return SK_PASS;
}

SEC("sk_msg")
int obs_inj_msg(struct sk_msg_md *msg)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct obs_go_inj *armed = bpf_map_lookup_elem(&inj_armed, &id), ctx;
	struct inj_req *sc;
	__u32 n = msg->size, at, tp;
	__u8 *d, *end;

	if (!armed)
		return SK_PASS;
	ctx = *armed;
	bpf_map_delete_elem(&inj_armed, &id); /* this message only */
	if (!(sc = inj_scratch_of()))
		return SK_PASS;
	if (n > INJ_SCAN_MAX)
		n = INJ_SCAN_MAX;
	if (n < 16 || bpf_msg_pull_data(msg, 0, n, 0)) {
		inj_count(OBS_INJ_NOT_HEAD);
		return SK_PASS;
	}
	d = (__u8 *)(long)msg->data;
	end = (__u8 *)(long)msg->data_end;
	if (d + n > end || bpf_probe_read_kernel(sc->head, n & (INJ_SCAN_MAX * 2 - 1), d) ||
	    inj_out_scan(sc->head, n, &at, &tp)) {
		inj_count(OBS_INJ_NOT_HEAD);
		return SK_PASS;
	}
	if (tp) {
		inj_count(OBS_INJ_APP_CONTEXT); /* the program propagates: its word */
		return SK_PASS;
	}
	/* (at: before the blank line's CRLF) */
	if (at > INJ_SCAN_MAX || bpf_msg_push_data(msg, at, INJ_FIELD_LEN, 0)) {
		inj_count(OBS_INJ_FAILED);
		return SK_PASS;
	}
	/* the new bytes, made linear: msg->data is then their start */
	if (bpf_msg_pull_data(msg, at, at + INJ_FIELD_LEN, 0))
		return undo(msg, at);
	d = (__u8 *)(long)msg->data;
	end = (__u8 *)(long)msg->data_end;
	if (d + INJ_FIELD_LEN > end)
		return undo(msg, at);
	field_of(sc->head, &ctx);
	for (int i = 0; i < INJ_FIELD_LEN; i++)
		d[i] = sc->head[i];
	inj_count(OBS_INJ_INJECTED);
	return SK_PASS;
}

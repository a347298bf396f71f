// SPDX-License-Identifier: GPL-2.0
/*
 * tcp.bpf.c - TCP connects, connections, retransmits, resets and bytes,
 * charged to the socket's owner: the connecting process, or the process
 * listening on the port (retransmits and resets fire in softirq context).
 */
#include "obs_maps.bpf.h"

#define IPPROTO_TCP_ 6
#define AF_INET_     2
#define AF_INET6_    10

enum {
	TCP_ESTABLISHED_ = 1,
	TCP_SYN_SENT_ = 2,
	TCP_SYN_RECV_ = 3,
	TCP_CLOSE_ = 7,
	TCP_LISTEN_ = 10,
};

/* Outbound connects in SYN_SENT (key: struct sock *). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ts_slot);
} connect_start SEC(".maps");

/* Owning slot of established TCP sockets (key: struct sock *). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u32);
} sock_owner SEC(".maps");

/* Owning slot of listening TCP ports (key: local port). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} listen_owner SEC(".maps");

/* ---- TCP ---------------------------------------------------------------- */

/* Plain loads from a kernel object: bpf_rdonly_cast (Linux 6.2+) makes p a
 * BTF pointer, whose fields the JIT reads as guarded moves, where a CO-RE
 * read is a helper call each (~20-40 ns here). Weak: NULL on an older
 * kernel, and the CO-RE way is taken. Declared in this object only:
 * Debian 12's libbpf (1.1) cannot link one kfunc extern from two. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
#define OBS_HAVE_CAST	  (!no_btf_cast && bpf_rdonly_cast != NULL)
#define OBS_CAST(type, p) ((const type *)bpf_rdonly_cast((p), bpf_core_type_id_kernel(type)))

static __always_inline int sk_is_tcp(const struct sock *sk)
{
	__u16 family, proto;

	if (OBS_HAVE_CAST) { /* (every send and receive of a followed task) */
		const struct sock *s = OBS_CAST(struct sock, sk);

		family = s->__sk_common.skc_family;
		proto = s->sk_protocol;
	} else {
		family = BPF_CORE_READ(sk, __sk_common.skc_family);
		proto = BPF_CORE_READ(sk, sk_protocol);
	}
	return (family == AF_INET_ || family == AF_INET6_) && proto == IPPROTO_TCP_;
}

static __always_inline __u32 sock_slot(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	__u32 *slot = bpf_map_lookup_elem(&sock_owner, &key);

	return slot ? *slot : default_slot;
}

static __always_inline void sock_set_owner(const struct sock *sk, __u32 slot)
{
	__u64 key = (__u64)sk;

	if (bpf_map_update_elem(&sock_owner, &key, &slot, BPF_ANY))
		count_drop(OBS_DROP_TCP_FULL);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(obs_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	struct obs_counters *c;
	struct ts_slot *cs;
	__u32 port, slot;

	if (!sk_is_tcp(sk))
		return 0;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);

	switch (newstate) {
	case TCP_SYN_SENT_: {
		/* connect() runs in the caller's context. */
		struct ts_slot v = {};

		v.slot = slot_of_tgid(bpf_get_current_pid_tgid() >> 32);
		if (v.slot == OBS_SLOT_NONE)
			return 0;
		v.ts = bpf_ktime_get_ns();
		if (bpf_map_update_elem(&connect_start, &key, &v, BPF_ANY))
			count_drop(OBS_DROP_TCP_FULL);
		return 0;
	}
	case TCP_LISTEN_:
		slot = slot_of_tgid(bpf_get_current_pid_tgid() >> 32);
		if (slot == OBS_SLOT_NONE)
			return 0;
		if (bpf_map_update_elem(&listen_owner, &port, &slot, BPF_ANY))
			count_drop(OBS_DROP_TCP_FULL);
		return 0;
	case TCP_ESTABLISHED_:
		if (oldstate == TCP_SYN_RECV_) {
			/* Passive open completes in softirq: the listener owns it. */
			__u32 *ls = bpf_map_lookup_elem(&listen_owner, &port);

			if (!ls)
				return 0;
			slot = *ls;
			c = counters_of(slot);
			if (c)
				c->tcp_conn_in++;
			sock_set_owner(sk, slot);
			return 0;
		}
		break;
	case TCP_CLOSE_:
		bpf_map_delete_elem(&sock_owner, &key);
		if (oldstate == TCP_LISTEN_)
			bpf_map_delete_elem(&listen_owner, &port);
		break;
	}

	if (oldstate != TCP_SYN_SENT_)
		return 0;
	cs = bpf_map_lookup_elem(&connect_start, &key);
	if (!cs)
		return 0;
	slot = cs->slot;
	c = counters_of(slot);
	if (newstate == TCP_ESTABLISHED_) {
		hist_record(slot, OBS_H_TCP_CONNECT, 0, 0, bpf_ktime_get_ns() - cs->ts, 0);
		if (c)
			c->tcp_conn_out++;
		sock_set_owner(sk, slot);
	} else if (c) {
		c->tcp_connect_fail++;
	}
	bpf_map_delete_elem(&connect_start, &key);
	return 0;
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(obs_tcp_retransmit_skb, const struct sock *sk)
{
	struct obs_counters *c = counters_of(sock_slot(sk));

	if (c)
		c->tcp_retrans++;
	return 0;
}

SEC("raw_tp/tcp_send_reset")
int BPF_PROG(obs_tcp_send_reset, const struct sock *sk)
{
	struct obs_counters *c;

	if (!sk)
		return 0;
	c = counters_of(sock_slot(sk));
	if (c)
		c->tcp_rst_sent++;
	return 0;
}

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(obs_tcp_receive_reset, struct sock *sk)
{
	struct obs_counters *c = counters_of(sock_slot(sk));

	if (c)
		c->tcp_rst_recv++;
	return 0;
}

static __always_inline void sock_bytes(struct sock *sk, int ret, int sent)
{
	struct obs_counters *c;
	__u32 slot;

	if (ret <= 0)
		return;
	/* inside the send/recv syscall: sys_enter just filled the cache */
	slot = current_slot(this_cpu(), bpf_get_current_task());
	if (slot == OBS_SLOT_NONE || !sk_is_tcp(sk))
		return;
	c = counters_of(slot);
	if (!c)
		return;
	if (sent)
		c->tcp_bytes_sent += ret;
	else
		c->tcp_bytes_recv += ret;
}

SEC("raw_tp/sock_send_length")
int BPF_PROG(obs_sock_send_length, struct sock *sk, int ret, int flags)
{
	sock_bytes(sk, ret, 1);
	return 0;
}

SEC("raw_tp/sock_recv_length")
int BPF_PROG(obs_sock_recv_length, struct sock *sk, int ret, int flags)
{
	sock_bytes(sk, ret, 0);
	return 0;
}

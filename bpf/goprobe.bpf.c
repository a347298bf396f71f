// SPDX-License-Identifier: GPL-2.0
/*
 * goprobe.bpf.c - uprobes on a Go program's net/http and grpc-go functions
 * (attached by userspace, collector_go.c, to a Go program whose layout it
 * read, for that process only), so that the collector can tell whose call
 * an outgoing request is (kcap_host.c, gorel.c).
 */
#include "inject.bpf.h"

/* Go's net/http client and grpc-go (attached by userspace to a Go program
 * whose layout it read, for that process only). net/http's transport
 * writes a request from the connection's writer goroutine, not from the
 * goroutine that made the call: persistConn.writeLoop's start (once per
 * connection) and persistConn.roundTrip's (per call) tie them. grpc-go
 * reads and writes frames on goroutines of its own, and runs each
 * handler on a new one: a transport's reader start and a stream's
 * handler start (server), a transport's reader start and a call's first
 * send on its stream (client) tie them. Go's register ABI (1.17+): the
 * arguments in RAX, RBX, RCX, RDI, ... (an interface takes two: its type,
 * its data), the current g in R14. */
/* The followed Go program the probe fires in, and the goroutine (*goid);
 * NULL if it is not followed, or its goroutine cannot be read. */
static __always_inline struct obs_cap_proc *go_proc(struct pt_regs *ctx, __u64 *goid)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct obs_cap_proc *proc = bpf_map_lookup_elem(&cap_procs, &tgid);

	if (!proc || proc->state != OBS_CAP_ON || !proc->go_goid_off)
		return NULL;
	*goid = go_goid(ctx->r14, proc->go_goid_off);
	return *goid ? proc : NULL;
}

static __always_inline int go_event(struct pt_regs *ctx, __u32 kind, __u64 obj, __u64 stream)
{
	struct obs_cap_event *e;
	struct obs_cap_proc *proc;
	__u32 id = 0;
	__u64 goid;

	if (!(proc = go_proc(ctx, &goid)))
		return 0;
	if (stream &&
	    (!proc->go_grpc ||
	     bpf_probe_read_user(&id, sizeof(id), (const void *)(stream + proc->go_sid_off))))
		return 0;
	if (!(e = cap_event(kind, 0, obj))) {
		/* the collector forgets every pending call when it sees this */
		__sync_fetch_and_add(&proc->go_lost, 1);
		/* capture.bpf.c's per-CPU copies of the entry are stale */
		__sync_fetch_and_add(&cap_gen, 1);
		return 0;
	}
	e->goid = goid;
	e->len = id;
	e->go_lost = proc->go_lost;
	if (inj_on && proc->inject && kind == OBS_CAP_GO_WRITER) {
		struct inj_gkey k = {.tgid = e->tgid, .id = goid};

		bpf_map_update_elem(&inj_writers, &k, &obj, BPF_ANY);
	} else if (inj_on && proc->inject && kind == OBS_CAP_GO_CALL) {
		/* the context the call's request is to carry, in the event
		 * too: the collector's client span takes its ids */
		struct obs_go_inj *inj = (struct obs_go_inj *)e->data;

		if (!inj_make_call(e->tgid, goid, obj, proc->inj_q53, inj))
			e->caplen = sizeof(*inj);
	}
	cap_submit(e);
	return 0;
}

/* net/http: (t *Transport) dialConn(ctx, cm connectMethod) (--go-inject):
 * the connections its goroutine makes are net/http's own, the only ones
 * that join inject.bpf.c's sockhash (a socket there answers FIONREAD with
 * 0 on this kernel: net/http never asks, a program's own sockets might) */
SEC("uprobe")
int obs_go_dial(struct pt_regs *ctx)
{
	struct inj_gkey k = {.tgid = bpf_get_current_pid_tgid() >> 32};
	struct obs_cap_proc *proc = go_proc(ctx, &k.id);
	__u8 one = 1;

	if (proc && proc->inject)
		bpf_map_update_elem(&inj_dialing, &k, &one, BPF_ANY);
	return 0;
}

/* net/http: (pc *persistConn) writeLoop() */
SEC("uprobe")
int obs_go_writer(struct pt_regs *ctx)
{
	return go_event(ctx, OBS_CAP_GO_WRITER, ctx->ax, 0);
}

/* net/http: (pc *persistConn) roundTrip(req *transportRequest) */
SEC("uprobe")
int obs_go_call(struct pt_regs *ctx)
{
	return go_event(ctx, OBS_CAP_GO_CALL, ctx->ax, 0);
}

/* grpc: (s *Server) serveStreams(st transport.ServerTransport) */
SEC("uprobe")
int obs_grpc_srv_conn(struct pt_regs *ctx)
{
	return go_event(ctx, OBS_CAP_GRPC_SRV_CONN, ctx->cx, 0);
}

/* grpc: (s *Server) handleStream(t transport.ServerTransport, stream *transport.Stream, ...) */
SEC("uprobe")
int obs_grpc_srv_stream(struct pt_regs *ctx)
{
	return go_event(ctx, OBS_CAP_GRPC_SRV_STREAM, ctx->cx, ctx->di);
}

/* grpc transport: (t *http2Client) reader() */
SEC("uprobe")
int obs_grpc_cli_conn(struct pt_regs *ctx)
{
	return go_event(ctx, OBS_CAP_GRPC_CLI_CONN, ctx->ax, 0);
}

/* grpc transport: (t *http2Client) Write(s *Stream, hdr, data []byte, opts *Options) */
SEC("uprobe")
int obs_grpc_cli_stream(struct pt_regs *ctx)
{
	return go_event(ctx, OBS_CAP_GRPC_CLI_STREAM, ctx->ax, ctx->bx);
}

/*
 * collector_go.c - uprobes on a Go program's net/http and grpc-go
 * functions (collector_go_follow), for the goroutines kcap follows.
 *
 * Where the kernel has uprobe_multi links (6.6+), they are used: they need
 * CAP_BPF and CAP_PERFMON, where a perf-event uprobe needs CAP_SYS_ADMIN,
 * which the agent's helper does not keep (gohelper.h). Else perf events.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "collector_priv.h"
#include "golayout.h"
#include "obs.skel.h"

/* The kernel's uapi (Linux 6.6), newer than the headers obs builds with. */
#define OBS_BPF_TRACE_UPROBE_MULTI 48

struct uprobe_multi_attr { /* union bpf_attr, link_create */
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__u64 path;
	__u64 offsets;
	__u64 ref_ctr_offsets;
	__u64 cookies;
	__u32 cnt;
	__u32 multi_flags;
	__u32 pid;
	__u32 pad;
};

static struct bpf_program **go_progs(struct collector *c, struct bpf_program **p)
{
	p[GOLAYOUT_WRITELOOP] = c->skel->progs.obs_go_writer;
	p[GOLAYOUT_ROUNDTRIP] = c->skel->progs.obs_go_call;
	p[GOLAYOUT_GRPC_SERVE] = c->skel->progs.obs_grpc_srv_conn;
	p[GOLAYOUT_GRPC_HANDLE] = c->skel->progs.obs_grpc_srv_stream;
	p[GOLAYOUT_GRPC_READER] = c->skel->progs.obs_grpc_cli_conn;
	p[GOLAYOUT_GRPC_WRITE] = c->skel->progs.obs_grpc_cli_stream;
	p[GOLAYOUT_DIALCONN] = c->skel->progs.obs_go_dial;
	return p;
}

void collector_go_prepare(struct collector *c, const struct btf *vmlinux)
{
	struct bpf_program *p[GOLAYOUT_FNS];

	/* the kernel's own types say whether it has uprobe_multi links */
	c->uprobe_multi = vmlinux && btf__find_by_name_kind(vmlinux, "bpf_uprobe_multi_link",
							    BTF_KIND_STRUCT) > 0;
	if (!c->uprobe_multi)
		return;
	go_progs(c, p);
	for (int f = 0; f < GOLAYOUT_FNS; f++)
		bpf_program__set_expected_attach_type(p[f], OBS_BPF_TRACE_UPROBE_MULTI);
}

static int go_probe(struct collector *c, struct bpf_program *prog, pid_t tgid, const char *path,
		    const char *fn, uint32_t at, uint64_t file_off, char *err, size_t errlen)
{
	struct bpf_uprobe_opts o = {.sz = sizeof(o), .func_name = fn};
	struct bpf_link *l = NULL;
	int fd = -1;

	if (c->ngo_links == COLLECTOR_GO_LINKS)
		return collector_seterr(err, errlen, "more than %d uprobes on Go programs at once",
					COLLECTOR_GO_LINKS);
	if (c->uprobe_multi) {
		struct uprobe_multi_attr a = {.prog_fd = (__u32)bpf_program__fd(prog),
					      .attach_type = OBS_BPF_TRACE_UPROBE_MULTI,
					      .path = (__u64)(uintptr_t)path,
					      .offsets = (__u64)(uintptr_t)&file_off,
					      .cnt = 1,
					      .pid = (__u32)tgid};

		fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	} else {
		/* with func_name, the offset is from the function's start */
		l = bpf_program__attach_uprobe_opts(prog, tgid, path, at, &o);
	}
	if (fd < 0 && !l)
		return collector_seterr(err, errlen, "cannot attach a uprobe to %s in %s: %s%s", fn,
					path, strerror(errno),
					c->uprobe_multi || errno != EACCES
					    ? ""
					    : " (before Linux 6.6, a uprobe takes CAP_SYS_ADMIN)");
	c->go_links[c->ngo_links].link = l;
	c->go_links[c->ngo_links].fd = fd;
	c->go_links[c->ngo_links++].pid = tgid;
	return 0;
}

void collector_go_forget(struct collector *c, pid_t tgid)
{
	for (int i = 0; i < c->ngo_links;)
		if (c->go_links[i].pid == tgid) {
			bpf_link__destroy(c->go_links[i].link);
			if (c->go_links[i].fd >= 0)
				close(c->go_links[i].fd);
			c->go_links[i] = c->go_links[--c->ngo_links];
		} else {
			i++;
		}
}

int collector_go_follow(struct collector *c, pid_t tgid, const char *path,
			const struct golayout *gl, char *err, size_t errlen)
{
	struct obs_cap_proc v = {.state = OBS_CAP_ON,
				 .go_tls_g = gl->tls_g,
				 .go_goid_off = gl->goid_off,
				 .go_sid_off = (__u16)gl->stream_id_off,
				 .go_grpc = golayout_grpc(gl) ? 1 : 0,
				 /* net/http's client calls carry their context out */
				 .inject = c->inject_on && golayout_inject(gl),
				 .inj_q53 = c->inj_q53};
	struct bpf_program *prog[GOLAYOUT_FNS];
	__u32 key = (__u32)tgid;

	go_progs(c, prog);
	if (!c->on_capture)
		return collector_seterr(err, errlen, "capture is not loaded");
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.cap_procs), &key, &v, BPF_ANY))
		return collector_seterr(err, errlen, "cannot follow pid %d: %s", (int)tgid,
					strerror(errno));
	collector_cap_changed(c);
	for (int f = 0; f < GOLAYOUT_FNS; f++) {
		int want = f <= GOLAYOUT_ROUNDTRIP  ? golayout_http(gl)
			   : f == GOLAYOUT_DIALCONN ? (int)v.inject
						    : golayout_grpc(gl);

		if (want && go_probe(c, prog[f], tgid, path, golayout_fn_name[f], gl->fn[f].at,
				     gl->fn[f].file_off, err, errlen)) {
			collector_go_forget(c, tgid); /* all or none */
			return -1;
		}
	}
	return 0;
}

void collector_go_close(struct collector *c)
{
	while (c->ngo_links)
		collector_go_forget(c, c->go_links[0].pid);
}

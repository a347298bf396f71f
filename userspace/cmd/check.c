#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "collector.h"
#include "elfkind.h"
#include "golayout.h"
#include "privs.h"

#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif

/* Every raw tracepoint obs.bpf.c attaches to. */
static const char *const raw_tps[] = {
    "sys_enter",	  "sys_exit",		"sched_switch",	       "sched_wakeup",
    "sched_wakeup_new",	  "sched_process_fork", "sched_process_exec",  "sched_process_exit",
    "block_rq_insert",	  "block_rq_issue",	"block_rq_complete",   "inet_sock_set_state",
    "tcp_retransmit_skb", "tcp_send_reset",	"tcp_receive_reset",   "sock_send_length",
    "sock_recv_length",	  "block_rq_merge",	"block_bio_backmerge", "block_bio_frontmerge",
};

struct report {
	int quiet;
	int missing;
};

static void line(struct report *r, const char *status, const char *what, const char *detail,
		 const char *fix)
{
	int bad = !strcmp(status, "MISSING");

	if (bad)
		r->missing++;
	if (r->quiet && !bad)
		return;
	printf("  [%-7s] %s%s%s\n", status, what, detail ? ": " : "", detail ? detail : "");
	if (fix && (bad || !r->quiet))
		printf("            fix: %s\n", fix);
}

/* Load "r0 = 0; exit" as a raw tracepoint program and attach it to name. */
static int probe_raw_tp(const char *name)
{
	struct bpf_insn insns[] = {
	    {.code = 0xb7, .dst_reg = 0, .imm = 0}, /* mov r0, 0 */
	    {.code = 0x95},			    /* exit */
	};
	int prog, tp, err;

	prog = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "obs_probe", "GPL", insns, 2, NULL);
	if (prog < 0)
		return prog;
	tp = bpf_raw_tracepoint_open(name, prog);
	err = tp < 0 ? -errno : 0;
	if (tp >= 0)
		close(tp);
	close(prog);
	return err;
}

static int fs_is(const char *path, long magic)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == magic;
}

/* First cgroup2 mount point (unified or hybrid layout), from /proc/mounts. */
static int cgroup2_mount(char *out, size_t len)
{
	char dev[256], dir[4096], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3)
		if (!strcmp(type, "cgroup2")) {
			snprintf(out, len, "%s", dir);
			found = 1;
		}
	fclose(f);
	return found;
}

/* What obs can see of one program (a path, a name in PATH, or a pid). */
static void explain(const char *target)
{
	char path[4096], detail[128];
	const char *d = target;
	ssize_t n;

	while (*d >= '0' && *d <= '9')
		d++;
	if (!*d && *target) {
		char link[64];

		snprintf(link, sizeof(link), "/proc/%s/exe", target);
		n = readlink(link, path, sizeof(path) - 1);
		if (n <= 0) {
			printf("  [?      ] pid %s: cannot read %s: %s\n", target, link,
			       strerror(errno));
			return;
		}
		path[n] = 0;
	} else if (elfkind_resolve(target, path, sizeof(path))) {
		printf("  [?      ] %s: not found, or not executable\n", target);
		return;
	}
	switch (elfkind_of(path, detail, sizeof(detail))) {
	case ELFKIND_DYNAMIC:
		printf("  [shim   ] %s: dynamically linked%s%s: HTTP/1, HTTP/2 and gRPC metrics, "
		       "spans and trace context through the shim, plus kernel metrics\n",
		       path, *detail ? ", run by " : "", detail);
		break;
	case ELFKIND_GO: {
		struct golayout gl;
		char why[128] = "", how[224];
		int known = !golayout_read(path, detail, &gl, why, sizeof(why));

		if (!known)
			snprintf(how, sizeof(how),
				 "parent unknown: goroutines cannot be told apart, %s", why);
		else if (golayout_http(&gl) || golayout_grpc(&gl))
			snprintf(
			    how, sizeof(how),
			    "%s%s%s calls and PostgreSQL, Redis and MySQL operations the children "
			    "of "
			    "the requests whose handlers made them, other calls parent unknown",
			    golayout_http(&gl) ? "net/http" : "",
			    golayout_http(&gl) && golayout_grpc(&gl) ? " and " : "",
			    golayout_grpc(&gl) ? "grpc-go" : "");
		else
			snprintf(how, sizeof(how),
				 "PostgreSQL, Redis and MySQL operations the children of the "
				 "requests whose "
				 "handlers made them, other calls parent unknown: it uses neither "
				 "net/http's client nor grpc-go");
		printf("  [kernel ] %s: a Go program%s%s%s: HTTP/1, HTTP/2, gRPC and cleartext "
		       "PostgreSQL, Redis and MySQL metrics and spans from the kernel side under "
		       "obs-run "
		       "and the "
		       "agent (outgoing requests: "
		       "%s; nothing injected%s), plus kernel metrics; Go makes its own syscalls, "
		       "the shim sees none\n",
		       path, *detail ? " (" : "", detail, *detail ? ")" : "", how,
		       known && golayout_inject(&gl)
			   ? " unless obs-run --go-inject: then its net/http requests carry their "
			     "context out"
			   : "");
		break;
	}
	case ELFKIND_STATIC:
		printf("  [kernel ] %s: statically linked: HTTP/1, HTTP/2, gRPC and cleartext "
		       "PostgreSQL, Redis and MySQL metrics and spans from the "
		       "kernel side under obs-run (nothing injected), plus kernel metrics; "
		       "LD_PRELOAD cannot load the shim into it\n",
		       path);
		break;
	default:
		printf("  [?      ] %s: not an ELF program obs can read\n", path);
		break;
	}
}

int check_main(const struct obs_opts *o)
{
	struct report r = {.quiet = o->quiet};
	struct utsname u;
	char err[512], detail[256], cgdir[4096];
	int privileged;

	libbpf_set_print(NULL);
	uname(&u);
	if (!o->quiet)
		printf("obs check: kernel %s %s\n", u.release, u.machine);

	privileged = privs_check(err, sizeof(err)) == 0;
	if (privileged)
		line(&r, "ok", "privileges", geteuid() == 0 ? "root" : "CAP_BPF + CAP_PERFMON",
		     NULL);
	else
		line(&r, "MISSING", "privileges", err,
		     "run as root, or let a trusted group run it with capabilities: "
		     "chown root:obs OBS && chmod 0750 OBS && setcap cap_bpf,cap_perfmon,"
		     "cap_dac_read_search,cap_sys_ptrace+ep OBS");

	if (!access("/sys/kernel/btf/vmlinux", R_OK))
		line(&r, "ok", "kernel BTF", "/sys/kernel/btf/vmlinux", NULL);
	else
		line(&r, "MISSING", "kernel BTF", "/sys/kernel/btf/vmlinux not readable",
		     "use a kernel built with CONFIG_DEBUG_INFO_BTF=y");

	if (!privileged) {
		line(&r, "unknown", "BPF program and map types", "cannot probe without privileges",
		     NULL);
	} else {
		int rt = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL);
		int rb = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
		int ph = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_PERCPU_HASH, NULL);
		int kp = !access("/sys/kernel/tracing/kprobe_events", F_OK) ||
			 !access("/sys/kernel/debug/tracing/kprobe_events", F_OK);
		int tr = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, NULL);
		struct btf *vmlinux;
		int failed = 0;

		line(&r, rt == 1 ? "ok" : "MISSING", "BPF raw tracepoint programs", NULL,
		     rt == 1 ? NULL : "use a kernel with CONFIG_BPF_EVENTS=y (4.17 or later)");
		line(&r, rb == 1 ? "ok" : "MISSING", "BPF ring buffer maps", NULL,
		     rb == 1 ? NULL : "use kernel 5.8 or later");
		line(&r, ph == 1 ? "ok" : "MISSING", "BPF per-CPU hash maps", NULL,
		     ph == 1 ? NULL : "use a kernel with CONFIG_BPF_SYSCALL=y");
		for (size_t i = 0; i < sizeof(raw_tps) / sizeof(raw_tps[0]); i++) {
			int e = probe_raw_tp(raw_tps[i]);

			if (e) {
				snprintf(detail, sizeof(detail), "%s: %s", raw_tps[i],
					 strerror(-e));
				line(&r, "MISSING", "raw tracepoint", detail,
				     "this kernel lacks the tracepoint; disable its probe group "
				     "with --probes");
				failed++;
			}
		}
		if (!failed) {
			snprintf(detail, sizeof(detail), "all %zu obs uses attach",
				 sizeof(raw_tps) / sizeof(raw_tps[0]));
			line(&r, "ok", "raw tracepoints", detail, NULL);
		}
		vmlinux = btf__load_vmlinux_btf();
		line(&r, "info", "block I/O",
		     collector_has_block_io_start(vmlinux)
			 ? "charged to the process that made each request (block_io_start)"
			 : "no block_io_start (kernel < 6.5): charged where a request is "
			   "queued, or issued when the device has no I/O scheduler",
		     NULL);
		btf__free(vmlinux);
		line(&r, "info", "block I/O merges",
		     collector_has_bpf_loop()
			 ? "a request or bio merged into another process's is charged to its maker"
			 : "no bpf_loop (kernel < 5.17): one merged into another process's "
			   "request counts with that request",
		     NULL);
		line(&r, "info", "kprobes",
		     kp ? "available (obs does not use them)"
			: "not available (obs does not use them)",
		     NULL);
		line(&r, "info", "fentry/fexit, tp_btf (BPF tracing programs)",
		     tr == 1 ? "available (obs does not need them)"
			     : "not available (obs does not use them)",
		     NULL);
	}

	if (fs_is("/sys/kernel/tracing", TRACEFS_MAGIC) ||
	    fs_is("/sys/kernel/debug/tracing", TRACEFS_MAGIC))
		line(&r, "ok", "tracefs", "mounted (obs does not need it)", NULL);
	else
		line(
		    &r, "info", "tracefs",
		    "not mounted; obs uses raw tracepoints and does not need it",
		    "for perf, bpftrace and trace-cmd: mount -t tracefs nodev /sys/kernel/tracing");

	if (cgroup2_mount(cgdir, sizeof(cgdir)))
		line(&r, "ok", "cgroup v2", cgdir, NULL);
	else
		line(&r, "info", "cgroup v2",
		     "not mounted: container labels and triage -c are unavailable",
		     "mount -t cgroup2 none /sys/fs/cgroup");

	if (o->cmd_argc > 0) {
		printf("what obs sees of each program:\n");
		for (int i = 0; i < o->cmd_argc; i++)
			explain(o->cmd_argv[i]);
	}
	if (r.missing) {
		printf("obs cannot run here: %d requirement%s missing.\n", r.missing,
		       r.missing == 1 ? " is" : "s are");
		return 1;
	}
	if (!o->quiet)
		printf("obs can run here.\n");
	return 0;
}

#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <linux/capability.h>

#include "app.h"
#include "elfkind.h"
#include "golayout.h"
#include "kcap.h"
#include "auth.h"
#include "log.h"
#include "monotime.h"
#include "otlp.h"
#include "privs.h"
#include "procinfo.h"
#include "region.h"
#include "report.h"
#include "spans.h"
#include "str.h"
#include "tp.h"

#define EXIT_OBS_FAILED 125

/* Signals obs-run forwards to CMD (SIGCHLD tells us CMD ended). */
static const int fwd_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

static void block_signals(sigset_t *set, sigset_t *old)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(fwd_signals) / sizeof(fwd_signals[0]); i++)
		sigaddset(set, fwd_signals[i]);
	sigaddset(set, SIGCHLD);
	sigprocmask(SIG_BLOCK, set, old);
}

/* Child: wait for "go" (BPF attached and tracking us), then exec CMD. */
static void child_exec(char **argv, int go_fd, int err_fd, const sigset_t *oldmask)
{
	char c;
	int e;

	sigprocmask(SIG_SETMASK, oldmask, NULL);
	if (read(go_fd, &c, 1) != 1)
		_exit(EXIT_OBS_FAILED); /* obs-run failed before starting CMD */
	close(go_fd);
	execvp(argv[0], argv);
	e = errno;
	if (write(err_fd, &e, sizeof(e)) != sizeof(e))
		_exit(126);
	_exit(e == ENOENT ? 127 : 126);
}

static int exit_status_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EXIT_OBS_FAILED;
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

static void print_summary(struct obs_app *a, const char *cmd, pid_t pid, int status)
{
	struct obs_snapshot s;
	char what[96];
	double secs = (double)(monotime_ns() - a->start_ns) / 1e9;

	describe_status(status, what, sizeof(what));
	fprintf(stderr, "\n%s: %s (pid %d) %s after %.1fs\n", log_prog(), cmd, (int)pid, what,
		secs);
	pthread_mutex_lock(&a->lock);
	if (a->col && !collector_snapshot(a->col, &s)) {
		report_summary(stderr, &s, 12);
		snapshot_free(&s);
	}
	if (a->spans) {
		spans_red_summary(a->spans, stderr, 12);
		spans_summary(a->spans, stderr);
	}
	pthread_mutex_unlock(&a->lock);
}

/* Only CMD's processes may hand over a region: any other process could
 * reach the socket (its name is in /proc/net/unix). They prove it with
 * the key they inherited from CMD's environment, which another user
 * cannot read; a process that exited before its region was taken still
 * counts. */
static char run_key[40];
static int run_accept(void *ctx, pid_t pid, const char *key, struct regions_who *who)
{
	struct obs_app *a = ctx;

	(void)pid;
	if (!auth_equal(run_key, strlen(run_key), key, strlen(key)))
		return -1;
	str_copy(who->service, sizeof(who->service), a->service);
	return 0;
}

/* A process kernel-side capture follows is CMD's: its labels. */
static void run_who(void *ctx, pid_t pid, struct regions_who *who)
{
	const struct obs_app *a = ctx;

	(void)pid;
	str_copy(who->service, sizeof(who->service), a->service);
}

/* Listen for the processes' regions, start the exporter, and put the shim
 * into CMD's environment. */
static int setup_shim(struct obs_app *a, const char *service, char *err, size_t errlen)
{
	const struct obs_config *c = a->cfg;
	static char sock[64];
	struct spans_cfg cfg = {.service = service,
				.socket = sock,
				.accept = run_accept,
				.accept_ctx = a,
				.routes = c->routes,
				.sample_mode = app_sampler_mode(c),
				.sample_ratio = c->sampling_ratio};
	char lib[4096], pre[8192 + 64];
	uint8_t key[16];
	const char *old;

	if (app_find_preload(lib, sizeof(lib))) {
		log_warn("preload_missing",
			 "libobs_preload.so not found (set OBS_PRELOAD_LIB): no HTTP metrics or "
			 "spans, kernel metrics only");
		return 0;
	}
	if (app_export_cfg(c, service, &cfg.export, err, errlen))
		return -1;
	cfg.export_spans = c->tracing_enabled && app_exports_spans(&cfg.export);
	/* an abstract socket: no file, reachable by CMD's processes whatever
	 * user they become; who may use it is checked (run_accept) */
	snprintf(sock, sizeof(sock), "@obs-run-%d", (int)getpid());
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	tp_hex(key, sizeof(key), run_key);
	str_copy(a->service, sizeof(a->service), service);
	if (spans_open(&a->spans, &cfg, err, errlen))
		return -1;
	/* Append: libraries the user preloads keep their place (a sanitizer
	 * runtime must come first), ours still interposes libc. */
	old = getenv("LD_PRELOAD");
	snprintf(pre, sizeof(pre), "%s%s%s", old ? old : "", old && *old ? " " : "", lib);
	setenv("LD_PRELOAD", pre, 1);
	setenv("OBS_SOCKET", spans_socket(a->spans), 1);
	setenv("OBS_SOCKET_KEY", run_key, 1);
	if (c->routes.n) { /* the first requests' routes, before CMD's region is held */
		char list[ROUTE_LIST_MAX];

		route_table_join(&c->routes, list, sizeof(list));
		setenv("OBS_SHIM_ROUTES", list, 1);
	}
	if (!cfg.export_spans) {
		setenv("OBS_SAMPLE", "off", 1); /* not even the first requests' spans */
	} else if (cfg.sample_mode != SPANRING_SAMPLE_PROCESS) {
		char sample[48];
		snprintf(sample, sizeof(sample), "%s %.17g",
			 cfg.sample_mode == SPANRING_SAMPLE_FORCE ? "force" : "config",
			 cfg.sample_ratio);
		setenv("OBS_SAMPLE", sample, 1);
	}
	if (cfg.export_spans) {
		char shown[512];

		otlp_url_shown(cfg.export.endpoint, shown, sizeof(shown));
		log_info("spans: %s", cfg.export.endpoint		  ? shown
				      : strcmp(cfg.export.json_path, "-") ? cfg.export.json_path
									  : "stdout (JSON lines)");
	} else if (c->tracing_enabled)
		log_info("spans: not exported (set OTEL_EXPORTER_OTLP_ENDPOINT, or --spans-file "
			 "FILE for JSON lines); metrics count every request");
	return 0;
}

/* What CMD is, as far as following it goes. */
struct cmd_kind {
	enum elfkind kind;
	char path[4096];
	struct golayout go; /* a Go program's, when go_known */
	int go_known;
};

/* Say at start when CMD is a program the shim cannot follow, and what the
 * user gets instead: a wrapper that is silent about it looks broken. Its
 * kind (and a Go program's layout), for kernel-side capture. */
static void explain_cmd(const char *cmd, int inject, struct cmd_kind *k)
{
	char detail[128], why[128] = "";

	memset(k, 0, sizeof(*k));
	k->kind = ELFKIND_UNKNOWN;
	if (elfkind_resolve(cmd, k->path, sizeof(k->path)))
		return; /* not found: exec says so */
	k->kind = elfkind_of(k->path, detail, sizeof(detail));
	switch (k->kind) {
	case ELFKIND_GO:
		k->go_known = !golayout_read(k->path, detail, &k->go, why, sizeof(why));
		log_warn(
		    "shim_cannot_enter",
		    "%s is a Go program%s%s%s: Go makes its own syscalls, so the shim cannot "
		    "follow it. obs follows its HTTP/1 and cleartext HTTP/2 and gRPC from the "
		    "kernel side instead: http_*/rpc_* metrics and spans, a request's incoming "
		    "traceparent honoured, and its cleartext PostgreSQL, Redis and MySQL "
		    "operations (db_* "
		    "metrics and "
		    "spans); %s%s%s%s%s (docs/design.md, "
		    "\"Programs the shim cannot enter\")",
		    k->path, *detail ? " (" : "", detail, *detail ? ")" : "",
		    !k->go_known ? "its outgoing requests start new traces marked parent unknown"
		    : golayout_grpc(&k->go) || golayout_http(&k->go)
			? "an outgoing net/http or grpc-go call is the child of the request "
			  "whose handler goroutine made it, as is a database operation; other "
			  "outgoing "
			  "requests start new traces marked parent unknown"
			: "a database operation is the child of the request whose "
			  "handler goroutine made it; "
			  "other outgoing requests start new traces marked parent unknown (it "
			  "uses neither net/http's client nor grpc-go)",
		    *why ? " (goroutines cannot be told apart: " : "", why, *why ? ")" : "",
		    !inject ? ", and nothing is injected (--go-inject: net/http's requests)"
		    : k->go_known && golayout_inject(&k->go)
			? "; --go-inject: its net/http requests carry their context out"
			: "; --go-inject: nothing to inject into (net/http's client not found)");
		break;
	case ELFKIND_STATIC:
		log_warn(
		    "shim_cannot_enter",
		    "%s is statically linked: LD_PRELOAD cannot load the shim into it. obs "
		    "follows its HTTP/1 and cleartext HTTP/2 and gRPC from the kernel side "
		    "instead: http_*/rpc_* metrics and spans, and its cleartext PostgreSQL, "
		    "Redis and MySQL operations (db_* metrics and spans); the thread rule for its "
		    "outgoing "
		    "requests' parents; nothing is "
		    "injected (docs/design.md, \"Programs the shim cannot enter\")",
		    k->path);
		break;
	default:
		break;
	}
}

/* Wait for CMD, forwarding signals; keep draining BPF events. */
static int supervise(struct obs_app *a, pid_t child, const sigset_t *set, int drain_ms)
{
	int sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK), status = 0;
	struct pollfd pfd[2];

	if (sfd < 0) {
		log_error("signalfd_failed", "signalfd: %s", strerror(errno));
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		return status;
	}
	pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = collector_event_fd(a->col), .events = POLLIN};
	for (;;) {
		struct signalfd_siginfo si;
		pid_t w;

		if (poll(pfd, 2, drain_ms) < 0 && errno != EINTR)
			break;
		app_drain(a, 0);
		app_watch_tls(a);
		w = waitpid(child, &status, WNOHANG);
		if (w == child)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGCHLD)
				continue;
			/* obs-run reloads its own settings and, as for every
			 * signal, passes SIGHUP on: CMD may reload too */
			if (si.ssi_signo == SIGHUP && a->cfg->file[0])
				app_reload(a);
			/* Terminal-generated signals already reached CMD's process group. */
			if (si.ssi_code == SI_KERNEL)
				continue;
			kill(child, (int)si.ssi_signo);
		}
	}
	close(sfd);
	return status;
}

int run_main(const struct obs_opts *o)
{
	struct collector_cfg cfg = {.default_slot = OBS_SLOT_NONE};
	struct slot_labels labels = {0};
	struct obs_config *conf;
	int go[2] = {-1, -1}, errp[2] = {-1, -1}, status = 0, exec_errno = 0;
	char err[1024];
	sigset_t set, oldmask;
	struct obs_app a;
	struct kcap *kcap = NULL;
	struct cmd_kind ck = {.kind = ELFKIND_UNKNOWN};
	pid_t child;
	uint32_t slot;
	ssize_t n;

	if (app_config(&conf, o, err, sizeof(err))) {
		log_error("config_invalid", "%s", err);
		return EXIT_OBS_FAILED;
	}
	if (privs_check_all(err, sizeof(err))) {
		log_error("requirements_unmet", "%s", err);
		free(conf);
		return EXIT_OBS_FAILED;
	}
	cfg.probes = conf->probes;
	/* Before any thread exists: threads inherit the mask, and an
	 * unblocked thread would take SIGTERM's default action for us. */
	block_signals(&set, &oldmask);
	if (app_init(&a, o, conf, 0)) {
		log_error("out_of_memory", "out of memory");
		return EXIT_OBS_FAILED;
	}
	if (*conf->service)
		snprintf(labels.service, sizeof(labels.service), "%s", conf->service);
	else
		procinfo_service_for_cmd(o->cmd_argv[0], labels.service, sizeof(labels.service));
	slot = slots_get(a.slots, &labels);
	if (!o->no_preload)
		explain_cmd(o->cmd_argv[0], o->go_inject, &ck);

	if (app_start_http(&a, err, sizeof(err))) {
		log_error("metrics_listen_failed", "%s", err);
		app_free(&a);
		return EXIT_OBS_FAILED;
	}
	if (!o->no_preload && setup_shim(&a, labels.service, err, sizeof(err))) {
		log_error("tracing_setup_failed", "%s", err);
		app_free(&a);
		return EXIT_OBS_FAILED;
	}
	if ((ck.kind == ELFKIND_GO || ck.kind == ELFKIND_STATIC) && a.spans) {
		struct kcap_cfg kc = {
		    .spans = a.spans, .routes = &a.cfg->routes, .who = run_who, .who_ctx = &a};

		if (o->go_inject && ck.kind == ELFKIND_GO &&
		    getrandom(kc.inj_key, sizeof(kc.inj_key), 0) == (ssize_t)sizeof(kc.inj_key)) {
			kc.inject = cfg.go_inject = 1;
			kc.inj_q53 = cfg.inj_q53 =
			    region_sample_q53(app_sampler_mode(a.cfg), a.cfg->sampling_ratio);
			memcpy(cfg.inj_key, kc.inj_key, sizeof(cfg.inj_key));
		}

		if (!(kcap = kcap_new(&kc))) {
			log_error("out_of_memory", "out of memory");
			app_free(&a);
			return EXIT_OBS_FAILED;
		}
		cfg.on_capture = kcap_event;
		cfg.capture_ctx = kcap;
	}
	if (o->go_inject && !cfg.go_inject)
		log_warn("inject_unavailable", "--go-inject: %s",
			 ck.kind != ELFKIND_GO ? "CMD is not a Go program: nothing to inject into"
			 : !a.spans	       ? "no spans are kept (the shim is not set up)"
					       : "no random key (getrandom failed)");
	if (pipe2(go, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		log_error("fork_failed", "pipe: %s", strerror(errno));
		kcap_free(kcap);
		app_free(&a);
		return EXIT_OBS_FAILED;
	}
	child = fork();
	if (child < 0) {
		log_error("fork_failed", "fork: %s", strerror(errno));
		kcap_free(kcap);
		app_free(&a);
		return EXIT_OBS_FAILED;
	}
	if (child == 0) {
		close(go[1]);
		close(errp[0]);
		child_exec(o->cmd_argv, go[0], errp[1], &oldmask);
	}
	close(go[0]);
	close(errp[1]);
	signal(SIGPIPE, SIG_IGN);

	if (app_attach(&a, &cfg, err, sizeof(err)) || collector_track(a.col, child, slot)) {
		log_error("bpf_attach_failed", "%s",
			  *err ? err : "cannot track the command's process");
		close(go[1]); /* child exits without running CMD */
		waitpid(child, NULL, 0);
		kcap_free(kcap);
		app_free(&a);
		return EXIT_OBS_FAILED;
	}
	log_debug("tracking pid %d as service \"%s\"", (int)child, labels.service);
	if (kcap) {
		if (collector_capture(a.col, child))
			log_warn("capture_failed", "kernel-side capture of pid %d: %s", (int)child,
				 strerror(errno));
		if (ck.kind == ELFKIND_GO)
			kcap_set_go(kcap, child);
		/* while still privileged: uprobes on CMD's net/http client */
		if (ck.go_known &&
		    collector_go_follow(a.col, child, ck.path, &ck.go, err, sizeof(err)))
			log_warn("capture_failed",
				 "goroutines of pid %d cannot be told apart: %s; its outgoing "
				 "requests start new traces marked parent unknown",
				 (int)child, err);
	}
	/* CMD runs with whatever it was started with; obs-run itself keeps
	 * only CAP_KILL: CMD may switch to another user and must still get
	 * the signals obs-run forwards */
	if (app_drop_privileges(&a, 1ULL << CAP_KILL, "to forward signals to CMD", err,
				sizeof(err))) {
		log_error("privilege_drop_failed", "%s", err);
		close(go[1]); /* child exits without running CMD */
		waitpid(child, NULL, 0);
		kcap_free(kcap);
		app_free(&a);
		return EXIT_OBS_FAILED;
	}
	if (write(go[1], "g", 1) != 1)
		log_warn("cmd_start_failed", "cannot start the command: %s", strerror(errno));
	close(go[1]);
	app_set_ready(&a);

	n = read(errp[0], &exec_errno, sizeof(exec_errno));
	close(errp[0]);
	if (n == sizeof(exec_errno)) {
		waitpid(child, &status, 0);
		if (exec_errno == ENOENT)
			log_error("cmd_not_found", "%s: command not found", o->cmd_argv[0]);
		else
			log_error("cmd_exec_failed", "%s: cannot execute: %s", o->cmd_argv[0],
				  strerror(exec_errno));
		kcap_free(kcap);
		app_free(&a);
		return exec_errno == ENOENT ? 127 : 126;
	}

	status = supervise(&a, child, &set, kcap ? KCAP_DRAIN_MS : 1000);
	app_drain(&a, 0);
	kcap_free(kcap);	     /* its regions retire with their last spans and counts */
	spans_finish(a.spans, 5000); /* so the summary counts the last spans */
	if (o->summary)
		print_summary(&a, o->cmd_argv[0], child, status);
	app_free(&a);
	return exit_status_of(status);
}

#include "agent.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "agent_priv.h"
#include "app.h"
#include "ident.h"
#include "log.h"
#include "monotime.h"
#include "otlp.h"
#include "privs.h"
#include "procinfo.h"
#include "procparse.h"
#include "slots.h"
#include "str.h"
#include "spans.h"

#define RESCAN_NS (30ULL * 1000000000ULL)

/* Any process on the node may hand its region over (it opted in by
 * preloading the shim); who it is comes from the kernel (SO_PEERCRED):
 * its own labels, container and pod, exactly as for its kernel metrics
 * (the labels it was given at exec: the agent cannot read other users'
 * /proc/PID/environ once it has dropped CAP_SYS_PTRACE). */
static int agent_accept(void *ctx, pid_t pid, const char *key, struct regions_who *who)
{
	struct obs_app *a = ctx;
	struct collector *col;
	struct slot_labels l;
	uint32_t slot;

	(void)key;
	/* Not under a->lock: the span thread calls this holding the spans'
	 * lock, and a scrape holds a->lock while it takes the spans' lock (a
	 * deadlock of both, and of the agent, seen in CI). The collector
	 * outlives the span thread (app_free joins it first). */
	col = __atomic_load_n(&a->col, __ATOMIC_ACQUIRE);
	if (!col || collector_slot(col, pid, &slot) || slots_lookup(a->slots, slot, &l)) {
		snprintf(who->service, sizeof(who->service), "unknown");
		return 0;
	}
	snprintf(who->service, sizeof(who->service), "%s", l.service);
	snprintf(who->container_id, sizeof(who->container_id), "%s", l.container_id);
	snprintf(who->pod_uid, sizeof(who->pod_uid), "%s", l.pod_uid);
	return 0;
}

/* Copy src to dir/name for workloads to load (atomic: a process starting
 * meanwhile sees the old file or the new one; the temporary file is made
 * afresh, never followed through a link someone left there). */
static int publish_file(const char *src, const char *dir, const char *name, char *out,
			size_t outlen, char *err, size_t errlen)
{
	char tmp[CONFIG_PATH_MAX + 96], buf[65536];
	int in = -1, fd = -1, rc = -1;
	ssize_t n;

	snprintf(out, outlen, "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", out, (int)getpid());
	unlink(tmp);
	in = open(src, O_RDONLY | O_CLOEXEC);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (in < 0 || fd < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			goto out;
	if (n < 0 || fchmod(fd, 0644) || fsync(fd) || rename(tmp, out))
		goto out;
	rc = 0;
out:
	if (rc)
		snprintf(err, errlen, "cannot copy %.300s to %.300s: %s", src, out,
			 strerror(errno));
	if (in >= 0)
		close(in);
	if (fd >= 0)
		close(fd);
	if (rc && fd >= 0)
		unlink(tmp);
	return rc;
}

/* A directory obs publishes code in (workloads load what is there): made
 * 0755 if missing; an existing one must be a real directory of obs's own
 * user that no one else can write, or anyone could swap the shim. */
static int own_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %.300s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st)) {
		snprintf(err, errlen, "cannot stat %.300s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(err, errlen,
			 "%.300s is not a directory of uid %d writable only by it (found %s, "
			 "uid %d, mode %04o): workloads load code from it, so obs refuses it; "
			 "remove it or fix its owner and mode",
			 dir, (int)geteuid(),
			 S_ISLNK(st.st_mode)   ? "a symlink"
			 : S_ISDIR(st.st_mode) ? "a directory"
					       : "not a directory",
			 (int)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* The shim, and beside it the runtime helpers it loads into node and
 * python workloads (preload/runtime.c), from the folder of lib. */
static int publish_shim(const char *lib, const char *dir, char *out, size_t outlen, char *err,
			size_t errlen)
{
	static const char *const helpers[] = {"node/obs-context.js", "python/sitecustomize.py",
					      "python/_obs_context.py"};
	char src[4200], sub[CONFIG_PATH_MAX + 64], dst[CONFIG_PATH_MAX + 96];
	const char *slash = strrchr(lib, '/');
	int libdir = slash ? (int)(slash - lib) : 1;

	if (publish_file(lib, dir, "libobs_preload.so", out, outlen, err, errlen))
		return -1;
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		const char *h = helpers[i];
		snprintf(src, sizeof(src), "%.*s/obs-helpers/%s", libdir, slash ? lib : ".", h);
		if (access(src, R_OK)) {
			log_warn("helpers_missing",
				 "%s not found: node and python workloads get no runtime helper "
				 "(docs/design.md, \"Context\")",
				 src);
			return 0;
		}
		snprintf(sub, sizeof(sub), "%s/obs-helpers", dir);
		if (own_dir(sub, err, errlen))
			return -1;
		const char *base = strchr(h, '/');

		if (!base)
			continue;
		snprintf(sub, sizeof(sub), "%s/obs-helpers/%.*s", dir, (int)(base - h), h);
		if (own_dir(sub, err, errlen))
			return -1;
		if (publish_file(src, sub, base + 1, dst, sizeof(dst), err, errlen))
			return -1;
	}
	return 0;
}

/* DIR/routes: the route patterns, one line, for workloads' shims to name
 * their first requests by before the agent holds their regions. Made
 * afresh and renamed over at start (as the shim is); the agent keeps it
 * open, since once it is no longer root it cannot create files there, and
 * a reload rewrites it in place. */
static int routes_fd = -1;

static void agent_write_routes(const struct obs_config *c)
{
	char path[CONFIG_PATH_MAX + 16], tmp[CONFIG_PATH_MAX + 48];
	char list[ROUTE_LIST_MAX + 1];
	size_t at = route_table_join(&c->routes, list, sizeof(list) - 1);

	at = str_append(list, sizeof(list), at, "\n");
	snprintf(path, sizeof(path), "%s/routes", c->shim_dir);
	if (routes_fd >= 0) {
		if (pwrite(routes_fd, list, at, 0) != (ssize_t)at ||
		    ftruncate(routes_fd, (off_t)at))
			log_warn("routes_unpublished", "cannot rewrite %s: %s", path,
				 strerror(errno));
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	unlink(tmp);
	routes_fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (routes_fd < 0 || write(routes_fd, list, at) != (ssize_t)at || fchmod(routes_fd, 0644) ||
	    rename(tmp, path)) {
		log_warn("routes_unpublished", "cannot write %s: %s", path, strerror(errno));
		if (routes_fd >= 0)
			close(routes_fd);
		routes_fd = -1;
		unlink(tmp);
	}
}

/* The node's span pipeline: the socket processes hand their regions to,
 * in tracing.shim_dir, with the shim beside it. Workloads opt in with
 * LD_PRELOAD=DIR/libobs_preload.so (the shim finds DIR/obs.sock itself). */
static int agent_spans(struct obs_app *a, char *err, size_t errlen)
{
	static char sock[CONFIG_PATH_MAX + 16], shim[CONFIG_PATH_MAX + 32];
	char shown[512];
	const struct obs_config *c = a->cfg;
	struct spans_cfg cfg = {.service = "unknown_service",
				.agent = 1,
				.socket = sock,
				.socket_mode = 0666, /* any process of any user may hand one over */
				.accept = agent_accept,
				.accept_ctx = a,
				.routes = c->routes,
				.sample_mode = app_sampler_mode(c),
				.sample_ratio = c->sampling_ratio};
	char lib[4096];

	if (app_find_preload(lib, sizeof(lib))) {
		log_warn("preload_missing",
			 "libobs_preload.so not found (set OBS_PRELOAD_LIB): no HTTP metrics or "
			 "spans from the node, kernel metrics only");
		return 0;
	}
	if (own_dir(c->shim_dir, err, errlen))
		return -1;
	snprintf(sock, sizeof(sock), "%s/obs.sock", c->shim_dir);
	agent_write_routes(c);
	if (publish_shim(lib, c->shim_dir, shim, sizeof(shim), err, errlen) ||
	    app_export_cfg(c, cfg.service, &cfg.export, err, errlen))
		return -1;
	cfg.export_spans = c->tracing_enabled && app_exports_spans(&cfg.export);
	if (spans_open(&a->spans, &cfg, err, errlen))
		return -1;
	otlp_url_shown(cfg.export.endpoint, shown, sizeof(shown));
	log_info("spans: workloads opt in with LD_PRELOAD=%s (regions handed to %s); %s", shim,
		 sock,
		 !c->tracing_enabled   ? "metrics only (tracing.enabled: false)"
		 : cfg.export.endpoint ? shown
		 : cfg.export.json_path
		     ? cfg.export.json_path
		     : "metrics only (no tracing.endpoint or spans_file: spans are not exported)");
	return 0;
}

static int agent_run(struct agent *ag, const struct obs_opts *o);

int agent_main(const struct obs_opts *o)
{
	struct agent *ag = calloc(1, sizeof(*ag));
	int rc;

	if (!ag || !(ag->ident = ident_new())) {
		log_error("out_of_memory", "out of memory");
		free(ag);
		return 1;
	}
	rc = agent_run(ag, o);
	ident_free(ag->ident);
	free(ag);
	return rc;
}

static int agent_run(struct agent *ag, const struct obs_opts *o)
{
	struct obs_app *ap = &ag->app;
	struct collector_cfg cfg = {.default_slot = OBS_SLOT_UNATTRIBUTED,
				    .emit_exec = 1,
				    .on_event = agent_event,
				    .ctx = ag};
	struct pollfd pfd[3];
	char err[1024];
	sigset_t set;
	uint64_t last_scan;
	struct obs_config *conf;
	int sfd, n;

	if (app_config(&conf, o, err, sizeof(err))) {
		log_error("config_invalid", "%s", err);
		return 1;
	}
	if (privs_check_all(err, sizeof(err))) {
		log_error("requirements_unmet", "%s", err);
		free(conf);
		return 1;
	}
	cfg.probes = conf->probes;
	if (app_init(ap, o, conf, 1)) {
		log_error("out_of_memory", "out of memory");
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || app_start_http(ap, err, sizeof(err)) ||
	    (!o->no_preload && agent_spans(ap, err, sizeof(err)))) {
		log_error("startup_failed", "%s", sfd < 0 ? strerror(errno) : err);
		app_free(ap);
		return 1;
	}
	if (ap->spans) { /* the programs the shim cannot enter: from the kernel side */
		struct kcap_cfg kc = {.spans = ap->spans,
				      .routes = &ap->cfg->routes,
				      .who = agent_who,
				      .who_ctx = ag,
				      .found_go = agent_found_go};

		if ((ag->kcap = kcap_new(&kc))) {
			cfg.on_capture = kcap_event;
			cfg.capture_ctx = ag->kcap;
			cfg.capture_probe_exec = 1;
		}
	}
	if (app_attach(ap, &cfg, err, sizeof(err))) {
		log_error("startup_failed", "%s", err);
		kcap_free(ag->kcap);
		app_free(ap);
		return 1;
	}
	/* while privileged: Go programs' uprobes are attached by a helper
	 * that keeps what that takes, the agent itself keeping nothing */
	if (ag->kcap && gohelper_start(ap->col, &ag->goh, err, sizeof(err)))
		log_warn("go_helper_failed",
			 "no Go helper (%s): Go programs' outgoing calls are marked parent unknown",
			 err);
	n = agent_scan(ag, 1);
	last_scan = monotime_ns();
	/* from here on, new processes are labelled from their exec events */
	if (app_drop_privileges(ap, 0, "to read the config and secret files on SIGHUP", err,
				sizeof(err))) {
		log_error("privilege_drop_failed", "%s", err);
		close(sfd);
		gohelper_stop(ag->goh);
		kcap_free(ag->kcap);
		app_free(ap);
		return 1;
	}
	app_set_ready(ap);
	log_info("agent ready: %d BPF programs attached, %d processes, %u services",
		 collector_attached(ap->col), n, slots_count(ap->slots));

	pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = collector_event_fd(ap->col), .events = POLLIN};
	pfd[2] = (struct pollfd){.fd = gohelper_fd(ag->goh), .events = POLLIN};
	for (;;) {
		struct signalfd_siginfo si;

		pfd[2].fd = gohelper_fd(ag->goh); /* -1 once it is gone: ignored */
		if (poll(pfd, 3, ag->kcap ? KCAP_DRAIN_MS : 1000) < 0 && errno != EINTR)
			break;
		app_drain(ap, 0);
		agent_go_replies(ag);
		app_watch_tls(ap);
		if (pfd[0].revents & POLLIN && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo != SIGHUP)
				break;
			log_info("SIGHUP: rescanning processes%s",
				 ap->cfg->file[0] ? " and reloading the config file" : "");
			if (ap->cfg->file[0]) {
				app_reload(ap);
				if (!o->no_preload)
					agent_write_routes(ap->cfg);
			}
			last_scan = 0;
		}
		agent_promote(ag, monotime_ns());
		agent_expire(ag, monotime_ns());
		/* Catch what exec events missed (ring buffer full, races). */
		if (monotime_ns() - last_scan > RESCAN_NS) {
			agent_scan(ag, 0);
			last_scan = monotime_ns();
		}
	}
	log_info("stopping");
	close(sfd);
	gohelper_stop(ag->goh);
	kcap_free(ag->kcap);	       /* its regions retire with their last spans and counts */
	spans_finish(ap->spans, 5000); /* the last spans, before the span thread's context goes */
	app_free(ap);
	return 0;
}

#include "triage.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "app.h"
#include "log.h"
#include "monotime.h"
#include "privs.h"
#include "procinfo.h"
#include "report.h"

struct descendants {
	struct obs_app *a;
	pid_t root;
	int n;
};

static int track_if_descendant(void *arg, pid_t pid)
{
	struct descendants *d = arg;
	pid_t p = pid;
	int depth = 0;

	if (pid == d->root)
		return 0;
	/* Walk up the parent chain (bounded) looking for root. */
	while (p > 1 && depth++ < 64 && p != d->root)
		p = procinfo_ppid(p);
	if (p == d->root && !collector_track(d->a->col, pid, 0))
		d->n++;
	return 0;
}

/* Track pid's existing descendants too (new ones follow in the kernel). */
static int track_descendants(struct obs_app *a, pid_t root)
{
	struct descendants d = {a, root, 0};

	procinfo_each(track_if_descendant, &d);
	return d.n;
}

/* Every pid in a cgroup v2 directory and its sub-cgroups. */
static int track_cgroup(struct obs_app *a, const char *dir, int depth)
{
	char path[4096];
	FILE *f;
	DIR *d;
	struct dirent *de;
	int pid, n = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fscanf(f, "%d", &pid) == 1)
		if (pid != getpid() && !collector_track(a->col, pid, 0)) {
			log_debug("tracking pid %d of %s", pid, dir);
			n++;
		}
	fclose(f);
	if (depth > 16 || !(d = opendir(dir)))
		return n;
	while ((de = readdir(d))) {
		int m;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		m = track_cgroup(a, path, depth + 1);
		if (m > 0)
			n += m;
	}
	closedir(d);
	return n;
}

static void print_header(const char *what)
{
	char ts[32];
	time_t t = time(NULL);

	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&t));
	printf("\n==== %s %s ====\n", ts, what);
}

static int validate_target(const struct obs_opts *o, char *err, size_t errlen)
{
	struct stat st;
	char path[4096];

	if (o->pid && kill(o->pid, 0) && errno == ESRCH) {
		snprintf(err, errlen, "no process with pid %d", (int)o->pid);
		return -1;
	}
	if (o->cgroup) {
		snprintf(path, sizeof(path), "%s/cgroup.procs", o->cgroup);
		if (stat(o->cgroup, &st) || !S_ISDIR(st.st_mode) || access(path, R_OK)) {
			snprintf(err, errlen,
				 "'%s' is not a cgroup v2 directory (expected e.g. "
				 "/sys/fs/cgroup/system.slice/nginx.service)",
				 o->cgroup);
			return -1;
		}
	}
	return 0;
}

int triage_main(const struct obs_opts *o)
{
	struct collector_cfg cfg = {.default_slot = o->all ? 0 : OBS_SLOT_NONE};
	struct obs_config *conf;
	struct obs_snapshot prev = {0}, cur;
	struct slot_labels l = {.service = "triage"};
	struct obs_app a;
	struct pollfd pfd[2];
	char err[1024], what[256];
	uint64_t t0, next_print, end;
	sigset_t set;
	int sfd, rc = 0;

	if (app_config(&conf, o, err, sizeof(err))) {
		log_error("config_invalid", "%s", err);
		return 1;
	}
	if (privs_check_all(err, sizeof(err)) || validate_target(o, err, sizeof(err))) {
		log_error("requirements_unmet", "%s", err);
		free(conf);
		return 1;
	}
	cfg.probes = conf->probes;
	if (app_init(&a, o, conf, 0)) {
		log_error("out_of_memory", "out of memory");
		return 1;
	}
	slots_get(a.slots, &l);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	t0 = monotime_ns();
	if (sfd < 0 || app_attach(&a, &cfg, err, sizeof(err))) {
		log_error("bpf_attach_failed", "%s", sfd < 0 ? strerror(errno) : err);
		app_free(&a);
		return 1;
	}
	if (o->pid) {
		collector_track(a.col, o->pid, 0);
		snprintf(what, sizeof(what), "pid %d (+%d descendants)", (int)o->pid,
			 track_descendants(&a, o->pid));
	} else if (o->cgroup) {
		snprintf(what, sizeof(what), "cgroup %s (%d processes)", o->cgroup,
			 track_cgroup(&a, o->cgroup, 0));
	} else {
		snprintf(what, sizeof(what), "all processes");
	}
	if (app_drop_privileges(&a, 0, "", err, sizeof(err))) {
		log_error("privilege_drop_failed", "%s", err);
		close(sfd);
		app_free(&a);
		return 1;
	}
	app_set_ready(&a);
	printf("Tracing %s: %d probes attached in %.0f ms. ", what, collector_attached(a.col),
	       (double)(monotime_ns() - t0) / 1e6);
	if (o->duration_s > 0)
		printf("Stopping after %.1fs or Ctrl-C.\n", o->duration_s);
	else
		printf("Hit Ctrl-C to end.\n");
	fflush(stdout);

	end = o->duration_s > 0 ? monotime_ns() + (uint64_t)(o->duration_s * 1e9) : UINT64_MAX;
	next_print =
	    o->interval_s > 0 ? monotime_ns() + (uint64_t)(o->interval_s * 1e9) : UINT64_MAX;
	pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = collector_event_fd(a.col), .events = POLLIN};
	for (;;) {
		uint64_t now = monotime_ns(), wake = end < next_print ? end : next_print;
		int timeout = wake <= now ? 0 : (int)((wake - now) / 1000000 + 1);

		if (timeout > 1000)
			timeout = 1000;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		app_drain(&a, 0);
		if (pfd[0].revents & POLLIN)
			break;
		now = monotime_ns();
		if (o->cgroup && o->duration_s != 0)
			track_cgroup(&a, o->cgroup, 0); /* pick up newcomers */
		if (now >= next_print && !collector_snapshot(a.col, &cur)) {
			struct obs_snapshot delta = cur;

			/* Print this interval only: subtract the previous totals. */
			delta.hists = malloc(cur.nhists * sizeof(*cur.hists) + 1);
			if (delta.hists) {
				memcpy(delta.hists, cur.hists, cur.nhists * sizeof(*cur.hists));
				report_subtract(&delta, &prev);
				print_header("interval");
				report_triage(stdout, &delta, o->top);
				snapshot_free(&delta);
			}
			snapshot_free(&prev);
			prev = cur;
			next_print = now + (uint64_t)(o->interval_s * 1e9);
			fflush(stdout);
		}
		if (now >= end)
			break;
	}
	if (!collector_snapshot(a.col, &cur)) {
		print_header(o->interval_s > 0 ? "total" : what);
		report_triage(stdout, &cur, o->top);
		snapshot_free(&cur);
	} else {
		rc = 1;
	}
	snapshot_free(&prev);
	close(sfd);
	app_free(&a);
	return rc;
}

#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>

#include <linux/capability.h>

#include "app.h"
#include "log.h"
#include "privs.h"
#include "procinfo.h"

#define RESCAN_NS (30ULL * 1000000000ULL)

/* Give pid the slot of its (service, container) labels. */
static void agent_assign(struct obs_app *a, pid_t pid)
{
	struct slot_labels l;

	if (pid == getpid() || procinfo_is_kthread(pid) || procinfo_labels(pid, 1, &l))
		return;
	if (collector_track(a->col, pid, slots_get(a->slots, &l)))
		log_debug("cannot track pid %d", (int)pid);
}

/* Exec changes what a process is: look its labels up again. */
static void agent_event(void *ctx, const struct obs_proc_event *e)
{
	if (e->type == OBS_EV_EXEC)
		agent_assign(ctx, (pid_t)e->tgid);
}

static int agent_scan(struct obs_app *a)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		agent_assign(a, (pid_t)pid);
		n++;
	}
	closedir(d);
	return n;
}

int agent_main(const struct obs_opts *o)
{
	struct obs_app a;
	struct collector_cfg cfg = {.default_slot = OBS_SLOT_UNATTRIBUTED,
				    .emit_exec = 1,
				    .on_event = agent_event,
				    .ctx = &a};
	struct pollfd pfd[2];
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
	if (app_init(&a, o, conf, 1)) {
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
	if (sfd < 0 || app_start_http(&a, err, sizeof(err)) ||
	    app_attach(&a, &cfg, err, sizeof(err))) {
		log_error("startup_failed", "%s", sfd < 0 ? strerror(errno) : err);
		app_free(&a);
		return 1;
	}
	n = agent_scan(&a);
	last_scan = app_now_ns();
	if (app_drop_privileges(&a, 1ULL << CAP_SYS_PTRACE,
				"to read OTEL_SERVICE_NAME from /proc/PID/environ of every user's "
				"processes",
				err, sizeof(err))) {
		log_error("privilege_drop_failed", "%s", err);
		close(sfd);
		app_free(&a);
		return 1;
	}
	log_info("agent ready: %d BPF programs attached, %d processes, %u services",
		 collector_attached(a.col), n, slots_count(a.slots));

	pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = collector_event_fd(a.col), .events = POLLIN};
	for (;;) {
		struct signalfd_siginfo si;

		if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
			break;
		app_drain(&a, 0);
		if (pfd[0].revents & POLLIN && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo != SIGHUP)
				break;
			log_info("SIGHUP: rescanning processes%s",
				 a.cfg->file[0] ? " and reloading the config file" : "");
			if (a.cfg->file[0])
				app_reload(&a);
			last_scan = 0;
		}
		/* Catch what exec events missed (ring buffer full, races). */
		if (app_now_ns() - last_scan > RESCAN_NS) {
			agent_scan(&a);
			last_scan = app_now_ns();
		}
	}
	log_info("stopping");
	close(sfd);
	app_free(&a);
	return 0;
}

/* The agent's side of naming: each process's service (svcid rule, through
 * ident.c), short-lived host processes named late, series that expire,
 * and kernel-side capture for the programs the shim cannot enter. */
#include "agent_priv.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "elfkind.h"
#include "log.h"
#include "monotime.h"
#include "procinfo.h"
#include "slots.h"
#include "spans.h"
#include "str.h"

/* pid is l from now on: its kernel metrics, and its region if it handed
 * one over. */
static void agent_label(struct agent *ag, pid_t pid, const struct slot_labels *l)
{
	if (collector_track(ag->app.col, pid, slots_get(ag->app.slots, l)))
		log_debug("cannot track pid %d", (int)pid);
	spans_relabel(ag->app.spans, pid, l->service, l->container_id, l->pod_uid);
}

void agent_who(void *ctx, pid_t pid, struct regions_who *who)
{
	struct agent *ag = ctx;
	struct slot_labels l;
	uint32_t slot;

	if (collector_slot(ag->app.col, pid, &slot) || slots_lookup(ag->app.slots, slot, &l)) {
		str_copy(who->service, sizeof(who->service), "unknown");
		return;
	}
	str_copy(who->service, sizeof(who->service), l.service);
	str_copy(who->container_id, sizeof(who->container_id), l.container_id);
	str_copy(who->pod_uid, sizeof(who->pod_uid), l.pod_uid);
}

/* A captured process exited with connections still marked. */
static void unmark(void *ctx, pid_t pid, uint32_t fd)
{
	struct agent *ag = ctx;

	collector_capture_forget(ag->app.col, pid, fd);
}

/* 1 the first time exe is named here: things are said once per executable
 * name (a node runs the same binaries again and again: one line each, not
 * one per process). */
static int first_time(struct agent_told *t, const char *exe)
{
	for (unsigned i = 0; i < t->n && i < 64; i++)
		if (!strcmp(t->exe[i], exe))
			return 0;
	str_copy(t->exe[t->n++ % 64], sizeof(t->exe[0]), exe);
	return 1;
}

static void agent_say(struct agent *ag, pid_t pid, const char *exe, uint32_t kind, int followed)
{
	if (!first_time(&ag->told, exe))
		return;
	log_info(
	    "pid %d (%s) is %s: the shim cannot enter it; %s", (int)pid, exe,
	    kind == OBS_EXE_GO ? "a Go program" : "statically linked",
	    followed
		? "its HTTP/1 and cleartext HTTP/2 and gRPC are followed from the kernel "
		  "side, and its cleartext PostgreSQL, Redis and MySQL operations (docs/design.md, "
		  "\"Programs the shim cannot enter\")"
		: "kernel metrics only (spans are off: --no-preload)");
}

/* A program the shim cannot enter, as the exec event or /proc says:
 * followed from the kernel side. (A Go program whose build info was not
 * yet readable at exec is found by the kernel a moment later:
 * agent_found_go.) */
static void agent_capture(struct agent *ag, pid_t pid, const char *exe, uint32_t kind)
{
	int followed;

	if (kind != OBS_EXE_GO && kind != OBS_EXE_STATIC)
		return;
	followed = ag->kcap && !collector_capture(ag->app.col, pid);
	if (followed && kind == OBS_EXE_GO) {
		kcap_set_go(ag->kcap, pid);
		gohelper_follow(ag->goh, pid);
	}
	agent_say(ag, pid, exe, kind, followed);
}

void agent_found_go(void *ctx, pid_t pid)
{
	char name[32];

	if (procinfo_exe(pid, name, sizeof(name)))
		str_copy(name, sizeof(name), "?");
	agent_say(ctx, pid, name, OBS_EXE_GO, 1);
	gohelper_follow(((struct agent *)ctx)->goh, pid);
}

void agent_go_replies(struct agent *ag)
{
	struct gohelper_reply r;
	char name[32];
	int rc;

	while (ag->goh && (rc = gohelper_read(ag->goh, &r))) {
		if (rc < 0) {
			log_warn("go_helper_gone",
				 "the Go helper is gone: Go programs' outgoing calls are marked "
				 "parent unknown from now on");
			gohelper_stop(ag->goh);
			ag->goh = NULL;
			return;
		}
		if (procinfo_exe(r.pid, name, sizeof(name)))
			str_copy(name, sizeof(name), "?");
		log_debug("pid %d (%s): goroutines %s: %s", (int)r.pid, name,
			  r.ok ? "followed" : "not told apart", r.why);
		if (!first_time(&ag->go_told, name))
			continue;
		if (r.ok)
			log_info("pid %d (%s): goroutines followed (%s): an outgoing call is the "
				 "child of the request whose handler goroutine made it",
				 (int)r.pid, name, r.why);
		else
			log_info("pid %d (%s): goroutines cannot be told apart (%s): its outgoing "
				 "calls are marked parent unknown",
				 (int)r.pid, name, r.why);
	}
}

/* A host process named by its executable only once it has lived
 * services.short_lived: until then it stays under the slot it has (its
 * parent's, inherited at fork; "host" if it had none). 1 if deferred. */
static int agent_defer(struct agent *ag, pid_t pid, uint64_t born_ns, int tracked,
		       const struct slot_labels *l)
{
	double wait = ag->app.cfg->services.short_lived_s;
	struct slot_labels host = {.service = "host"};

	if (wait <= 0 || ident_defer(ag->ident, pid, born_ns + (uint64_t)(wait * 1e9), l))
		return 0;
	if (!tracked)
		agent_label(ag, pid, &host);
	return 1;
}

/* Seconds pid has run (CLOCK_BOOTTIME against its start in /proc). */
static double proc_age(pid_t pid)
{
	unsigned long long st = procinfo_starttime(pid);
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return st ? (double)ts.tv_sec + ts.tv_nsec / 1e9 - (double)st / sysconf(_SC_CLK_TCK) : 1e9;
}

/* A process found in /proc: at start every one, later those no exec
 * event named (the /proc scan catches what the events missed). */
static void agent_assign(struct agent *ag, pid_t pid, int at_start)
{
	struct slot_labels l;
	int src;

	if (pid == getpid() || procinfo_is_kthread(pid))
		return;
	src = ident_resolve(ag->ident, &ag->app.cfg->services, pid, NULL, &l);
	if (src < 0)
		return;
	if (at_start) { /* still root: the executable can be read */
		char exe[64], name[32], detail[64];

		snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
		if (!procinfo_exe(pid, name, sizeof(name))) {
			enum elfkind k = elfkind_of(exe, detail, sizeof(detail));

			agent_capture(ag, pid, name,
				      k == ELFKIND_GO	    ? OBS_EXE_GO
				      : k == ELFKIND_STATIC ? OBS_EXE_STATIC
							    : OBS_EXE_UNKNOWN);
		}
	}
	if (!at_start && src == SVCID_EXE) {
		double age = proc_age(pid);

		if (age < ag->app.cfg->services.short_lived_s &&
		    agent_defer(ag, pid, monotime_ns() - (uint64_t)(age * 1e9), 0, &l))
			return;
	}
	agent_label(ag, pid, &l);
}

/* Exec changes what a process is: its labels from what the kernel read
 * of the new image (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, the
 * executable's name), plus its cgroup. Exec events come only for
 * processes already tracked (from fork: under their parent's slot). */
void agent_event(void *ctx, const struct obs_proc_event *e)
{
	struct agent *ag = ctx;
	pid_t pid = (pid_t)e->tgid;
	struct slot_labels l;
	int src;

	if (pid == getpid())
		return;
	if (e->type == OBS_EV_EXIT) {
		ident_cancel(ag->ident, pid);
		kcap_forget(ag->kcap, pid, unmark, ag);
		gohelper_forget(ag->goh, pid);
		return;
	}
	if (e->type != OBS_EV_EXEC)
		return;
	ident_cancel(ag->ident, pid);
	agent_capture(ag, pid, e->exe, e->exe_kind);
	src = ident_resolve(ag->ident, &ag->app.cfg->services, pid, e, &l);
	log_debug("exec: pid %d is \"%s\" (%s)", (int)pid, l.service,
		  src < 0 ? "gone" : svcid_source_name((enum svcid_source)src));
	if (src < 0 || (src == SVCID_EXE && agent_defer(ag, pid, e->ts_ns, 1, &l)))
		return;
	agent_label(ag, pid, &l);
}

/* (pid, ppid) of every process, for the descendants of those named. */
struct family {
	pid_t (*pp)[2];
	size_t n, cap;
};

static int family_add(void *arg, pid_t pid)
{
	struct family *f = arg;
	pid_t ppid = procinfo_ppid(pid);

	if (ppid <= 0)
		return 0;
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 1024;
		pid_t(*np)[2] = realloc(f->pp, ncap * sizeof(*np));

		if (!np)
			return 1;
		f->pp = np;
		f->cap = ncap;
	}
	f->pp[f->n][0] = pid;
	f->pp[f->n++][1] = ppid;
	return 0;
}

static void family_read(struct family *f)
{
	f->n = 0;
	procinfo_each(family_add, f);
}

/* Children forked before pid was named share what it was (nginx's
 * workers): they follow it, unless they exec'd and wait for a name of
 * their own. */
static void label_descendants(struct agent *ag, struct family *f, pid_t pid, uint32_t was,
			      const struct slot_labels *l, int depth)
{
	for (size_t i = 0; i < f->n && depth < 16; i++) {
		pid_t c = f->pp[i][0];
		uint32_t slot;

		if (f->pp[i][1] != pid || collector_slot(ag->app.col, c, &slot) || slot != was ||
		    ident_waiting(ag->ident, c))
			continue;
		agent_label(ag, c, l);
		label_descendants(ag, f, c, was, l, depth + 1);
	}
}

/* Host processes that have lived services.short_lived get their own name. */
void agent_promote(struct agent *ag, uint64_t now)
{
	struct family f = {0};
	struct slot_labels l;
	pid_t pid;

	while (ident_next_due(ag->ident, now, &pid, &l)) {
		uint32_t was;
		int had = !collector_slot(ag->app.col, pid, &was);

		log_debug("pid %d has lived %gs: now \"%s\"", (int)pid,
			  ag->app.cfg->services.short_lived_s, l.service);
		agent_label(ag, pid, &l);
		if (!had)
			continue;
		if (!f.pp)
			family_read(&f);
		label_descendants(ag, &f, pid, was, &l, 0);
	}
	free(f.pp);
}

/* The guard's refusals so far, over every family. */
static uint64_t guard_refused(struct obs_app *a)
{
	uint64_t total = 0, n;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; card_guard_overflow_at(a->guard, i, &n); i++)
		total += n;
	pthread_mutex_unlock(&a->lock);
	return total;
}

/* Series expire with their service: a slot no live process has been
 * tracked under for cardinality.stale_after loses what the kernel side
 * counted under it, its exited processes' RED series, and its number (a
 * one-shot program's name would otherwise hold series, and the guard's
 * budget, for ever). Under pressure (the guard refused a series since the
 * last look) a service with no live process goes at once: the live ones
 * keep their series ahead of it. The unattributed slot stays. */
#define EXPIRE_EVERY_NS (2ULL * 1000000000ULL)

void agent_expire(struct agent *ag, uint64_t now)
{
	struct obs_app *a = &ag->app;
	uint64_t stale = (uint64_t)(a->cfg->series_stale_s * 1e9), refused;
	uint8_t live[OBS_MAX_SLOTS] = {0};
	size_t gone = 0;
	int expired = 0, pressure;

	if (now < ag->next_expire || !a->col)
		return;
	ag->next_expire = now + (stale / 4 < EXPIRE_EVERY_NS ? stale / 4 : EXPIRE_EVERY_NS);
	refused = guard_refused(a);
	pressure = refused > ag->refused;
	ag->refused = refused;
	collector_live_slots(a->col, live);
	for (uint32_t slot = 0; slot < OBS_SLOT_UNATTRIBUTED; slot++) {
		struct slot_labels l;

		if (slots_lookup(a->slots, slot, &l)) {
			ag->last_live[slot] = 0;
			continue;
		}
		if (live[slot] || !ag->last_live[slot]) {
			ag->last_live[slot] = now; /* live, or newly seen */
			continue;
		}
		if (!pressure && now - ag->last_live[slot] < stale)
			continue;
		log_debug("service \"%s\" expired: no process for %.0fs%s", l.service,
			  (double)(now - ag->last_live[slot]) / 1e9,
			  pressure ? " (the series limit is reached)" : "");
		gone += collector_forget_slot(a->col, slot);
		gone += spans_forget(a->spans, l.service, l.container_id, l.pod_uid);
		slots_release(a->slots, slot);
		ag->last_live[slot] = 0;
		expired++;
	}
	if (!expired)
		return;
	pthread_mutex_lock(&a->lock);
	card_guard_reset(a->guard);
	pthread_mutex_unlock(&a->lock);
	__atomic_add_fetch(&a->series_expired, gone, __ATOMIC_RELAXED);
}

/* Every process (at start, while obs may still read every /proc entry),
 * or only those not tracked yet (later: the rest were labelled at exec,
 * and /proc would no longer tell another user's service). */
struct scan {
	struct agent *ag;
	int all, n;
};

static int scan_one(void *arg, pid_t pid)
{
	struct scan *sc = arg;

	if (sc->all || !collector_tracks(sc->ag->app.col, pid)) {
		agent_assign(sc->ag, pid, sc->all);
		sc->n++;
	}
	return 0;
}

int agent_scan(struct agent *ag, int all)
{
	struct scan sc = {ag, all, 0};

	return procinfo_each(scan_one, &sc) ? -1 : sc.n;
}

/*
 * agent_priv - the agent's state, shared by agent.c (publishing the shim,
 * the main loop) and agent_svc.c (naming each process's service, series
 * expiry, kernel-side capture of the programs the shim cannot enter).
 * Main thread only, but for what the comments say.
 */
#ifndef OBS_AGENT_PRIV_H
#define OBS_AGENT_PRIV_H
#include <stdint.h>
#include <sys/types.h>

#include "app.h"
#include "gohelper.h"
#include "ident.h"
#include "kcap.h"

/* The agent's state: the app (first: the callbacks' ctx) and what naming
 * services and expiring them needs. Main thread only. */
struct agent {
	struct obs_app app;
	struct ident *ident;
	uint64_t last_live[OBS_MAX_SLOTS]; /* when a process was last tracked under a slot */
	uint64_t next_expire;
	uint64_t refused;     /* the guard's refusals, at the last look */
	struct kcap *kcap;    /* kernel-side capture; NULL without spans */
	struct gohelper *goh; /* attaches Go programs' uprobes; NULL if none */
	/* executables already said to be Go or static, and whose goroutines
	 * are followed or not (the last 64 names of each) */
	struct agent_told {
		char exe[64][32];
		unsigned n;
	} told, go_told;
};

/* Exec events (collector_cfg.on_event). */
void agent_event(void *ctx, const struct obs_proc_event *e);
/* Host processes that have lived services.short_lived get their own name. */
void agent_promote(struct agent *ag, uint64_t now);
/* Services with no live process lose their series (cardinality.stale_after). */
void agent_expire(struct agent *ag, uint64_t now);
/* Name the processes in /proc: every one (at start) or those not tracked. */
int agent_scan(struct agent *ag, int all);
/* The kernel found a Go program and captures it (kcap_cfg.found_go). */
void agent_found_go(void *ctx, pid_t pid);
/* Who a captured process is (kcap_cfg.who): its slot's labels. */
void agent_who(void *ctx, pid_t pid, struct regions_who *who);
/* What the Go helper answered: said once per executable name. */
void agent_go_replies(struct agent *ag);

#endif

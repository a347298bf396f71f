/*
 * ident - the agent's side of service identity (model/svcid.h decides):
 * what the rule needs, from a process's exec event or from /proc; the
 * kubelet's container names (its log links), cached; and the host
 * processes whose own name waits until they have lived
 * services.short_lived. Not thread-safe: the agent's main thread owns it.
 */
#ifndef OBS_IDENT_H
#define OBS_IDENT_H
#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "obs.h"
#include "slots.h"
#include "svcid.h"

struct ident;

struct ident *ident_new(void);
void ident_free(struct ident *id);

/* pid's labels into out, from its exec event e (NULL: from /proc).
 * Returns the rule that named it, or -1 if the process is gone. */
int ident_resolve(struct ident *id, const struct svcid_rules *r, pid_t pid,
		  const struct obs_proc_event *e, struct slot_labels *out);

/* Label pid with l at due_ns, if it still runs then (the same process:
 * not a reused pid) and has not exec'd again meanwhile. 0, or -1 when
 * the queue is full (the caller labels it now). */
int ident_defer(struct ident *id, pid_t pid, uint64_t due_ns, const struct slot_labels *l);
/* Forget what waits for pid (it exec'd again, or exited). */
void ident_cancel(struct ident *id, pid_t pid);
/* 1 if pid waits for its name. */
int ident_waiting(const struct ident *id, pid_t pid);
/* The next process due by now that still runs: 1 with pid and its
 * labels, 0 when none is due. */
int ident_next_due(struct ident *id, uint64_t now, pid_t *pid, struct slot_labels *l);
/* Processes waiting for their name. */
size_t ident_waiting_count(const struct ident *id);

#endif

/* privs - what privileges this process holds for loading BPF, and giving
 * them up once the programs are attached. */
#ifndef OBS_PRIVS_H
#define OBS_PRIVS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 1 if the effective set has capability cap (CAP_* number). */
int privs_has_cap(int cap);
/*
 * 0 if obs can load and attach its programs (CAP_BPF + CAP_PERFMON, or
 * CAP_SYS_ADMIN); else -1 and a message naming what is missing and how to
 * get it.
 */
int privs_check(char *err, size_t errlen);
/* -1 with err when obs was started with privileges its caller lacks
 * (setuid, or file capabilities: AT_SECURE) from a binary anyone may run:
 * obs trusts its environment (OBS_*, OTEL_*, config paths), so such a
 * binary must be executable only by a trusted group (root:obs 0750). */
int privs_exec_check(char *err, size_t errlen);
/* The requirement checks every loading subcommand runs first. */
int privs_check_all(char *err, size_t errlen);

/*
 * Once the BPF programs are loaded and attached: drop every capability
 * but those in keep (a mask of 1 << CAP_*) from every thread of the
 * process (capabilities are per thread: each thread is signalled to drop
 * its own), clear the bounding and ambient sets, and set no_new_privs, so
 * nothing can take them back. With uid != 0, every thread also switches
 * to uid:gid (no supplementary groups) first, keeping the capabilities in
 * keep across the switch: uid 0 owns most of the file system. The kept
 * names go into kept ("none" if none). 0, or -1 with a message if any
 * thread still holds more, or is not on uid.
 */
int privs_drop(uint64_t keep, uid_t uid, gid_t gid, char *kept, size_t keptlen, char *err,
	       size_t errlen);
/* The unprivileged user obs switches to after attach: "obs" if the system
 * has one, else "nobody". 0 (stay) when obs does not run as root or cannot
 * switch (no CAP_SETUID/CAP_SETGID, e.g. a container not given them). */
int privs_target_user(uid_t *uid, gid_t *gid, char *name, size_t namelen);
/* Does this kernel need CAP_BPF for map reads after loading (before
 * Linux 6.5, with kernel.unprivileged_bpf_disabled set)? */
int privs_bpf_needs_cap(void);
/* The CAP_* name of a capability number ("CAP_KILL"). */
const char *privs_cap_name(int cap);

#endif

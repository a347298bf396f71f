/* procinfo - read what /proc says about a process (labels for a slot). */
#ifndef OBS_PROCINFO_H
#define OBS_PROCINFO_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "slots.h"

/* Service and container labels of pid. 0, or -1 if the process is gone. */
int procinfo_labels(pid_t pid, int container_labels, struct slot_labels *out);
/* Only the container and pod ids, from /proc/PID/cgroup (readable by any
 * user): the rest of out is left as it is. */
void procinfo_container(pid_t pid, struct slot_labels *out);
/* Service name for a command about to be run (obs-run): env, else argv0. */
void procinfo_service_for_cmd(const char *argv0, char *out, size_t outlen);
/* 1 for a kernel thread. */
int procinfo_is_kthread(pid_t pid);
/* Parent pid from /proc/PID/stat, or -1. */
pid_t procinfo_ppid(pid_t pid);
/* The inode of pid's pid namespace (0: self), or 0 if unknown. */
uint64_t procinfo_pidns(pid_t pid);
/* The process that is nspid in pid namespace pidns, as this process sees
 * it (a scan of /proc). 0, or -1 if none. */
int procinfo_host_pid(uint64_t pidns, uint32_t nspid, pid_t *out);

#endif

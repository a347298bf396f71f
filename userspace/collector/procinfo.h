/* procinfo - read what /proc says about a process (labels for a slot). */
#ifndef OBS_PROCINFO_H
#define OBS_PROCINFO_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The value of KEY in pid's environment (readable while obs is root or
 * the process's user). 0, or -1. */
int procinfo_env(pid_t pid, const char *key, char *out, size_t outlen);
/* The executable's name (its comm when /proc/PID/exe is not readable).
 * 0, or -1 if the process is gone. */
int procinfo_exe(pid_t pid, char *out, size_t outlen);
/* pid's cgroup v2 path (readable by any user). 0, or -1. */
int procinfo_cgroup(pid_t pid, char *out, size_t outlen);
/* Service name for a command about to be run (obs-run): env, else argv0. */
void procinfo_service_for_cmd(const char *argv0, char *out, size_t outlen);
/* 1 for a kernel thread. */
int procinfo_is_kthread(pid_t pid);
/* Parent pid from /proc/PID/stat, or -1. */
pid_t procinfo_ppid(pid_t pid);
/* When pid started (clock ticks after boot, /proc/PID/stat), or 0: with
 * the pid, it names one process. */
unsigned long long procinfo_starttime(pid_t pid);
/* fn for every process in /proc, in its order, until fn returns non-zero
 * (that value is returned); 0 when all were seen, -1 if /proc cannot be
 * read. */
int procinfo_each(int (*fn)(void *arg, pid_t pid), void *arg);
/* The inode of pid's pid namespace (0: self), or 0 if unknown. */
uint64_t procinfo_pidns(pid_t pid);
/* The process that is nspid in pid namespace pidns, as this process sees
 * it (a scan of /proc). 0, or -1 if none. */
int procinfo_host_pid(uint64_t pidns, uint32_t nspid, pid_t *out);

#endif

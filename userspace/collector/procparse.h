/*
 * procparse - parse what /proc exposes about a process. Pure: the caller
 * reads the files (userspace/procinfo.c), these functions only parse bytes.
 */
#ifndef OBS_PROCPARSE_H
#define OBS_PROCPARSE_H
#include <stddef.h>
#include <stdint.h>

/* Value of KEY in a NUL-separated environ block. 0 if found, -1 if not. */
int procparse_environ_get(const char *buf, size_t len, const char *key, char *out, size_t outlen);

/* cgroup v2 path ("0::/path") from /proc/PID/cgroup content. 0 or -1. */
int procparse_cgroup_path(const char *buf, size_t len, char *out, size_t outlen);

/*
 * Container id (64 hex, docker / containerd / cri-o / podman naming) and
 * Kubernetes pod UID from a cgroup path. Either may come back empty.
 */
void procparse_container(const char *cgroup_path, char *cid, size_t cidlen, char *pod,
			 size_t podlen);

/* Basename of an exe path, without a " (deleted)" suffix. */
void procparse_exe_name(const char *path, char *out, size_t outlen);
/* The last pid of the "NSpid:" line of /proc/PID/status (the pid in the
 * process's own namespace). 0, or -1 if there is none. */
int procparse_nspid(const char *buf, size_t len, uint32_t *out);

#endif

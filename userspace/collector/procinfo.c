#include "procinfo.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "procparse.h"

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < len - 1 && (n = read(fd, buf + total, len - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return total;
}

int procinfo_env(pid_t pid, const char *key, char *out, size_t outlen)
{
	char path[64], buf[16384];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	n = read_file(path, buf, sizeof(buf));
	if (n <= 0 || procparse_environ_get(buf, (size_t)n, key, out, outlen))
		return -1;
	return 0;
}

int procinfo_exe(pid_t pid, char *out, size_t outlen)
{
	char path[64], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
	} else {
		/* another user's process, once obs is no longer root */
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if (read_file(path, buf, sizeof(buf)) <= 0)
			return -1;
		buf[strcspn(buf, "\n")] = '\0';
	}
	procparse_exe_name(buf, out, outlen);
	return 0;
}

int procinfo_cgroup(pid_t pid, char *out, size_t outlen)
{
	char path[64], buf[16384];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	n = read_file(path, buf, sizeof(buf));
	return n > 0 ? procparse_cgroup_path(buf, (size_t)n, out, outlen) : -1;
}

void procinfo_service_for_cmd(const char *argv0, char *out, size_t outlen)
{
	const char *env = getenv("OTEL_SERVICE_NAME");

	if (env && *env)
		snprintf(out, outlen, "%s", env);
	else
		procparse_exe_name(argv0, out, outlen);
}

/* /proc/PID/stat: "pid (comm) state ppid ... flags ... starttime" — comm
 * may hold ')' */
static int read_stat_fields(pid_t pid, int *ppid, unsigned long *flags, unsigned long long *start)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* fields after comm: state ppid pgrp session tty_nr tpgid flags
	 * minflt cminflt majflt cmajflt utime stime cutime cstime priority
	 * nice num_threads itrealvalue starttime */
	if (sscanf(p + 2,
		   "%*c %d %*d %*d %*d %*d %lu %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
		   "%*d %llu",
		   ppid, flags, &st) != 3)
		return -1;
	if (start)
		*start = st;
	return 0;
}

int procinfo_is_kthread(pid_t pid)
{
	unsigned long flags;
	int ppid;

	if (read_stat_fields(pid, &ppid, &flags, NULL))
		return 0;
	return !!(flags & 0x00200000); /* PF_KTHREAD */
}

pid_t procinfo_ppid(pid_t pid)
{
	unsigned long flags;
	int ppid;

	return read_stat_fields(pid, &ppid, &flags, NULL) ? -1 : ppid;
}

unsigned long long procinfo_starttime(pid_t pid)
{
	unsigned long long st;
	unsigned long flags;
	int ppid;

	return read_stat_fields(pid, &ppid, &flags, &st) ? 0 : st;
}

uint64_t procinfo_pidns(pid_t pid)
{
	char path[64];
	struct stat st;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/pid");
	return stat(path, &st) ? 0 : (uint64_t)st.st_ino;
}

int procinfo_each(int (*fn)(void *arg, pid_t pid), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -1;
	while (!rc && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (!*end && pid > 0)
			rc = fn(arg, (pid_t)pid);
	}
	closedir(d);
	return rc;
}

struct host_pid {
	uint64_t pidns;
	uint32_t nspid;
	pid_t found;
};

static int is_host_pid(void *arg, pid_t pid)
{
	struct host_pid *h = arg;
	char path[64], buf[4096];
	uint32_t v;
	ssize_t n;

	if (procinfo_pidns(pid) != h->pidns)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	n = read_file(path, buf, sizeof(buf));
	if (n > 0 && !procparse_nspid(buf, (size_t)n, &v) && v == h->nspid) {
		h->found = pid;
		return 1;
	}
	return 0;
}

int procinfo_host_pid(uint64_t pidns, uint32_t nspid, pid_t *out)
{
	struct host_pid h = {pidns, nspid, 0};

	if (procinfo_each(is_host_pid, &h) != 1)
		return -1;
	*out = h.found;
	return 0;
}

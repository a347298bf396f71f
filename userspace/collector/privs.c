#include "privs.h"
#include "userdb.h"

#include <dirent.h>
#include <pwd.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <linux/capability.h>
#include <pthread.h>

/* a name service (LDAP, say) that does not answer: obs starts anyway */
#define USERDB_TIMEOUT_MS 5000

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

int privs_has_cap(int cap)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {0};

	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return !!(data[cap / 32].effective & (1u << (cap % 32)));
}

int privs_check(char *err, size_t errlen)
{
	int bpf = privs_has_cap(CAP_BPF), perfmon = privs_has_cap(CAP_PERFMON);

	if (privs_has_cap(CAP_SYS_ADMIN) || (bpf && perfmon))
		return 0;
	snprintf(err, errlen,
		 "missing capability %s%s%s (or CAP_SYS_ADMIN): obs loads eBPF programs and "
		 "reads kernel tracepoints. Run it as root (sudo), or grant the capabilities "
		 "to a binary only a trusted group may run (chown root:obs; chmod 0750; setcap "
		 "cap_bpf,cap_perfmon,cap_dac_read_search,cap_sys_ptrace+ep); uid %d has neither",
		 bpf ? "" : "CAP_BPF", !bpf && !perfmon ? " and " : "",
		 perfmon ? "" : "CAP_PERFMON", (int)geteuid());
	return -1;
}

int privs_exec_check(char *err, size_t errlen)
{
	struct stat st;

	if (!getauxval(AT_SECURE))
		return 0;
	if (stat("/proc/self/exe", &st) == 0 && !(st.st_mode & S_IXOTH))
		return 0;
	snprintf(err, errlen,
		 "refusing to run: this obs binary gives privileges to whoever starts it "
		 "(setuid or file capabilities) and any user may run it, while obs trusts its "
		 "environment (OBS_*, OTEL_*, file paths). Make it executable only by a trusted "
		 "group: chown root:obs BINARY && chmod 0750 BINARY (then setcap again), or run "
		 "obs as root");
	return -1;
}

int privs_check_all(char *err, size_t errlen)
{
	if (privs_check(err, errlen))
		return -1;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, errlen,
			 "kernel BTF is missing (/sys/kernel/btf/vmlinux): obs needs a kernel "
			 "built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, Fedora and RHEL "
			 "kernels have it); run 'obs check' for details");
		return -1;
	}
	return 0;
}

#define CAP_MAX 41 /* CAP_LAST_CAP of 6.x kernels is 40 */

const char *privs_cap_name(int cap)
{
	static const char *const names[CAP_MAX] = {"CAP_CHOWN",
						   "CAP_DAC_OVERRIDE",
						   "CAP_DAC_READ_SEARCH",
						   "CAP_FOWNER",
						   "CAP_FSETID",
						   "CAP_KILL",
						   "CAP_SETGID",
						   "CAP_SETUID",
						   "CAP_SETPCAP",
						   "CAP_LINUX_IMMUTABLE",
						   "CAP_NET_BIND_SERVICE",
						   "CAP_NET_BROADCAST",
						   "CAP_NET_ADMIN",
						   "CAP_NET_RAW",
						   "CAP_IPC_LOCK",
						   "CAP_IPC_OWNER",
						   "CAP_SYS_MODULE",
						   "CAP_SYS_RAWIO",
						   "CAP_SYS_CHROOT",
						   "CAP_SYS_PTRACE",
						   "CAP_SYS_PACCT",
						   "CAP_SYS_ADMIN",
						   "CAP_SYS_BOOT",
						   "CAP_SYS_NICE",
						   "CAP_SYS_RESOURCE",
						   "CAP_SYS_TIME",
						   "CAP_SYS_TTY_CONFIG",
						   "CAP_MKNOD",
						   "CAP_LEASE",
						   "CAP_AUDIT_WRITE",
						   "CAP_AUDIT_CONTROL",
						   "CAP_SETFCAP",
						   "CAP_MAC_OVERRIDE",
						   "CAP_MAC_ADMIN",
						   "CAP_SYSLOG",
						   "CAP_WAKE_ALARM",
						   "CAP_BLOCK_SUSPEND",
						   "CAP_AUDIT_READ",
						   "CAP_PERFMON",
						   "CAP_BPF",
						   "CAP_CHECKPOINT_RESTORE"};

	return cap >= 0 && cap < CAP_MAX ? names[cap] : "CAP_?";
}

int privs_bpf_needs_cap(void)
{
	struct utsname u;
	int major = 0, minor = 0, fd;
	char v[8] = "0";

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 1; /* unknown: keep what might be needed */
	if (major > 6 || (major == 6 && minor >= 5))
		return 0; /* map and ring buffer fds are enough since 6.5 */
	fd = open("/proc/sys/kernel/unprivileged_bpf_disabled", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, v, sizeof(v) - 1) < 0)
			v[0] = '1';
		close(fd);
	}
	return v[0] != '0';
}

/* Shared with the signal handler: what every thread sets, and how many
 * did (whether it worked is read back from /proc afterwards). */
static struct __user_cap_data_struct drop_data[2];
static uint64_t drop_keep;
static int drop_done, drop_setpcap;
static uid_t drop_uid;
static gid_t drop_gid;

/* Async-signal-safe: raw syscalls only, errno preserved. */
static void drop_self(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	int e = errno;

	/* the bounding set first: dropping from it needs CAP_SETPCAP, which
	 * the capset below takes away. Without it (a container that was not
	 * given it) the bounding set stays: no_new_privs and obs never
	 * executing anything keep it unused. */
	for (int cap = 0; drop_setpcap && cap < CAP_MAX; cap++)
		if (!(drop_keep & (1ULL << cap)))
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* credentials are per thread in the kernel: raw syscalls, in each
	 * thread (glibc's own broadcast would not keep the capabilities);
	 * KEEPCAPS keeps the permitted set across the switch, the capset
	 * below sets the effective one again */
	if (drop_uid) {
		prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
		syscall(SYS_setgroups, 0, NULL);
		syscall(SYS_setresgid, drop_gid, drop_gid, drop_gid);
		syscall(SYS_setresuid, drop_uid, drop_uid, drop_uid);
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	syscall(SYS_capset, &hdr, drop_data);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	__atomic_add_fetch(&drop_done, 1, __ATOMIC_RELEASE);
	errno = e;
}

static void drop_handler(int sig)
{
	(void)sig;
	drop_self();
}

/* Effective and permitted sets, and the uids, of one thread from
 * /proc/self/task/TID/status. */
static int thread_caps(long tid, uint64_t *eff, uint64_t *prm, unsigned *uids)
{
	char path[64], buf[4096], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (!(p = strstr(buf, "CapPrm:")) || sscanf(p, "CapPrm: %lx", prm) != 1 ||
	    !(p = strstr(buf, "CapEff:")) || sscanf(p, "CapEff: %lx", eff) != 1 ||
	    !(p = strstr(buf, "Uid:")) ||
	    sscanf(p, "Uid: %u %u %u %u", &uids[0], &uids[1], &uids[2], &uids[3]) != 4)
		return -1;
	return 0;
}

#define MAX_THREADS 256

/* Signal every thread not yet done; returns how many were signalled. */
static int signal_threads(long *done, int *ndone)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	long self = (long)syscall(SYS_gettid);
	int sent = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		long tid = strtol(de->d_name, NULL, 10);
		int seen = tid <= 0 || tid == self;

		for (int i = 0; i < *ndone && !seen; i++)
			seen = done[i] == tid;
		if (seen || *ndone >= MAX_THREADS)
			continue;
		if (!syscall(SYS_tgkill, (long)getpid(), tid, SIGRTMIN + 5)) {
			done[(*ndone)++] = tid;
			sent++;
		}
	}
	closedir(d);
	return sent;
}

int privs_target_user(uid_t *uid, gid_t *gid, char *name, size_t namelen)
{
	static const char *const names[] = {"obs", "nobody"};
	struct userdb_user u;
	struct passwd *pw;
	int found;

	if (geteuid() != 0 || !privs_has_cap(CAP_SETUID) || !privs_has_cap(CAP_SETGID))
		return 0;
	/* asked of getent in a child: NSS modules stay out of obs (userdb.h) */
	found = userdb_first(names, 2, &u, USERDB_TIMEOUT_MS);
	if (found > 0) {
		if (!u.uid)
			return 0;
		*uid = u.uid, *gid = u.gid;
		snprintf(name, namelen, "%s", u.name);
		return 1;
	}
	if (!found || found == -2) { /* neither, or no answer: nobody's ids */
		*uid = 65534, *gid = 65534;
		snprintf(name, namelen, "nobody");
		return 1;
	}
	/* no getent (a minimal image): in this process, as libc does it */
	if (!(pw = getpwnam("obs")) && !(pw = getpwnam("nobody"))) {
		*uid = 65534, *gid = 65534; /* nobody, when /etc/passwd does not say */
		snprintf(name, namelen, "nobody");
		return 1;
	}
	if (!pw->pw_uid)
		return 0;
	*uid = pw->pw_uid, *gid = pw->pw_gid;
	snprintf(name, namelen, "%s", pw->pw_name);
	return 1;
}

int privs_drop(uint64_t keep, uid_t uid, gid_t gid, char *kept, size_t keptlen, char *err,
	       size_t errlen)
{
	struct sigaction sa = {.sa_handler = drop_handler, .sa_flags = SA_RESTART}, old;
	long done[MAX_THREADS];
	int ndone = 0, sent, expect = 0, rc = 0;
	size_t o = 0;
	sigset_t set, oldset;
	DIR *d;
	struct dirent *de;

	drop_keep = keep;
	drop_uid = uid;
	drop_gid = gid;
	drop_setpcap = privs_has_cap(CAP_SETPCAP);
	memset(drop_data, 0, sizeof(drop_data));
	drop_data[0].effective = drop_data[0].permitted = (uint32_t)keep;
	drop_data[1].effective = drop_data[1].permitted = (uint32_t)(keep >> 32);
	__atomic_store_n(&drop_done, 0, __ATOMIC_RELAXED);
	sigfillset(&sa.sa_mask);
	sigaction(SIGRTMIN + 5, &sa, &old);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 5);
	pthread_sigmask(SIG_UNBLOCK, &set, &oldset);

	/* Threads started meanwhile inherit their creator's sets: scan until
	 * a pass finds no thread it has not signalled. */
	for (int pass = 0; pass < 8; pass++) {
		sent = signal_threads(done, &ndone);
		if (sent <= 0)
			break;
		expect += sent;
		for (int i = 0; i < 2000 && __atomic_load_n(&drop_done, __ATOMIC_ACQUIRE) < expect;
		     i++)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	drop_self();
	sigaction(SIGRTMIN + 5, &old, NULL);
	pthread_sigmask(SIG_SETMASK, &oldset, NULL);

	/* Trust, but verify: every thread, from the kernel's view. */
	d = opendir("/proc/self/task");
	while (d && (de = readdir(d))) {
		long tid = strtol(de->d_name, NULL, 10);
		uint64_t eff, prm;
		unsigned ids[4];

		if (tid <= 0)
			continue;
		if (thread_caps(tid, &eff, &prm, ids) || (eff | prm) & ~keep) {
			snprintf(err, errlen,
				 "thread %ld still holds capabilities %#llx after the drop", tid,
				 (unsigned long long)((eff | prm) & ~keep));
			rc = -1;
			break;
		}
		if (uid && (ids[0] != uid || ids[1] != uid || ids[2] != uid || ids[3] != uid)) {
			snprintf(err, errlen,
				 "thread %ld is still uid %u, not %u, after the switch", tid,
				 ids[1], (unsigned)uid);
			rc = -1;
			break;
		}
	}
	if (d)
		closedir(d);
	if (!d) {
		snprintf(err, errlen, "cannot list /proc/self/task to check the drop: %s",
			 strerror(errno));
		rc = -1;
	}
	kept[0] = 0;
	for (int cap = 0; cap < CAP_MAX && o < keptlen; cap++)
		if (keep & (1ULL << cap))
			o += (size_t)snprintf(kept + o, keptlen - o, "%s%s", o ? ", " : "",
					      privs_cap_name(cap));
	if (!kept[0])
		snprintf(kept, keptlen, "none");
	return rc;
}

/*
 * link - this process's region (model/region.h: its RED series, counters
 * and span ring, shared with the collector) and its handover.
 *
 * The process makes its region itself, the first time it needs it: a
 * memfd sealed against shrinking and growing, so neither side can ever be
 * cut off (SIGBUS) under the other. It hands the memfd to the collector
 * over a Unix socket (OBS_SOCKET; the agent's beside the shim by default)
 * with SCM_RIGHTS, without ever waiting: the connect and the send are
 * non-blocking, and the kernel queues them even while the collector is
 * stopped or restarting. Counting starts at once, so nothing counted
 * before the collector took the region is lost. The collector learns who
 * sent it from SO_PEERCRED. The socket stays open: its end tells the
 * collector the process is gone (or exec'd); the collector's end (a
 * restart) is noticed at most once a second and the region handed over
 * again. A forked child makes a region of its own. A byte on it wakes the
 * collector when the span ring fills to where the collector asked
 * (spanring_arm): it need not look every millisecond.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>

#include "link.h"

#define LINK_FD_MIN   900 /* out of the way of apps that assume low fds */
#define LINK_RETRY_NS (1000 * 1000000ULL)
#define LINK_HELLO    "obs-region 1 "
#define LINK_KEY_MAX  64

static struct region reg;
static int have;       /* reg is mapped (for owner) */
static uint32_t owner; /* the pid that made it */
static int making;     /* a thread makes the region or uses the socket (making_try) */
static int memfd = -1; /* kept: a restarted collector gets the region again */
static int sock = -1;  /* open while the collector holds the region */
static uint64_t next_check;
static const char *path; /* OBS_SOCKET, or beside the shim */
static char path_buf[4200];
/* OBS_SOCKET_KEY: what proves to obs-run that this process is one of
 * CMD's (they inherit it; the agent needs none) */
static char hello[sizeof(LINK_HELLO) + LINK_KEY_MAX];
static size_t hello_len;
/* OBS_SAMPLE: "config RATIO" or "force RATIO", the collector's sampler;
 * "off": it exports no span */
static int export_spans = 1;
static enum spanring_sample sample_mode = SPANRING_SAMPLE_PROCESS;
static double sample_ratio = 1.0;

/* routes: an immutable copy per change, published by pointer (old ones
 * are kept: a reader may still hold one; changes are rare) */
static struct route_table *routes;
static uint32_t routes_seq;

/* One thread at a time makes the region, checks or wakes through the
 * socket, or lets go of an fd of ours. */
static int making_try(void)
{
	int z = 0;

	return __atomic_compare_exchange_n(&making, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void making_done(void)
{
	__atomic_store_n(&making, 0, __ATOMIC_RELEASE);
}

static int high_fd(int fd)
{
	int h;

	if (fd < 0 || fd >= LINK_FD_MIN)
		return fd;
	h = fcntl(fd, F_DUPFD_CLOEXEC, LINK_FD_MIN);
	if (h < 0)
		return fd;
	close(fd);
	return h;
}

/* DIR/routes, as the agent writes it (one line of comma-separated
 * patterns); NULL if there is none. Raw syscalls: this runs before main. */
static const char *read_routes_file(const char *shim_dir)
{
	static char buf[ROUTE_LIST_MAX + 1];
	char file[4200];
	size_t n = strlen(shim_dir);
	long got;
	int fd;

	if (n + sizeof("routes") > sizeof(file))
		return NULL;
	memcpy(file, shim_dir, n);
	memcpy(file + n, "routes", sizeof("routes"));
	fd = (int)syscall(SYS_openat, AT_FDCWD, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	got = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (got <= 0)
		return NULL;
	buf[got] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

void link_init(const char *shim_dir)
{
	const char *p, *key = getenv("OBS_SOCKET_KEY");
	size_t kl = key ? strlen(key) : 0;

	if (kl > LINK_KEY_MAX)
		kl = 0;
	memcpy(hello, LINK_HELLO, sizeof(LINK_HELLO) - 1);
	if (kl)
		memcpy(hello + sizeof(LINK_HELLO) - 1, key, kl);
	hello_len = sizeof(LINK_HELLO) - 1 + kl + 1; /* with its NUL */
	p = getenv("OBS_SAMPLE");
	if (p && !strcmp(p, "off"))
		export_spans = 0;
	if (p && (!strncmp(p, "config ", 7) || !strncmp(p, "force ", 6))) {
		char *end;
		double r = strtod(strchr(p, ' ') + 1, &end);
		if (!*end && r >= 0 && r <= 1) {
			sample_mode = p[0] == 'f' ? SPANRING_SAMPLE_FORCE : SPANRING_SAMPLE_CONFIG;
			sample_ratio = r;
		}
	}
	/* OBS_SHIM_ROUTES (obs-run), else the agent's "routes" file beside
	 * the shim: the route patterns, so the very first requests are named
	 * by them (the region's copy, written by the collector once it holds
	 * the region, takes over: SIGHUP changes it) */
	p = getenv("OBS_SHIM_ROUTES");
	if ((!p || !*p) && !getenv("OBS_SOCKET") && shim_dir && *shim_dir)
		p = read_routes_file(shim_dir); /* the agent's, not under obs-run */
	if (p && *p) {
		struct route_table *t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char err[8];

		if (t != MAP_FAILED) {
			route_table_init(t);
			if (route_table_add_list(t, p, err, sizeof(err)) || !t->n)
				munmap(t, sizeof(*t));
			else
				__atomic_store_n(&routes, t, __ATOMIC_RELEASE);
		}
	}
	p = getenv("OBS_SOCKET");

	if (p && *p) {
		size_t n = strlen(p);
		if (n < sizeof(path_buf)) { /* a copy: the app may change its environment */
			memcpy(path_buf, p, n + 1);
			path = path_buf;
		}
	} else if (shim_dir && *shim_dir) {
		size_t n = strlen(shim_dir);
		if (n + sizeof("obs.sock") < sizeof(path_buf)) {
			memcpy(path_buf, shim_dir, n);
			memcpy(path_buf + n, "obs.sock", sizeof("obs.sock"));
			path = path_buf;
		}
	}
}

/* Hand the region over: 0 when the collector's socket has it. */
static int handover(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec v = {hello, hello_len};
	struct msghdr m = {
	    .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c;
	socklen_t len;
	int s;

	if (memfd < 0 || n >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = 0; /* abstract */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] != '@'));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, len)) {
		close(s);
		return -1; /* no collector, or its backlog is full: later */
	}
	memset(ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &memfd, sizeof(int));
	if (sendmsg(s, &m, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)hello_len) {
		close(s);
		return -1;
	}
	sock = high_fd(s);
	return 0;
}

static int make(void)
{
	size_t len = region_bytes(REGION_SERIES, REGION_RING);
	void *m = MAP_FAILED;
	int fd;

	fd = memfd_create("obs-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, (off_t)len) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) ||
	    (m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED ||
	    region_init(&reg, m, len, REGION_SERIES, REGION_RING, ctx_pid(), ctx_pidns())) {
		if (m != MAP_FAILED)
			munmap(m, len);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memfd = high_fd(fd);
	/* until the collector says otherwise: what it announced (OBS_SAMPLE),
	 * so the first requests are sampled as the rest */
	region_set_export(&reg, export_spans, sample_mode, sample_ratio);
	handover();
	next_check = ctx_now() + LINK_RETRY_NS;
	return 0;
}

struct region *link_region(void)
{
	uint32_t me = ctx_pid();
	int e;

	if (__atomic_load_n(&have, __ATOMIC_ACQUIRE) && owner == me)
		return &reg;
	if (!path)
		return NULL; /* no collector to count for */
	if (!making_try()) {
		/* another thread makes it: a few microseconds, once */
		for (int i = 0; i < 10000 && __atomic_load_n(&making, __ATOMIC_ACQUIRE); i++)
			sched_yield();
		return __atomic_load_n(&have, __ATOMIC_ACQUIRE) && owner == me ? &reg : NULL;
	}
	e = errno;
	if (!(__atomic_load_n(&have, __ATOMIC_ACQUIRE) && owner == me)) {
		__atomic_store_n(&have, 0, __ATOMIC_RELEASE);
		if (!make()) {
			owner = me;
			__atomic_store_n(&have, 1, __ATOMIC_RELEASE);
		}
	}
	making_done();
	errno = e;
	return __atomic_load_n(&have, __ATOMIC_ACQUIRE) && owner == me ? &reg : NULL;
}

void link_check(uint64_t now)
{
	int e;
	char b;

	if (now < __atomic_load_n(&next_check, __ATOMIC_RELAXED) ||
	    !__atomic_load_n(&have, __ATOMIC_ACQUIRE) || owner != ctx_pid() || !making_try())
		return;
	e = errno;
	__atomic_store_n(&next_check, now + LINK_RETRY_NS, __ATOMIC_RELAXED);
	if (sock >= 0 && recv(sock, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
		/* the collector went away (a restart): the next one gets it */
		int s = sock;

		sock = -1; /* first: close() is ours too, and must not see it as the app's */
		close(s);
	}
	if (sock < 0)
		handover();
	making_done();
	errno = e;
}

void link_after_fork(void)
{
	/* the child's events go to a region of its own (made on first need):
	 * the parent's socket and memfd are the parent's */
	int s = sock, m = memfd;

	sock = memfd = -1; /* first: close() is ours too */
	if (s >= 0)
		close(s);
	if (m >= 0)
		close(m);
	__atomic_store_n(&have, 0, __ATOMIC_RELEASE);
	making_done();
}

int link_owns_fd(int fd)
{
	return fd >= 0 && (fd == sock || fd == memfd);
}

/* The app closes one of our fds (a daemon closing every fd): let go of it,
 * after any wake in flight, so that no wake can write to the fd once it is
 * the app's again. */
void link_fd_closed(int fd)
{
	int held = 0;

	for (int i = 0; i < 10000 && !(held = making_try()); i++)
		sched_yield(); /* a wake is one non-blocking send */
	if (fd == sock)
		sock = -1;
	if (fd == memfd)
		memfd = -1;
	if (held)
		making_done();
}

void link_wake(void)
{
	int e;

	if (!making_try())
		return;
	e = errno;
	if (sock >= 0 && owner == ctx_pid())
		(void)send(sock, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	errno = e;
	making_done();
}

const struct route_table *link_routes(struct region *r)
{
	uint32_t seq = __atomic_load_n(&r->hdr->routes_seq, __ATOMIC_ACQUIRE);
	struct route_table *t;

	if (seq == __atomic_load_n(&routes_seq, __ATOMIC_ACQUIRE))
		return __atomic_load_n(&routes, __ATOMIC_ACQUIRE);
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return __atomic_load_n(&routes, __ATOMIC_ACQUIRE);
	{
		uint32_t s = __atomic_load_n(&routes_seq, __ATOMIC_ACQUIRE);
		if (!region_get_routes(r, &s, t)) {
			munmap(t, sizeof(*t));
			return __atomic_load_n(&routes, __ATOMIC_ACQUIRE);
		}
		__atomic_store_n(&routes, t->n ? t : NULL, __ATOMIC_RELEASE);
		__atomic_store_n(&routes_seq, s, __ATOMIC_RELEASE);
	}
	return __atomic_load_n(&routes, __ATOMIC_ACQUIRE);
}

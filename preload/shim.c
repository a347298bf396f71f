/*
 * shim - the libc interposers of libobs_preload.so.
 *
 * Each wrapper calls the real function (found with dlsym(RTLD_NEXT)) and
 * hands what happened to conn.c. Only writes on a followed connection go
 * through conn.c's I/O path (to inject traceparent); every other call is
 * the real call plus, at most, a table lookup. Return values and errno are
 * always the real call's, as the app would have seen them.
 *
 * Nothing happens in setuid/setgid programs (AT_SECURE) or with
 * OBS_PRELOAD_DISABLE=1.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "execenv.h"
#include "link.h"
#include "parent.h"
#include "plainio.h"
#include "shim.h"

#define EXPORT __attribute__((visibility("default")))

int shim_enabled;

#define REAL_DECL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
REAL_DECL(ssize_t, read, int, void *, size_t);
REAL_DECL(ssize_t, __read_chk, int, void *, size_t, size_t);
REAL_DECL(ssize_t, readv, int, const struct iovec *, int);
REAL_DECL(ssize_t, recv, int, void *, size_t, int);
REAL_DECL(ssize_t, __recv_chk, int, void *, size_t, size_t, int);
REAL_DECL(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *);
REAL_DECL(ssize_t, __recvfrom_chk, int, void *, size_t, size_t, int, struct sockaddr *,
	  socklen_t *);
REAL_DECL(ssize_t, recvmsg, int, struct msghdr *, int);
REAL_DECL(ssize_t, write, int, const void *, size_t);
REAL_DECL(ssize_t, send, int, const void *, size_t, int);
REAL_DECL(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *, socklen_t);
REAL_DECL(ssize_t, sendfile, int, int, off_t *, size_t);
REAL_DECL(ssize_t, sendfile64, int, int, off_t *, size_t);
REAL_DECL(int, close, int);
REAL_DECL(int, socket, int, int, int);
REAL_DECL(int, accept, int, struct sockaddr *, socklen_t *);
REAL_DECL(int, accept4, int, struct sockaddr *, socklen_t *, int);
REAL_DECL(int, connect, int, const struct sockaddr *, socklen_t);
REAL_DECL(int, dup2, int, int);
REAL_DECL(int, dup3, int, int, int);
REAL_DECL(int, execve, const char *, char *const[], char *const[]);
REAL_DECL(int, access, const char *, int);
REAL_DECL(int, epoll_wait, int, struct epoll_event *, int, int);
REAL_DECL(int, epoll_pwait, int, struct epoll_event *, int, int, const sigset_t *);
REAL_DECL(int, epoll_pwait2, int, struct epoll_event *, int, const struct timespec *,
	  const sigset_t *);
REAL_DECL(int, poll, struct pollfd *, nfds_t, int);
REAL_DECL(int, __poll_chk, struct pollfd *, nfds_t, int, size_t);
REAL_DECL(int, ppoll, struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
REAL_DECL(int, __ppoll_chk, struct pollfd *, nfds_t, const struct timespec *, const sigset_t *,
	  size_t);
REAL_DECL(int, select, int, fd_set *, fd_set *, fd_set *, struct timeval *);
REAL_DECL(int, pselect, int, fd_set *, fd_set *, fd_set *, const struct timespec *,
	  const sigset_t *);
ssize_t (*shim_real_writev)(int, const struct iovec *, int);
ssize_t (*shim_real_sendmsg)(int, const struct msghdr *, int);

#define RESOLVE(name)                                                                              \
	do {                                                                                       \
		if (!real_##name)                                                                  \
			real_##name = dlsym(RTLD_NEXT, #name);                                     \
	} while (0)
#define REAL(name)                                                                                 \
	({                                                                                         \
		RESOLVE(name);                                                                     \
		real_##name;                                                                       \
	})

void shim_resolve(void)
{
	RESOLVE(read);
	RESOLVE(__read_chk);
	RESOLVE(readv);
	RESOLVE(recv);
	RESOLVE(__recv_chk);
	RESOLVE(recvfrom);
	RESOLVE(__recvfrom_chk);
	RESOLVE(recvmsg);
	RESOLVE(write);
	RESOLVE(send);
	RESOLVE(sendto);
	RESOLVE(sendfile);
	RESOLVE(sendfile64);
	RESOLVE(close);
	RESOLVE(socket);
	RESOLVE(accept);
	RESOLVE(accept4);
	RESOLVE(connect);
	RESOLVE(dup2);
	RESOLVE(dup3);
	RESOLVE(execve);
	RESOLVE(access);
	RESOLVE(epoll_wait);
	RESOLVE(epoll_pwait);
	RESOLVE(poll);
	RESOLVE(ppoll);
	RESOLVE(select);
	RESOLVE(pselect);
	if (!shim_real_writev)
		shim_real_writev = dlsym(RTLD_NEXT, "writev");
	if (!shim_real_sendmsg)
		shim_real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
	plain_resolve();
}

static ssize_t real_writev_fn(int fd, const struct iovec *iov, int n)
{
	if (!shim_real_writev)
		shim_real_writev = dlsym(RTLD_NEXT, "writev");
	return shim_real_writev(fd, iov, n);
}

static ssize_t real_sendmsg_fn(int fd, const struct msghdr *m, int flags)
{
	if (!shim_real_sendmsg)
		shim_real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
	return shim_real_sendmsg(fd, m, flags);
}

static void shim_after_fork(void)
{
	ctx_after_fork();
	parent_after_fork();
	link_after_fork();
}

__attribute__((constructor)) static void shim_init(void)
{
	const char *off = getenv("OBS_PRELOAD_DISABLE");
	int e = errno;

	shim_resolve();
	if (getauxval(AT_SECURE) || (off && *off && strcmp(off, "0"))) {
		errno = e;
		return; /* setuid/setgid, or switched off: pure pass-through */
	}
	conn_init();
	ctx_init();
	parent_init();
	{
		char dir[4096];
		runtime_shim_dir(dir, sizeof(dir));
		link_init(dir);
	}
	runtime_helpers_setup();
	pthread_atfork(NULL, NULL, shim_after_fork);
	shim_enabled = 1;
	errno = e;
}

/* ---- the I/O callbacks conn.c writes through ------------------------------ */

static int traced_write(int fd, const struct iovec *iov, int iovcnt, int flags,
			enum plain_call call, const struct msghdr *tmpl, ssize_t *ret)
{
	struct plain_io p = {.fd = fd, .flags = flags, .call = call, .tmpl = tmpl};

	return shim_enabled && conn_write(fd, iov, iovcnt, plain_io_fn, &p, ret);
}

static void after_read_buf(int fd, void *buf, ssize_t n)
{
	struct iovec v = {buf, n > 0 ? (size_t)n : 0};

	if (shim_enabled && n >= 0)
		conn_after_read(fd, &v, 1, n);
}

/* ---- reads ----------------------------------------------------------------- */

EXPORT ssize_t read(int fd, void *buf, size_t count)
{
	ssize_t n = REAL(read)(fd, buf, count);

	after_read_buf(fd, buf, n);
	return n;
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
	ssize_t n = REAL(__read_chk)(fd, buf, count, buflen);

	after_read_buf(fd, buf, n);
	return n;
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t n = REAL(readv)(fd, iov, iovcnt);

	if (shim_enabled && n >= 0)
		conn_after_read(fd, iov, iovcnt, n);
	return n;
}

/* MSG_PEEK leaves the bytes in the socket: they are seen again later. */
EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n = REAL(recv)(fd, buf, len, flags);

	if (!(flags & MSG_PEEK))
		after_read_buf(fd, buf, n);
	return n;
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	ssize_t n = REAL(__recv_chk)(fd, buf, len, buflen, flags);

	if (!(flags & MSG_PEEK))
		after_read_buf(fd, buf, n);
	return n;
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src,
			socklen_t *alen)
{
	ssize_t n = REAL(recvfrom)(fd, buf, len, flags, src, alen);

	if (!(flags & MSG_PEEK))
		after_read_buf(fd, buf, n);
	return n;
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
			      struct sockaddr *src, socklen_t *alen)
{
	ssize_t n = REAL(__recvfrom_chk)(fd, buf, len, buflen, flags, src, alen);

	if (!(flags & MSG_PEEK))
		after_read_buf(fd, buf, n);
	return n;
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t n = REAL(recvmsg)(fd, msg, flags);

	if (shim_enabled && n >= 0 && !(flags & MSG_PEEK) && msg->msg_iovlen <= INT32_MAX)
		conn_after_read(fd, msg->msg_iov, (int)msg->msg_iovlen, n);
	return n;
}

/* ---- writes ---------------------------------------------------------------- */

EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
	struct iovec v = {(void *)buf, count};
	ssize_t r;

	if (traced_write(fd, &v, 1, 0, PLAIN_WRITE, NULL, &r))
		return r;
	return REAL(write)(fd, buf, count);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t r;

	if (iovcnt >= 0 && traced_write(fd, iov, iovcnt, 0, PLAIN_WRITEV, NULL, &r))
		return r;
	return real_writev_fn(fd, iov, iovcnt);
}

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct iovec v = {(void *)buf, len};
	ssize_t r;

	if (traced_write(fd, &v, 1, flags, PLAIN_SEND, NULL, &r))
		return r;
	return REAL(send)(fd, buf, len, flags);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *dst,
		      socklen_t alen)
{
	struct iovec v = {(void *)buf, len};
	struct msghdr m = {.msg_name = (void *)dst, .msg_namelen = alen};
	ssize_t r;

	if (traced_write(fd, &v, 1, flags, PLAIN_SENDTO, &m, &r))
		return r;
	return REAL(sendto)(fd, buf, len, flags, dst, alen);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t r;

	if (msg && msg->msg_iovlen <= 64 &&
	    traced_write(fd, msg->msg_iov, (int)msg->msg_iovlen, flags, PLAIN_SENDMSG, msg, &r))
		return r;
	return real_sendmsg_fn(fd, msg, flags);
}

/* A response body sent from a file: count it, keep errno. */
static ssize_t after_sendfile(int out_fd, ssize_t n)
{
	if (shim_enabled && n > 0) {
		int e = errno;
		conn_after_sendfile(out_fd, n);
		errno = e;
	}
	return n;
}

EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	return after_sendfile(out_fd, REAL(sendfile)(out_fd, in_fd, offset, count));
}

EXPORT ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count)
{
	return after_sendfile(out_fd, REAL(sendfile64)(out_fd, in_fd, offset, count));
}

/* ---- connection lifetime ---------------------------------------------------- */

/* The app closes (or dup2s over) fd: forget what was followed on it, and
 * let go of it if it was one of ours (a daemon closing every fd). */
static void fd_goes(int fd)
{
	int e = errno;

	conn_on_close(fd);
	if (link_owns_fd(fd))
		link_fd_closed(fd);
	errno = e;
}

EXPORT int close(int fd)
{
	if (shim_enabled)
		fd_goes(fd);
	return REAL(close)(fd);
}

EXPORT int socket(int domain, int type, int protocol)
{
	int fd = REAL(socket)(domain, type, protocol);

	if (shim_enabled && fd >= 0) {
		int e = errno;
		conn_on_socket(fd); /* forget whatever this number was before */
		errno = e;
	}
	return fd;
}

static int after_accept(int fd, struct sockaddr *addr, socklen_t *alen,
			const struct sockaddr_storage *own, socklen_t ownlen)
{
	if (shim_enabled && fd >= 0) {
		int e = errno;
		if (addr && alen)
			conn_on_accept(fd, addr, *alen);
		else
			conn_on_accept(fd, (const struct sockaddr *)own, ownlen);
		errno = e;
	}
	return fd;
}

EXPORT int accept(int s, struct sockaddr *addr, socklen_t *alen)
{
	struct sockaddr_storage own;
	socklen_t ownlen = sizeof(own);
	int fd;

	/* the peer address costs nothing extra: ask for it if the app did not */
	if (!addr || !alen)
		fd = REAL(accept)(s, (struct sockaddr *)&own, &ownlen);
	else
		fd = REAL(accept)(s, addr, alen);
	return after_accept(fd, addr, alen, &own, ownlen);
}

EXPORT int accept4(int s, struct sockaddr *addr, socklen_t *alen, int flags)
{
	struct sockaddr_storage own;
	socklen_t ownlen = sizeof(own);
	int fd;

	if (!addr || !alen)
		fd = REAL(accept4)(s, (struct sockaddr *)&own, &ownlen, flags);
	else
		fd = REAL(accept4)(s, addr, alen, flags);
	return after_accept(fd, addr, alen, &own, ownlen);
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	/* followed before the call: once a non-blocking connect completes, an
	 * event loop on another thread may write before this one returns */
	int early = shim_enabled && conn_on_connect_early(fd, addr, len);
	int r = REAL(connect)(fd, addr, len);

	if (shim_enabled) {
		int e = errno;
		if (r == 0 || e == EINPROGRESS) {
			if (!early)
				conn_on_connect(fd, addr, len); /* a stale entry: start afresh */
		} else if (early && e != EINTR) {
			conn_on_close(fd); /* failed: nothing to follow (EINTR goes on) */
		}
		errno = e;
	}
	return r;
}

EXPORT int dup2(int oldfd, int newfd)
{
	int r = REAL(dup2)(oldfd, newfd);

	if (shim_enabled && r >= 0 && oldfd != newfd)
		fd_goes(newfd); /* dup2 closed whatever newfd was */
	return r;
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	int r = REAL(dup3)(oldfd, newfd, flags);

	if (shim_enabled && r >= 0)
		fd_goes(newfd);
	return r;
}

/* ---- exec: keep the shim in children that were given a fresh environment -- */

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	char *add[EXECENV_KEEP];
	size_t nadd = shim_enabled ? execenv_missing(envp, add) : 0, n = 0;

	while (nadd && envp && envp[n])
		n++;
	if (!nadd || n > 4096)
		return REAL(execve)(path, argv, envp);
	char **env = __builtin_alloca((n + nadd + 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++)
		env[i] = envp[i];
	for (size_t i = 0; i < nadd; i++)
		env[n + i] = add[i];
	env[n + nadd] = NULL;
	return REAL(execve)(path, argv, env);
}

/* ---- event loops: a thread that waits on several fds interleaves requests -- */

static void waits_on(size_t nfds)
{
	if (!shim_enabled)
		return;
	if (nfds > 1)
		parent_loop_wait();
	/* a quiet process still wakes: a restarted collector gets its region
	 * (its counts) then, not at its next request */
	link_check(ctx_now_coarse()); /* a deadline 1 s away: ticks will do */
}

EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	waits_on(2);
	return REAL(epoll_wait)(epfd, ev, max, timeout);
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *ss)
{
	waits_on(2);
	return REAL(epoll_pwait)(epfd, ev, max, timeout, ss);
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *t,
			const sigset_t *ss)
{
	waits_on(2);
	if (!REAL(epoll_pwait2)) {
		errno = ENOSYS;
		return -1;
	}
	return real_epoll_pwait2(epfd, ev, max, t, ss);
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	waits_on(n);
	return REAL(poll)(fds, n, timeout);
}

EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t len)
{
	waits_on(n);
	return REAL(__poll_chk)(fds, n, timeout, len);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *ss)
{
	waits_on(n);
	return REAL(ppoll)(fds, n, t, ss);
}

EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *ss,
		       size_t len)
{
	waits_on(n);
	return REAL(__ppoll_chk)(fds, n, t, ss, len);
}

/* How many fds a select waits on (stopping at two). */
static size_t select_count(int nfds, const fd_set *r, const fd_set *w)
{
	size_t n = 0;

	for (int fd = 0; fd < nfds && fd < FD_SETSIZE && n < 2; fd++)
		n += (r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w));
	return n;
}

EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	waits_on(shim_enabled ? select_count(nfds, r, w) : 0);
	return REAL(select)(nfds, r, w, e, tv);
}

EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
		   const sigset_t *ss)
{
	waits_on(shim_enabled ? select_count(nfds, r, w) : 0);
	return REAL(pselect)(nfds, r, w, e, t, ss);
}

/* ---- runtime helpers: access() on a path that cannot exist ------------------- */

/* access() is declared nonnull, yet an app may pass NULL (EFAULT): the
 * check must not be optimised away. */
static __attribute__((noinline)) int is_ctx_path(const char *p)
{
	return p && !strncmp(p, OBS_CTX_PATH, sizeof(OBS_CTX_PATH) - 1);
}

EXPORT int access(const char *path, int mode)
{
	if (shim_enabled && is_ctx_path(path)) {
		int e = errno;
		host_tell(path + sizeof(OBS_CTX_PATH) - 1);
		errno = e;
		return 0;
	}
	return REAL(access)(path, mode);
}

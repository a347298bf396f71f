/*
 * plainio - how a followed plain connection's bytes leave: conn.c's I/O
 * callback for the shim's write, writev, send, sendto and sendmsg. The
 * bytes (the app's, with any field pconn spliced in) go out through the
 * call the app made: a write stays a write and a send a send, so a seccomp
 * policy that allows write and not writev sees only what it allows, and
 * the kernel does its cheaper one-buffer calls.
 */
#include <dlfcn.h>
#include <string.h>

#include "plainio.h"
#include "shim.h"

/* The real calls: the one-buffer ones here, writev and sendmsg shim.c's
 * (all resolved in shim_resolve, which runs before the shim follows any
 * connection; these again at the first use, should it not have). */
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static write_fn real_write;
static send_fn real_send;
static sendto_fn real_sendto;

void plain_resolve(void)
{
	if (!real_write)
		real_write = (write_fn)dlsym(RTLD_NEXT, "write");
	if (!real_send)
		real_send = (send_fn)dlsym(RTLD_NEXT, "send");
	if (!real_sendto)
		real_sendto = (sendto_fn)dlsym(RTLD_NEXT, "sendto");
}

/* Bytes added to a one-buffer call (a traceparent) are gathered into one
 * buffer up to this size, so that the call stays the app's own. */
#define PLAIN_GATHER 2048

/* One buffer in *one: the call's, or its pieces gathered in buf. 0: more
 * than buf holds (the pieces go out as they are). */
static int plain_one(const struct iovec *iov, int iovcnt, char *buf, struct iovec *one)
{
	size_t n = 0;

	if (iovcnt == 1) {
		*one = iov[0];
		return 1;
	}
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > PLAIN_GATHER - n)
			return 0;
		memcpy(buf + n, iov[i].iov_base, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	*one = (struct iovec){buf, n};
	return 1;
}

/* A followed connection's bytes go out through the syscall the app made:
 * a write stays a write and a send a send (a seccomp policy that allows
 * write and not writev sees what it allows; and the one-buffer calls are
 * the kernel's cheaper ones). */
ssize_t plain_io_fn(void *arg, const struct iovec *iov, int iovcnt)
{
	const struct plain_io *p = arg;
	struct msghdr m = {0};
	struct iovec one;
	char buf[PLAIN_GATHER];

	if (!real_sendto)
		plain_resolve();
	if (p->call != PLAIN_WRITEV && p->call != PLAIN_SENDMSG && iovcnt >= 1 &&
	    plain_one(iov, iovcnt, buf, &one)) {
		if (p->call == PLAIN_WRITE)
			return real_write(p->fd, one.iov_base, one.iov_len);
		if (p->call == PLAIN_SEND)
			return real_send(p->fd, one.iov_base, one.iov_len, p->flags);
		return real_sendto(p->fd, one.iov_base, one.iov_len, p->flags, p->tmpl->msg_name,
				   p->tmpl->msg_namelen);
	}
	if (p->call == PLAIN_WRITE || p->call == PLAIN_WRITEV)
		return shim_real_writev(p->fd, iov, iovcnt);
	if (p->tmpl)
		m = *p->tmpl;
	m.msg_iov = (struct iovec *)iov;
	m.msg_iovlen = (size_t)iovcnt;
	return shim_real_sendmsg(p->fd, &m, p->flags);
}

/*
 * conn - the bytes of a followed connection, handed to the protocol
 * modules (pconn.h) under the connection's lock: what the app read, and
 * the app's writes, which pconn may grow with trace context. The lock is
 * never held across the real write, so a blocked write never blocks the
 * thread reading the same connection (the modules account for a request
 * before it is sent, so its response cannot be read first). The
 * connection states themselves (pool, locks, fd map) are conntab.c's.
 */
#include <errno.h>

#include "conn_priv.h"

struct shim_io {
	struct conn *c;
	conn_io_fn io;
	void *arg;
};

static ssize_t shim_io_fn(void *arg, const struct iovec *iov, int iovcnt)
{
	struct shim_io *s = arg;

	return conn_io_unlocked(s->c, s->io, s->arg, iov, iovcnt);
}

ssize_t conn_write_via(struct conn *c, const struct iovec *iov, int iovcnt, conn_io_fn io,
		       void *arg)
{
	struct shim_io s = {c, io, arg};

	return pconn_write(&c->pc, iov, iovcnt, shim_io_fn, &s);
}

int conn_write(int fd, const struct iovec *iov, int iovcnt, conn_io_fn io, void *arg, ssize_t *ret)
{
	struct conn *c = conn_lookup(fd);
	int e;

	if (!c || c->pc.tls)
		return 0;
	/* queued edits must go out even on a connection no longer followed */
	if (c->pc.dead && !pconn_pending(&c->pc))
		return 0;
	if (iovcnt > PCONN_IOV_APP && !pconn_pending(&c->pc) && !pconn_multiplexed(&c->pc)) {
		c->pc.dead = 1; /* more pieces than we take: pass it whole, unseen */
		return 0;
	}
	if (!conn_lock(c)) {
		c->pc.dead = 1;
		return 0;
	}
	*ret = conn_write_via(c, iov, iovcnt, io, arg);
	e = errno;
	conn_unlock(c);
	errno = e;
	return 1;
}

void conn_read_bytes(struct conn *c, const char *buf, size_t n)
{
	if (n == 0)
		pconn_eof(&c->pc, ctx_now());
	else
		pconn_feed(&c->pc, PROTO_IN, (const uint8_t *)buf, n, ctx_now());
}

void conn_after_read(int fd, const struct iovec *iov, int iovcnt, ssize_t n)
{
	struct conn *c = conn_lookup(fd);
	int saved = errno;

	if (!c || c->pc.tls || c->pc.dead || n < 0)
		return;
	if (!conn_lock(c)) {
		c->pc.dead = 1;
		return;
	}
	if (n == 0)
		pconn_eof(&c->pc, ctx_now());
	else
		pconn_feed_iov(&c->pc, PROTO_IN, iov, iovcnt, (size_t)n, ctx_now());
	conn_unlock(c);
	errno = saved;
}

void conn_after_sendfile(int fd, ssize_t n)
{
	struct conn *c = conn_lookup(fd);

	if (!c || c->pc.tls || c->pc.dead || n <= 0)
		return;
	if (!conn_lock(c)) {
		c->pc.dead = 1;
		return;
	}
	pconn_skip(&c->pc, PROTO_OUT, (uint64_t)n, ctx_now());
	conn_unlock(c);
}

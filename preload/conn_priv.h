/*
 * conn_priv.h - a followed connection as the shim keeps it, shared by the
 * connection table (conntab.c: pool, locks, fd map, lifecycle) and the
 * I/O glue (conn.c). The protocol state itself is pconn's (proto_conn).
 */
#ifndef OBS_CONN_PRIV_H
#define OBS_CONN_PRIV_H

#include "parent.h"
#include "pconn.h"
#include "shim.h"

#define CONN_FD_MAX  65536
#define CONN_POOL    4096
#define TLS_WBUF_MAX (64 << 10) /* a grown SSL_write, linearised */
#define CONN_H2HINTS 128	/* as many as HTTP/2 streams followed at once */

/* A runtime helper's word on which incoming request an outgoing one
 * belongs to (host_tell). */
struct conn_hint {
	uint8_t kind; /* HINT_NONE, HINT_KEY: the incoming request (fd, port, stream) */
	int32_t fd;
	uint16_t port;
	uint32_t stream;
	uint32_t out_stream; /* HTTP/2: the client stream it is for */
};
enum { HINT_NONE, HINT_KEY };

struct conn {
	uintptr_t lock;	 /* the holder thread's tag, 0 when free */
	uint8_t io_busy; /* writes in the kernel with the lock released */
	uint8_t detached;
	int fd;
	uint32_t next_free;
	char *wbuf;	   /* TLS: linear buffer handed to SSL_write (stable address for retries) */
	uint32_t requests; /* outgoing requests begun on it */
	/* the request the connection was opened for (its first request's
	 * parent, if no other server request began before it: parent_begun) */
	uint8_t origin_valid;
	uint64_t origin_begun;
	struct parent_ref origin;
	struct conn_hint hint;		       /* for every request from now on */
	struct conn_hint h2hint[CONN_H2HINTS]; /* for one HTTP/2 client stream each */
	uint8_t h2next;
	struct proto_conn pc;
};

/* The connection followed on fd, or NULL. */
struct conn *conn_lookup(int fd) SHIM_HIDDEN;
/* With c locked: do io with the lock released (other threads may read and
 * parse meanwhile), then take it again. */
ssize_t conn_io_unlocked(struct conn *c, conn_io_fn io, void *arg, const struct iovec *iov,
			 int iovcnt) SHIM_HIDDEN;

#endif

/*
 * conn_priv.h - the connection state shared by the shim's connection
 * table (conntab.c: pool, locks, fd map, lifecycle) and its HTTP/1
 * tracking (conn.c). Nothing else sees inside struct conn.
 */
#ifndef OBS_CONN_PRIV_H
#define OBS_CONN_PRIV_H

#include "h2.h"
#include "inject.h"
#include "shim.h"

#define CONN_FD_MAX   65536
#define CONN_POOL     4096
#define CONN_PIPELINE 8
#define INJ_MAX	      (TP_LEN + TP_TRACESTATE_MAX + 40)
#define HEAD_SCAN_MAX (16 << 10) /* inject only if the head is within this */
#define TLS_WBUF_MAX  (64 << 10) /* a grown SSL_write, linearised */
#define IOV_SHIM_MAX  64

struct conn {
	uintptr_t lock;	 /* the holder thread's tag, 0 when free */
	uint8_t io_busy; /* HTTP/2 writes in the kernel with the lock released */
	uint8_t kind;
	uint8_t dead;
	uint8_t tls;
	uint8_t detached;
	int fd;
	uint32_t next_free;
	uint16_t peer_port;
	char peer[SPAN_ADDR_MAX];
	struct http1_parser in, out;
	uint64_t in_start, out_start; /* when the current message's first byte moved */
	/* requests waiting for their response, oldest first */
	struct exchange q[CONN_PIPELINE];
	unsigned qhead, qlen;
	/* client: the context prepared for the request being written */
	int next_valid;
	struct exchange next;
	/* injection: armed = inj[] goes in at app offset inj_pos */
	int inj_armed;
	size_t inj_pos, inj_len;
	size_t pend_off, pend_len; /* pending = inj[pend_off .. pend_off + pend_len) */
	size_t inject_max;	   /* largest write we will grow (TLS: a record buffer) */
	char inj[INJ_MAX];
	char *wbuf;	   /* TLS: linear buffer handed to SSL_write (stable address for retries) */
	struct h2conn *h2; /* the connection speaks HTTP/2 */
};

/* The connection followed on fd, or NULL. */
struct conn *conn_lookup(int fd) SHIM_HIDDEN;

#endif

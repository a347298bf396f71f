/*
 * shim - internal interfaces of libobs_preload.so.
 *
 *   shim.c    the libc interposers, real-symbol lookup, process setup
 *   plainio.c a followed plain connection's writes, through the app's call
 *   conntab.c the connection table: pool, locks, fd map, lifecycle
 *   conn.c    a followed connection's bytes, handed to the protocol
 *             modules (userspace/proto: pconn.h) with the shim's locking
 *   tls.c     the OpenSSL interposers (SSL_read/SSL_write and _ex forms)
 *   ctx.c     ids, clock, sampling, span contexts, the ring
 *   parent.c  whose child an outgoing request is, or that it cannot be known
 *   host.c    the protocol modules' host: contexts, records, helper hints
 *
 * Everything here fails open: when state is missing, full or odd, the
 * app's call goes to libc (or OpenSSL) unchanged.
 */
#ifndef OBS_SHIM_H
#define OBS_SHIM_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "proto.h"
#include "spanring.h"
#include "tp.h"

#define SHIM_TLS_MODEL __attribute__((tls_model("initial-exec")))
#define SHIM_HIDDEN    __attribute__((visibility("hidden")))

/* ---- shim.c ---------------------------------------------------------- */
extern SHIM_HIDDEN int shim_enabled;
extern SHIM_HIDDEN ssize_t (*shim_real_writev)(int, const struct iovec *, int);
extern SHIM_HIDDEN ssize_t (*shim_real_sendmsg)(int, const struct msghdr *, int);
void shim_resolve(void) SHIM_HIDDEN;

/* ---- ctx.c ----------------------------------------------------------- */
void ctx_init(void) SHIM_HIDDEN;
void ctx_after_fork(void) SHIM_HIDDEN;
/* Bumped in every forked child. */
unsigned ctx_fork_gen(void) SHIM_HIDDEN;
uint64_t ctx_now(void) SHIM_HIDDEN;
/* The same clock at tick resolution (a few ms), a quarter of the cost:
 * for deadlines, never for span times. */
uint64_t ctx_now_coarse(void) SHIM_HIDDEN;
uint32_t ctx_pid(void) SHIM_HIDDEN;   /* cached; refreshed after fork */
uint64_t ctx_pidns(void) SHIM_HIDDEN; /* the pid namespace's inode, cached with the pid */
void ctx_random(uint8_t *out, size_t n) SHIM_HIDDEN;
/* Sampling decision for a new root trace. */
int ctx_sample_root(const uint8_t trace_id[16]) SHIM_HIDDEN;
/* 0 for always_on/always_off/traceidratio: children decide by trace id too. */
int ctx_parent_based(void) SHIM_HIDDEN;
void ctx_count(enum proto_count what) SHIM_HIDDEN;
/* Contexts: a server request's from the fields it carried (count: how
 * many traceparent fields; an invalid one restarts the trace); a child
 * of parent (with its tracestate); a new root; a child of the app's own
 * traceparent (-1: not valid, or the one obs injected). */
void ctx_server_context(struct exchange *x, const char *tp, size_t tp_len, int count,
			const char *ts, size_t ts_len, int ts_bad) SHIM_HIDDEN;
void ctx_child_of_ref(struct exchange *x, const struct tp_ctx *parent, const char *ts,
		      uint16_t ts_len) SHIM_HIDDEN;
void ctx_new_root(struct exchange *x) SHIM_HIDDEN;
int ctx_adopt(struct exchange *x, const char *tp, size_t tp_len) SHIM_HIDDEN;
/* A finished record to the ring (with this process's pid). */
void ctx_emit(struct span_rec *r) SHIM_HIDDEN;

/* ---- runtime.c -------------------------------------------------------- */
/* node and python processes: load obs's context helpers (constructor). */
void runtime_helpers_setup(void) SHIM_HIDDEN;
/* The folder the shim was loaded from (with a trailing '/'), or "". */
void runtime_shim_dir(char *out, size_t len) SHIM_HIDDEN;

/* ---- host.c ----------------------------------------------------------- */
/* What the protocol modules ask of the shim (proto.h): whose child a
 * request is (parent.c's rules and the helpers' word), the ring, the clock. */
extern SHIM_HIDDEN const struct proto_host shim_host;
/* Runtime helpers call access(2) on this prefix and a message: a path
 * that cannot exist, answered by the shim without a syscall. */
#define OBS_CTX_PATH                                                                               \
	"/\x7f"                                                                                    \
	"obs-ctx/"
/* A runtime helper's message (the access() channel, host.c); 0 if taken. */
int host_tell(const char *msg) SHIM_HIDDEN;

/* ---- conntab.c, conn.c ------------------------------------------------ */
enum conn_kind { CONN_NONE, CONN_SERVER = PROTO_SERVER, CONN_CLIENT = PROTO_CLIENT };

struct conn;

/* The real I/O a write goes to: plain writev/sendmsg, or SSL_write. */
typedef ssize_t (*conn_io_fn)(void *arg, const struct iovec *iov, int iovcnt);

void conn_init(void) SHIM_HIDDEN;
void conn_on_socket(int fd) SHIM_HIDDEN;
void conn_on_accept(int fd, const struct sockaddr *peer, socklen_t len) SHIM_HIDDEN;
void conn_on_connect(int fd, const struct sockaddr *peer, socklen_t len) SHIM_HIDDEN;
/* Before connect(2): follow fd from now if nothing follows it yet (1), so
 * that bytes another thread writes the moment a non-blocking connect
 * completes are seen from the first. */
int conn_on_connect_early(int fd, const struct sockaddr *peer, socklen_t len) SHIM_HIDDEN;
void conn_on_close(int fd) SHIM_HIDDEN;
/* After the app read n bytes into iov (n == 0: EOF). Preserves errno. */
void conn_after_read(int fd, const struct iovec *iov, int iovcnt, ssize_t n) SHIM_HIDDEN;
/*
 * A write of iov to fd. Returns 1 and the result in *ret (errno set as
 * the app must see it) if the shim did the I/O through io, or 0: the
 * caller does the write itself, untouched.
 */
int conn_write(int fd, const struct iovec *iov, int iovcnt, conn_io_fn io, void *arg,
	       ssize_t *ret) SHIM_HIDDEN;
/* sendfile/splice on fd moved n body bytes the shim did not see. */
void conn_after_sendfile(int fd, ssize_t n) SHIM_HIDDEN;

/* For TLS (tls.c): connections keyed by SSL*, not by fd. */
struct conn *conn_new_detached(enum conn_kind kind, int fd) SHIM_HIDDEN;
void conn_free_detached(struct conn *c) SHIM_HIDDEN;
/* The kind of fd's connection if the shim follows it (and marks it TLS:
 * its raw bytes are ciphertext from now on), else CONN_NONE. */
enum conn_kind conn_claim_for_tls(int fd) SHIM_HIDDEN;
/* With c locked: the app read n plaintext bytes (0: the peer closed). */
void conn_read_bytes(struct conn *c, const char *buf, size_t n) SHIM_HIDDEN;
/* With c locked: the app writes iov through io (OpenSSL). */
ssize_t conn_write_via(struct conn *c, const struct iovec *iov, int iovcnt, conn_io_fn io,
		       void *arg) SHIM_HIDDEN;
int conn_lock(struct conn *c) SHIM_HIDDEN;
void conn_unlock(struct conn *c) SHIM_HIDDEN;
/* TLS: a per-connection linear write buffer (stable across SSL_write retries). */
char *conn_tls_wbuf(struct conn *c, size_t need) SHIM_HIDDEN;

#endif

/*
 * shim - internal interfaces of libobs_preload.so.
 *
 *   shim.c   the libc interposers, real-symbol lookup, process setup
 *   conn.c   per-connection tracking, HTTP/1, context propagation, spans
 *   h2conn.c HTTP/2 and gRPC on a followed connection (HPACK, streams,
 *            traceparent injection into HEADERS frames)
 *   tls.c    the OpenSSL interposers (SSL_read/SSL_write and _ex forms)
 *   ctx.c    ids, clock, sampling, span contexts and the thread's active
 *            server span, the ring
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

#include "http1.h"
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
struct shim_active {
	int active;
	struct tp_ctx ctx; /* the server span's own context */
	uint16_t tracestate_len;
	char tracestate[TP_TRACESTATE_MAX + 1];
};
extern SHIM_HIDDEN __thread struct shim_active shim_cur SHIM_TLS_MODEL;

void ctx_init(void) SHIM_HIDDEN;
void ctx_after_fork(void) SHIM_HIDDEN;
/* Bumped in every forked child. */
unsigned ctx_fork_gen(void) SHIM_HIDDEN;
uint64_t ctx_now(void) SHIM_HIDDEN;
uint32_t ctx_pid(void) SHIM_HIDDEN;   /* cached; refreshed after fork */
uint64_t ctx_pidns(void) SHIM_HIDDEN; /* the pid namespace's inode, cached with the pid */
void ctx_random(uint8_t *out, size_t n) SHIM_HIDDEN;
/* Sampling decision for a new root trace. */
int ctx_sample_root(const uint8_t trace_id[16]) SHIM_HIDDEN;
/* 0 for always_on/always_off/traceidratio: children decide by trace id too. */
int ctx_parent_based(void) SHIM_HIDDEN;
/* Push a finished span; silently dropped without a collector or when full. */
void ctx_emit(const struct span_rec *r) SHIM_HIDDEN;
int ctx_have_ring(void) SHIM_HIDDEN;
void ctx_count(int what) SHIM_HIDDEN;
enum { CTX_UNTRACKED, CTX_PARSE_ERROR, CTX_INJECTED, CTX_INJECT_SKIPPED };

/* Exchanges (struct exchange, below): whose child a span is. */
struct exchange;
/* Empty x: ids, flags, counters and strings. */
void ctx_exchange_clear(struct exchange *x) SHIM_HIDDEN;
/* A client exchange's context: child of the thread's server span, or a new root. */
void ctx_prepare_client(struct exchange *x) SHIM_HIDDEN;
/* Server: parent x on a received traceparent (count: how many fields), or start a trace. */
void ctx_server_context(struct exchange *x, const char *tp, size_t tp_len, int count,
			const char *ts, size_t ts_len, int ts_bad) SHIM_HIDDEN;
/* Client: the app sent its own traceparent: x becomes a child of it. */
int ctx_adopt_app_context(struct exchange *x, const char *tp, size_t tp_len) SHIM_HIDDEN;
/* x's context is what outgoing calls on this thread become children of. */
void ctx_set_active(const struct exchange *x) SHIM_HIDDEN;
void ctx_clear_active(const struct exchange *x) SHIM_HIDDEN;

/* ---- conn.c ---------------------------------------------------------- */
enum conn_kind { CONN_NONE, CONN_SERVER, CONN_CLIENT };

struct conn;

/* One request/response exchange (an HTTP/1 exchange, an HTTP/2 stream). */
struct exchange {
	struct tp_ctx ctx; /* this span's own context */
	uint8_t parent[8];
	uint16_t flags;
	uint16_t status;
	uint8_t head; /* HEAD request: response has no body */
	uint8_t interim;
	uint8_t proto; /* enum span_proto */
	uint16_t rpc_status;
	uint32_t req_msgs, resp_msgs, h2_error;
	uint64_t start_ns;
	uint64_t req_bytes, resp_bytes;
	char method[SPAN_METHOD_MAX];
	char path[SPAN_PATH_MAX];
	char host[SPAN_HOST_MAX];
	uint16_t tracestate_len;
	char tracestate[TP_TRACESTATE_MAX + 1];
};

/* Span helpers shared with h2conn.c. */
enum conn_kind conn_kind(const struct conn *c) SHIM_HIDDEN;
/* Stop following c (its bytes pass untouched from now on), or ask if it is. */
void conn_kill(struct conn *c) SHIM_HIDDEN;
int conn_dead(const struct conn *c) SHIM_HIDDEN;
void conn_emit(const struct conn *c, const struct exchange *x, uint16_t error) SHIM_HIDDEN;

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
/* 1 if fd's connection is known to the shim (and marks it TLS: raw bytes are ciphertext). */
enum conn_kind conn_claim_for_tls(int fd) SHIM_HIDDEN;
void conn_read_bytes(struct conn *c, const char *buf, size_t n) SHIM_HIDDEN;
ssize_t conn_write_via(struct conn *c, const struct iovec *iov, int iovcnt, conn_io_fn io,
		       void *arg) SHIM_HIDDEN;
/* TLS write preparation: the injection (if any) for a write of m bytes. */
int conn_lock(struct conn *c) SHIM_HIDDEN;
void conn_unlock(struct conn *c) SHIM_HIDDEN;
/* With c locked: do io with the lock released (other threads may read and
 * parse meanwhile), then take it again. */
ssize_t conn_io_unlocked(struct conn *c, conn_io_fn io, void *arg, const struct iovec *iov,
			 int iovcnt) SHIM_HIDDEN;
void conn_eof(struct conn *c) SHIM_HIDDEN;
/* TLS: a per-connection linear write buffer (stable across SSL_write retries). */
char *conn_tls_wbuf(struct conn *c, size_t need) SHIM_HIDDEN;
/* The largest a write may become once grown by injection ((size_t)-1: no
 * bound; TLS: the linear record buffer). */
size_t conn_write_cap(const struct conn *c) SHIM_HIDDEN;

/* ---- h2conn.c -------------------------------------------------------- */
struct h2conn;

/* HTTP/2 state for a connection that sent or received the client preface;
 * NULL if none can be had (the connection is then not followed). */
struct h2conn *h2c_new(enum conn_kind kind) SHIM_HIDDEN;
void h2c_free(struct h2conn *h) SHIM_HIDDEN;
/* The app's bytes on c: out = written, else read. -1: stop following c. */
int h2c_feed(struct conn *c, struct h2conn *h, int out, const uint8_t *buf, size_t n) SHIM_HIDDEN;
/* 1 while edits are queued: every later write must go through h2c_write. */
int h2c_pending(const struct h2conn *h) SHIM_HIDDEN;
/* The connection ended: open streams end with an error. */
void h2c_eof(struct conn *c, struct h2conn *h) SHIM_HIDDEN;
/* A write on an HTTP/2 connection (client: with injection); does its own
 * parsing. With c locked; returns what the app is told, errno set. */
ssize_t h2c_write(struct conn *c, struct h2conn *h, const struct iovec *iov, int iovcnt,
		  conn_io_fn io, void *arg) SHIM_HIDDEN;

#endif

/*
 * parent.h - whose child an outgoing request is (parent.c): the thread
 * and process rules, server requests in flight, the helpers' registry.
 */
#ifndef OBS_PARENT_H
#define OBS_PARENT_H
#include <stdint.h>

#include "shim.h"

/* A context an outgoing request may become the child of. */
struct parent_ref {
	struct tp_ctx ctx;
	uint16_t tracestate_len;
	char tracestate[TP_TRACESTATE_MAX + 1];
};

enum parent_how {
	PARENT_ROOT,	/* no server request in flight: a new trace */
	PARENT_FOUND,	/* *out is its parent */
	PARENT_UNKNOWN, /* cannot be known: a new trace, marked */
};

/* exchange.host[0]: these bits, and the stream in the high 32 bits;
 * host[1]: the reader thread's slot << 32 | its generation */
enum { PARENT_COUNTED = 1, PARENT_ON_SLOT = 2, PARENT_REGISTERED = 4 };

void parent_init(void) SHIM_HIDDEN;
void parent_after_fork(void) SHIM_HIDDEN;
/* The calling thread waits on several fds: it is an event loop. */
void parent_loop_wait(void) SHIM_HIDDEN;
/* A server request (its context set) began on this thread / ended. fd,
 * port: its connection (fd -1: not an fd, TLS kept by SSL*); stream: its
 * HTTP/2 stream, 0 for HTTP/1. */
void parent_server_begin(struct exchange *x, int fd, uint16_t port, uint32_t stream) SHIM_HIDDEN;
void parent_server_end(const struct exchange *x, int fd, uint16_t port) SHIM_HIDDEN;
/* Server requests begun in the process so far (a connection's origin
 * holds only while no other began: conntab.c). */
uint64_t parent_begun(void) SHIM_HIDDEN;
/* The thread and process rules for an outgoing request made now. */
enum parent_how parent_for_thread(struct parent_ref *out) SHIM_HIDDEN;
/* A helper names the incoming request (stream 0: the one HTTP/1 request
 * in flight on that connection). */
enum parent_how parent_for_key(int fd, uint16_t port, uint32_t stream,
			       struct parent_ref *out) SHIM_HIDDEN;
/* A runtime helper runs in this process: keep the registry it names into. */
void parent_helpers_on(void) SHIM_HIDDEN;

#endif

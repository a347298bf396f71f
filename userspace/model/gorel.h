/* gorel - whose call a Go program's HTTP/1 client connection is writing.
 * net/http's transport writes a request from its connection's own writer
 * goroutine, not from the goroutine that made the call. Two events tie
 * them: a writer goroutine starts (persistConn.writeLoop, once per
 * connection) and a call starts (persistConn.roundTrip, on the caller's
 * goroutine); both name the connection by its *persistConn. A persistConn
 * carries one request at a time, so what its writer writes next is the
 * last call made on it. Pure and bounded: what falls out of the table is
 * not known, never guessed. */
#ifndef OBS_GOREL_H
#define OBS_GOREL_H
#include <stdint.h>

#include "tp.h"

#define GOREL_CONNS   512
#define GOREL_STREAMS 512

/* The context the kernel made for a call and sent out with its request
 * (--go-inject: inject.bpf.h); has: made. */
struct gorel_ctx {
	uint8_t trace_id[16];
	uint8_t span_id[8];   /* the call's (client) span */
	uint8_t parent_id[8]; /* the request it was made for */
	uint8_t flags;
	uint8_t has;
};

struct gorel {
	struct gorel_conn {
		uint64_t pc;	      /* the *persistConn (0: free) */
		uint64_t writer;      /* its writer goroutine (0: not seen start) */
		uint64_t caller;      /* the goroutine of the call not yet written (0: none) */
		uint64_t used;	      /* when last touched: the least recent goes first */
		struct gorel_ctx ctx; /* that call's, if the kernel made one */
	} c[GOREL_CONNS];
	/* grpc-go: a transport (client or server) and its reader goroutine */
	struct gorel_conn readers[GOREL_CONNS];
	/* grpc-go client streams not yet ended: transport, id, and the
	 * request their caller was serving when it sent (known: has) */
	struct gorel_stream {
		uint64_t t;
		uint32_t id;
		int has;
		struct tp_ctx parent;
	} s[GOREL_STREAMS];
	unsigned next_stream; /* where the next one goes: the oldest is overwritten */
	uint64_t clock;
};

/* Empty; also after an event was lost (a call not said must not leave
 * the one before it to be taken). */
void gorel_init(struct gorel *r);
/* Connection pc's writer goroutine started (a new connection at pc). */
void gorel_writer(struct gorel *r, uint64_t pc, uint64_t goid);
/* A call started on connection pc, on goroutine goid; ctx (may be NULL):
 * the context the kernel made for it. */
void gorel_call(struct gorel *r, uint64_t pc, uint64_t goid);
void gorel_call_ctx(struct gorel *r, uint64_t pc, uint64_t goid, const struct gorel_ctx *ctx);
/* The goroutine whose call writer is beginning to write, taken: each call
 * is given once. 0: not known. ctx (may be NULL) gets its context (has 0:
 * none made). */
uint64_t gorel_take(struct gorel *r, uint64_t writer);
uint64_t gorel_take_ctx(struct gorel *r, uint64_t writer, struct gorel_ctx *ctx);

/* grpc-go multiplexes calls on a connection whose frames its own goroutines
 * read and write (the transport's reader, and loopyWriter): a call is
 * named by its transport and stream id instead. A transport's reader
 * goroutine started (a new transport at t): */
void gorel_reader(struct gorel *r, uint64_t t, uint64_t goid);
/* The reader goroutine of transport t; 0 if not known. */
uint64_t gorel_reader_of(struct gorel *r, uint64_t t);
/* Whether goid is a known transport's reader goroutine. */
int gorel_is_reader(const struct gorel *r, uint64_t goid);
/* A client call on transport t is sending on stream id; its caller was
 * then serving the request parent (NULL: none). Kept from the send, not
 * looked up when the call ends: a goroutine may serve another request by
 * then (grpc-go's stream workers). */
void gorel_stream(struct gorel *r, uint64_t t, uint32_t id, const struct tp_ctx *parent);
/* The request the call on stream id of the transport whose reader is
 * reader was made for, taken: 1 and *parent, or 0 if not known. */
int gorel_stream_take(struct gorel *r, uint64_t reader, uint32_t id, struct tp_ctx *parent);

#endif

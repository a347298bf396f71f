/*
 * proto - the protocol interface. A protocol module is one handler table
 * (like curl's Curl_handler): it recognises a connection from its first
 * bytes, is fed the bytes each direction carried with their timestamps,
 * may add edits (trace context) to outgoing writes, and is told when the
 * connection ends. Its output is span records (spanrec.h). In the
 * collector the same module describes its records: span name, status,
 * semantic-convention attributes and the metric point each one is (its
 * metric families are declared beside it).
 *
 * A module knows nothing of where the bytes come from: the shim's libc
 * and OpenSSL interposers today, kernel-side capture tomorrow. What the
 * source decides (whose child a request is, where records go) is a
 * struct proto_host it hands in. Connection code (pconn.h) dispatches
 * through this table and names no protocol. Pure: no I/O, no globals.
 *
 * Adding a protocol: docs/design.md, "Adding a protocol".
 */
#ifndef OBS_PROTO_H
#define OBS_PROTO_H
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "splice.h"
#include "spanrec.h"
#include "tp.h"

enum proto_side { PROTO_SERVER = 1, PROTO_CLIENT = 2 }; /* who accepted / connected */
enum proto_dir { PROTO_IN, PROTO_OUT };			/* read / written by the app */

/* Events a module counts through its host. */
enum proto_count {
	PROTO_COUNT_UNTRACKED,	    /* a connection or stream not followed: no room */
	PROTO_COUNT_PARSE_ERROR,    /* stopped following: malformed or unsupported */
	PROTO_COUNT_INJECTED,	    /* trace context added to an outgoing request */
	PROTO_COUNT_INJECT_SKIPPED, /* an outgoing request sent without it */
};

/* One request/response in flight: its trace context. A module embeds it
 * in its own per-exchange state. */
struct exchange {
	struct tp_ctx ctx; /* this span's own context */
	uint8_t parent[8];
	uint16_t flags; /* enum span_flag */
	uint64_t start_ns;
	uint64_t host[2]; /* the host's own, per exchange (zeroed by exchange_clear) */
	uint16_t tracestate_len;
	char tracestate[TP_TRACESTATE_MAX + 1];
};

/* Empty x: no context, no parent, no tracestate. */
void exchange_clear(struct exchange *x);

/* The trace context fields a received request carried (raw). */
struct proto_tp_in {
	const char *tp; /* traceparent */
	size_t tp_len;
	int tp_count;	/* how many traceparent fields */
	const char *ts; /* tracestate, fields combined */
	size_t ts_len;
	int ts_bad; /* too long to keep */
};

struct proto_conn;

/* What the source of the bytes decides. */
struct proto_host {
	/* A server request began: x's context from the fields it carried.
	 * stream: its stream on a multiplexed connection (HTTP/2), else 0. */
	void (*server_begin)(struct proto_conn *pc, struct exchange *x,
			     const struct proto_tp_in *in, uint32_t stream);
	/* A client request begins (stream as above): x's context (a child of
	 * the request the app is serving, or a new trace), to be injected. */
	void (*client_begin)(struct proto_conn *pc, struct exchange *x, uint32_t stream);
	/* The app sent its own traceparent: x becomes its child (-1: not a
	 * valid one, or the one obs injected). */
	int (*client_adopt)(struct proto_conn *pc, struct exchange *x, const char *tp, size_t len);
	/* An exchange ended: r is complete but for the writer's process. */
	void (*emit)(struct proto_conn *pc, const struct exchange *x, struct span_rec *r);
	/* An exchange ended whose record would be made of the same as the
	 * last one this connection emitted, in the module's word
	 * (pc->red_tag not changed since), ended with error at ts: where
	 * no span is to be exported from it, counted as emit would count
	 * it, with no record. 0: done; -1: build the record and emit it.
	 * NULL: always emit. */
	int (*emit_again)(struct proto_conn *pc, const struct exchange *x, uint16_t error,
			  uint64_t ts);
	void (*count)(struct proto_conn *pc, enum proto_count what);
	/* CLOCK_MONOTONIC, ns: when a write the source made returned. */
	uint64_t (*now)(void);
	/* Memory for a module's state too large to keep inline (its
	 * contents are the module's to set up); NULL: none to be had. */
	void *(*alloc)(size_t size);
	void (*free)(void *p, size_t size);
};

/* ---- what a module declares for the collector --------------------------- */

#define PROTO_LABELS_MAX  6
#define PROTO_BUCKETS_MAX 16
#define PROTO_LABEL_BYTES 512

/* A histogram family. The collector adds the labels every family has
 * (service; container_id and pod_uid on a node). */
struct proto_family {
	uint16_t id;	  /* unique among all protocols' families (registry.h) */
	const char *name; /* Prometheus name, unit suffix included */
	const char *help;
	const char *unit;
	const char *const *labels;
	size_t nlabels;
	const double *bounds;
	size_t nbounds;
};

/* One metric point: a record's value in one family, with label values. */
struct proto_obs {
	const struct proto_family *family; /* NULL: the record is no point */
	double value;
	size_t nlabels;
	const char *labels[PROTO_LABELS_MAX]; /* point into buf */
	size_t used;			      /* bytes of buf taken */
	char buf[PROTO_LABEL_BYTES];
};

/* OpenTelemetry's recommended boundaries for request and call durations
 * (http.*.request.duration, rpc.*.call.duration), in seconds. */
#define PROTO_OTEL_DURATION_NBOUNDS 14
extern const double proto_otel_duration_bounds[PROTO_OTEL_DURATION_NBOUNDS];

/* Start a point of family f with value v; add its label values in order
 * (copied: they may be the caller's buffers). */
void proto_obs_init(struct proto_obs *o, const struct proto_family *f, double v);
void proto_obs_label(struct proto_obs *o, const char *v);
/* A record's duration in seconds. */
double proto_seconds(const struct span_rec *r);

/* What a description may depend on besides the record. */
struct route_table;
struct proto_env {
	const struct route_table *routes; /* http.route patterns; NULL: none */
};

struct xspan;

/* ---- the handler table -------------------------------------------------- */

enum proto_flags {
	/* Many requests at once on one connection, read and written from
	 * different threads: its state must not lose a byte, so the source
	 * waits for the connection's lock, and never holds it across I/O. */
	PROTO_F_MULTIPLEXED = 1 << 0,
};

struct proto_handler {
	const char *name;
	uint8_t id; /* its records' span_rec.proto (enum proto_id, registry.h) */
	unsigned flags;
	size_t state_size; /* its per-connection state (pconn allocates it) */

	/* ---- wire side: the shim, or kernel-side capture ---- */
	/* Do the first bytes a connection carried in dir speak this? */
	int (*detect)(enum proto_side side, enum proto_dir dir, const uint8_t *b, size_t n);
	/* Set up the state (pc->st: zeroed only when new; kept inline, it
	 * holds the connection's before, so open sets all it reads); -1:
	 * cannot follow. */
	int (*open)(struct proto_conn *pc);
	/* Bytes the app read (IN) or that left in a write (OUT), at ts.
	 * -1: stop following the connection (never for the app's sake:
	 * its bytes pass unchanged whatever a module says). */
	int (*feed)(struct proto_conn *pc, enum proto_dir dir, const uint8_t *b, size_t n,
		    uint64_t ts);
	/* n bytes moved that nobody saw (sendfile). NULL: stop following. */
	int (*skip)(struct proto_conn *pc, enum proto_dir dir, uint64_t n, uint64_t ts);
	/* A write of m bytes is about to be made: add edits (pconn_edit) and
	 * return how many of the m bytes to send now (a short write is
	 * always legal on a stream socket). NULL: the module never injects. */
	size_t (*inject)(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t m,
			 size_t budget);
	/* n of the app's bytes of that write left (fed here or in inject). */
	void (*sent)(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t n,
		     uint64_t ts);
	/* The connection ended (EOF, reset, close): end what is open. */
	void (*eof)(struct proto_conn *pc, uint64_t ts);

	/* ---- what a record means ---- */
	/* The metric point a finished exchange is (its family and label
	 * values): counted where the request happened (the shim's region). */
	void (*observe)(const struct span_rec *r, const struct proto_env *env,
			struct proto_obs *obs);
	/* Collector: a checked record this protocol wrote as a span: name,
	 * status, attributes into x (xspan_from_rec already done). */
	void (*describe)(const struct span_rec *r, const struct proto_env *env, struct xspan *x);
	/* Its metric families, NULL-terminated (shared families appear in
	 * several handlers; the collector keeps one of each). */
	const struct proto_family *const *families;
};

#endif

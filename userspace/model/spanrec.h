/*
 * spanrec - the span record: what a protocol module hands on for each
 * finished exchange, from the shim (through the span ring) or from
 * kernel-side capture, to the collector.
 *
 * Generic: identity, timing and trace context, the connection's peer, and
 * a bounded list of typed attributes whose keys belong to the protocol
 * that wrote the record (`proto`); the collector asks that protocol what
 * they mean (proto.h, describe). Fixed size and pointer-free: records
 * cross process boundaries, and every reader treats one as untrusted
 * (spanrec_check). Pure.
 */
#ifndef OBS_SPANREC_H
#define OBS_SPANREC_H
#include <stddef.h>
#include <stdint.h>

#include "tp.h"

#define SPANREC_ATTR_MAX 12
#define SPANREC_STR_MAX	 512 /* string values, each NUL-terminated */
#define SPAN_ADDR_MAX	 48

enum span_kind { SPAN_SERVER = 2, SPAN_CLIENT = 3 }; /* OTLP SpanKind values */

enum span_flag {
	SPAN_F_REMOTE_PARENT = 1 << 0, /* parent came from a received traceparent */
	SPAN_F_HAS_PARENT = 1 << 1,
	SPAN_F_TLS = 1 << 2,
	SPAN_F_APP_CONTEXT = 1 << 3,	 /* client: the app set traceparent itself */
	SPAN_F_BAD_TRACEPARENT = 1 << 5, /* incoming traceparent was invalid: restarted */
	SPAN_F_PARENT_UNKNOWN = 1 << 6,	 /* client: which request it was made for cannot be known:
					  * a new trace, never a guessed parent */
};

/* How an exchange ended, when not with its response. */
enum span_error {
	SPAN_ERR_NONE,
	SPAN_ERR_CLOSED, /* connection closed before a response */
	SPAN_ERR_RESET,	 /* I/O error on the socket */
	SPAN_ERR_PROTOCOL,
	SPAN_ERR_STREAM_RESET, /* a multiplexed stream was reset (HTTP/2 RST_STREAM) */
	SPAN_ERR_GOAWAY,       /* the peer went away before the stream ended */
};

enum spanrec_type { SPANREC_INT = 1, SPANREC_STR = 2 };

struct spanrec_attr {
	uint8_t key;  /* the writing protocol's own attribute id */
	uint8_t type; /* enum spanrec_type */
	uint16_t off; /* SPANREC_STR: value at str[off], NUL-terminated */
	uint16_t len;
	uint16_t reserved;
	int64_t i; /* SPANREC_INT */
};

struct span_rec {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];
	uint8_t trace_flags;
	uint8_t kind;	/* enum span_kind */
	uint16_t flags; /* enum span_flag */
	uint8_t proto;	/* enum proto_id of the protocol that wrote it */
	uint8_t nattrs;
	uint16_t error; /* enum span_error */
	uint16_t peer_port;
	uint16_t str_used;
	uint32_t pid; /* in the process's own pid namespace */
	uint32_t tid;
	uint64_t pidns;	   /* inode of that pid namespace (0: unknown): a node agent
			    * maps (pidns, pid) to the process it sees */
	uint64_t start_ns; /* CLOCK_MONOTONIC */
	uint64_t end_ns;
	char peer[SPAN_ADDR_MAX]; /* network.peer.address */
	uint16_t tracestate_len;
	char tracestate[TP_TRACESTATE_MAX + 1];
	struct spanrec_attr attrs[SPANREC_ATTR_MAX];
	char str[SPANREC_STR_MAX];
};

/* Empty the attribute list (the rest is the writer's to fill). */
void spanrec_clear_attrs(struct span_rec *r);
/* Add an attribute; -1 if the list or the string space is full. A string
 * is cut at n bytes, at its first NUL, and at what still fits. */
int spanrec_put_int(struct span_rec *r, unsigned key, int64_t v);
int spanrec_put_str(struct span_rec *r, unsigned key, const char *s, size_t n);
/* The same for n bytes the caller knows hold no NUL (a strlen's worth). */
int spanrec_put_bytes(struct span_rec *r, unsigned key, const char *s, size_t n);

/* Reader: make a record from an untrusted writer safe to read (strings
 * terminated, lists and offsets within bounds; a bad attribute is
 * dropped). Returns how many attributes were dropped. */
unsigned spanrec_check(struct span_rec *r);
/* The attribute with this key, or NULL. */
const struct spanrec_attr *spanrec_get(const struct span_rec *r, unsigned key);
/* Its value, or def / "" when absent or of another type. */
int64_t spanrec_int(const struct span_rec *r, unsigned key, int64_t def);
const char *spanrec_str(const struct span_rec *r, unsigned key);
/* Copy what a record really uses (the ring writes only those bytes). */
void spanrec_copy(struct span_rec *dst, const struct span_rec *src);

#endif

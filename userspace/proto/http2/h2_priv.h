/*
 * h2_priv - the HTTP/2 module's per-connection state, shared by its
 * reading side (h2_proto.c), its writing side (h2_inject.c) and its
 * record attributes (h2_sem.c). Nothing outside this folder sees it.
 */
#ifndef OBS_H2_PRIV_H
#define OBS_H2_PRIV_H
#include <stdint.h>

#include "h2.h"
#include "hpack.h"
#include "http_sem.h"
#include "pconn.h"

#define H2S_MAX	  128	/* streams followed at once per connection */
#define H2_EBUF	  16384 /* edit bytes queued per connection */
#define FIELD_MAX (16 + TP_LEN + TP_TRACESTATE_MAX + 32)

enum { DIR_IN = PROTO_IN, DIR_OUT = PROTO_OUT };

/* Record attributes of HTTP/2 records, after the HTTP ones. */
enum h2_attr {
	H2_A_GRPC = HTTP_A_WIRE, /* 1: a gRPC call (content-type application/grpc) */
	H2_A_RPC_STATUS,	 /* grpc-status, when there was one */
	H2_A_REQ_MSGS,		 /* gRPC messages the client sent */
	H2_A_RESP_MSGS,		 /* and the server */
	H2_A_ERROR_CODE,	 /* RST_STREAM / GOAWAY error code */
};

struct grpc_framer {
	uint8_t hdr;   /* prefix bytes seen */
	uint8_t lost;  /* bytes went unseen where a prefix was: the count is unknown */
	uint32_t len;  /* the length being read */
	uint32_t left; /* message bytes still to skip */
};

struct h2stream {     /* its id is h2conn.ids[] at the same index */
	uint8_t open; /* request HEADERS seen */
	uint8_t resp_headers;
	uint8_t grpc;
	uint8_t app_context; /* the app sent its own traceparent */
	uint8_t has_rpc_status;
	uint16_t status;
	uint16_t rpc_status;
	uint32_t msgs[2]; /* gRPC messages: request, response */
	uint32_t h2_error;
	uint64_t timeout_ns; /* grpc-timeout of the request */
	struct grpc_framer fr[2];
	char method[HTTP_METHOD_MAX];
	char path[HTTP_PATH_MAX];
	char authority[HTTP_HOST_MAX];
	struct exchange x;
};

/* What the connection's last record was made of: everything h2s_record
 * puts in it, valid while pc->red_tag names it (not 0). A stream made of the same is
 * counted without a record where its span is not exported
 * (host->emit_again). */
struct h2_key {
	uint8_t grpc, has_rpc_status, lost[2];
	uint16_t status, rpc_status;
	uint32_t msgs[2], h2_error;
	char method[HTTP_METHOD_MAX];
	char path[HTTP_PATH_MAX];
	char authority[HTTP_HOST_MAX];
};

struct h2conn {
	uint32_t peer_max_frame; /* the peer's SETTINGS_MAX_FRAME_SIZE */
	struct h2_reader rd[2];
	struct hpack_dec hp[2];
	uint32_t ids[H2S_MAX]; /* st[i]'s stream id (0: free), packed for the lookup */
	struct h2stream st[H2S_MAX];
	size_t ahead;	   /* bytes of the next write already fed (looked at before sent) */
	uint32_t cont_sid; /* a new request whose block continues in CONTINUATION frames */
	size_t eused;
	char ebuf[H2_EBUF];
	struct h2_key last;
};

/* h2_proto.c */
struct h2stream *h2s_find(struct h2conn *h, uint32_t id);
/* The app's bytes on the connection (dir), at ts. -1: stop following. */
int h2c_feed(struct proto_conn *pc, int dir, const uint8_t *buf, size_t n, uint64_t ts);

/* h2_inject.c: the handler's inject and sent. */
size_t h2c_inject(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t m,
		  size_t budget);
void h2c_sent(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t n, uint64_t ts);

/* h2_sem.c: a stream's record, and what the collector makes of it. */
void h2s_record(const struct h2stream *s, struct span_rec *r);
/* s's record would be made of what k's was (h2s_record's fields). */
int h2s_same(const struct h2_key *k, const struct h2stream *s);
/* k becomes what s's record is made of. */
void h2s_key(struct h2_key *k, const struct h2stream *s);
void h2_observe(const struct span_rec *r, const struct proto_env *env, struct proto_obs *obs);
void h2_describe(const struct span_rec *r, const struct proto_env *env, struct xspan *x);
extern const struct proto_family *const h2_families[];

#endif

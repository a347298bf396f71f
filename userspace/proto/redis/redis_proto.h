/*
 * redis_proto - Redis as a client speaks it (RESP2 or RESP3 over TCP):
 * each command the app sends is a CLIENT span, ended by its reply, and a
 * point of db.client.operation.duration. Pipelined commands are matched
 * to their replies in order. Nothing is injected: RESP has no place for
 * trace context, so the spans are children of the request the app was
 * serving, and the trace ends at Redis.
 */
#ifndef OBS_REDIS_PROTO_H
#define OBS_REDIS_PROTO_H
#include "proto.h"

/* Record attributes (span_rec keys) of a Redis record. */
enum redis_attr {
	REDIS_A_OP = 1, /* the command's name, upper case (or _OTHER) */
	REDIS_A_DB,	/* the database index the command ran in */
	REDIS_A_ERR,	/* an error reply's prefix (ERR, WRONGTYPE, ...) */
};

extern const struct proto_handler redis_handler;

#endif

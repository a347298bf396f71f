/*
 * registry - the protocols obs follows: an id here and one line in
 * registry.c's table each.
 */
#ifndef OBS_REGISTRY_H
#define OBS_REGISTRY_H
#include "proto.h"

/* Record ids (span_rec.proto): one per handler. */
enum proto_id {
	PROTO_HTTP1 = 1,
	PROTO_HTTP2 = 2,
	PROTO_TEST = 15, /* unit tests' own protocols */
	PROTO_ID_MAX = 16,
};

/* In detection order (the most specific first), NULL-terminated. */
extern const struct proto_handler *const proto_handlers[];
/* The handler whose records carry this id, or NULL. */
const struct proto_handler *proto_by_id(unsigned id);

#endif

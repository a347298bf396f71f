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
	PROTO_REDIS = 3,
	PROTO_PG = 4,
	PROTO_MYSQL = 5,
	PROTO_TEST = 15, /* unit tests' own protocols */
	PROTO_ID_MAX = 16,
};

/* Metric family ids (proto_family.id): what a region's series is of. */
enum proto_family_id {
	FAMILY_HTTP_SERVER = 1,
	FAMILY_HTTP_CLIENT = 2,
	FAMILY_RPC_SERVER = 3,
	FAMILY_RPC_CLIENT = 4,
	FAMILY_DB_CLIENT = 5,
	FAMILY_TEST = 255, /* unit tests' own */
};

/* In detection order (the most specific first), NULL-terminated. */
extern const struct proto_handler *const proto_handlers[];
/* Those kernel-side capture follows (the same order). */
extern const struct proto_handler *const proto_kernel_handlers[];
/* The handler whose records carry this id, or NULL. */
const struct proto_handler *proto_by_id(unsigned id);
/* The family with this id among the registered protocols', or NULL. */
const struct proto_family *proto_family_by_id(unsigned id);

#endif

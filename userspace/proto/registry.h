/*
 * registry - the protocols obs follows: one line each in registry.c.
 */
#ifndef OBS_REGISTRY_H
#define OBS_REGISTRY_H
#include "proto.h"

/* In detection order (the most specific first), NULL-terminated. */
extern const struct proto_handler *const proto_handlers[];
/* The handler whose records carry this id, or NULL. */
const struct proto_handler *proto_by_id(unsigned id);

#endif

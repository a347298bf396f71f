/*
 * ping_proto - a line-based PING/PONG echo protocol, in the unit tests
 * only: the proof that a protocol needs nothing but its own folder, one
 * registration line and its docs (docs/design.md, "Adding a protocol").
 *
 *   client: "PING <token>[ <traceparent>]\n"   server: "PONG <token>\n"
 *
 * Each PING/PONG pair is an exchange; a client's PING written whole in
 * one write gets the trace context as a third word.
 */
#ifndef OBS_PING_PROTO_H
#define OBS_PING_PROTO_H
#include "proto.h"

enum ping_attr { PING_A_TOKEN = 1 };

extern const struct proto_handler ping_handler;
extern const struct proto_family ping_duration;

#endif

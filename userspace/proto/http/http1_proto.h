/*
 * http1_proto - HTTP/1.x as a protocol module (proto.h): both directions
 * through the streaming parser (http1.c), requests paired with responses
 * in order (pipelining up to 8 deep), one record per exchange, and on a
 * client `traceparent` (and `tracestate`) inserted before the blank line
 * that ends a request head written whole in one write.
 */
#ifndef OBS_HTTP1_PROTO_H
#define OBS_HTTP1_PROTO_H
#include "proto.h"

extern const struct proto_handler http1_handler;

#endif

/*
 * h2_proto - HTTP/2 (and gRPC over it) as a protocol module (proto.h).
 *
 * Both directions go through a frame reader (h2.c) and an HPACK decoder
 * that mirrors the peer's dynamic table (hpack.c), so every header block
 * is understood. Each stream is an exchange: the request HEADERS open it
 * (extracting an incoming traceparent on a server), the response HEADERS
 * give :status, trailers give grpc-status, END_STREAM of the response,
 * RST_STREAM, GOAWAY or the connection's end close it, and one record is
 * written (h2_sem.c describes it: an HTTP/2 request, or a gRPC call).
 * On a client, every new request's HEADERS frame gets traceparent as an
 * HPACK literal without indexing (h2_inject.c).
 */
#ifndef OBS_H2_PROTO_H
#define OBS_H2_PROTO_H
#include "proto.h"

extern const struct proto_handler h2_handler;

#endif

/*
 * rpc - gRPC naming per the OpenTelemetry RPC semantic conventions, and
 * the gRPC wire values obs reads (status codes, grpc-timeout). Pure.
 */
#ifndef OBS_RPC_H
#define OBS_RPC_H
#include <stddef.h>
#include <stdint.h>

#define RPC_NAME_MAX 128

enum rpc_code {
	RPC_OK = 0,
	RPC_CANCELLED = 1,
	RPC_UNKNOWN = 2,
	RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
	RPC_DATA_LOSS = 15,
	RPC_CODE_MAX = 16,
};

/* "/package.Service/Method" -> rpc.service, rpc.method; -1 if not that shape. */
int rpc_split_path(const char *path, char *service, size_t slen, char *method, size_t mlen);
/* "NOT_FOUND" for 5; NULL beyond 16. */
const char *rpc_code_name(unsigned code);
/* Span status: servers flag server-side faults only, clients every non-OK. */
int rpc_code_is_error(unsigned code, int server);
/* The gRPC status a call reset with this HTTP/2 error code has (gRPC's
 * HTTP/2 transport mapping); expired: the call's deadline had passed. */
unsigned rpc_code_from_reset(uint32_t h2_error, int expired);
/* grpc-timeout ("100m", "2S", ...) in ns; 0 if malformed. */
uint64_t rpc_parse_timeout(const char *v, size_t len);

#endif

/*
 * http_sem - HTTP as the OpenTelemetry semantic conventions see it,
 * whatever the wire (HTTP/1.x here, HTTP/2 in ../http2): the attributes
 * an HTTP record carries, the two request-duration families, and how a
 * record becomes a span and a metric point. Pure.
 */
#ifndef OBS_HTTP_SEM_H
#define OBS_HTTP_SEM_H
#include <stddef.h>

#include "proto.h"

#define HTTP_METHOD_MAX 16
#define HTTP_PATH_MAX	256
#define HTTP_HOST_MAX	128

/* Record attributes (span_rec keys) of every HTTP record; a wire module
 * numbers its own from HTTP_A_WIRE on. */
enum http_attr {
	HTTP_A_METHOD = 1, /* the request method as sent */
	HTTP_A_PATH,	   /* the request target's path: query and fragment removed */
	HTTP_A_HOST,	   /* Host, or :authority */
	HTTP_A_STATUS,	   /* the final response status */
	HTTP_A_WIRE = 16,
};

extern const struct proto_family http_server_duration; /* http.server.request.duration */
extern const struct proto_family http_client_duration; /* http.client.request.duration */
/* Both, NULL-terminated: the families of every HTTP wire module. */
extern const struct proto_family *const http_families[];

/* The request target's path, without query or fragment: they may carry
 * secrets and never leave the process that saw them. */
void http_put_request(struct span_rec *r, const char *method, const char *target, const char *host);
/* The same, the target's path already cut (path_len bytes, no NUL in them). */
void http_put_request_path(struct span_rec *r, const char *method, const char *path,
			   size_t path_len, const char *host);
/* observe for an HTTP record: a point of http.server/client.request.duration. */
void http_observe(const struct span_rec *r, const struct proto_env *env, struct proto_obs *obs);
/* describe for an HTTP record; version: network.protocol.version for
 * HTTP/2 ("2"), NULL for HTTP/1.x. */
void http_describe(const struct span_rec *r, const struct proto_env *env, struct xspan *x,
		   const char *version);
/* error.type of an ended exchange, or NULL: how it ended (enum
 * span_error), else its status (servers: 5xx; clients: 4xx and 5xx). */
const char *http_error_type(const struct span_rec *r, char *buf, size_t len);

#endif

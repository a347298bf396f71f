#include "http_sem.h"

#include <stdio.h>
#include <string.h>

#include "registry.h"
#include "route.h"
#include "str.h"
#include "xspan.h"

static const char *const l_server[] = {"http_request_method", "http_route",
				       "http_response_status_code"};
static const char *const l_client[] = {"http_request_method", "server_address",
				       "http_response_status_code"};

const struct proto_family http_server_duration = {
    .id = FAMILY_HTTP_SERVER,
    .name = "http_server_request_duration_seconds",
    .help = "Duration of HTTP server requests (OpenTelemetry http.server.request.duration), "
	    "from the request's first byte read to the response's last byte written.",
    .unit = "seconds",
    .labels = l_server,
    .nlabels = 3,
    .bounds = proto_otel_duration_bounds,
    .nbounds = PROTO_OTEL_DURATION_NBOUNDS,
};

const struct proto_family http_client_duration = {
    .id = FAMILY_HTTP_CLIENT,
    .name = "http_client_request_duration_seconds",
    .help = "Duration of HTTP client requests (OpenTelemetry http.client.request.duration), "
	    "from the request's first byte written to the response's last byte read.",
    .unit = "seconds",
    .labels = l_client,
    .nlabels = 3,
    .bounds = proto_otel_duration_bounds,
    .nbounds = PROTO_OTEL_DURATION_NBOUNDS,
};

const struct proto_family *const http_families[] = {&http_server_duration, &http_client_duration,
						    NULL};

void http_put_request(struct span_rec *r, const char *method, const char *target, const char *host)
{
	/* strcspn stops at the NUL: no NUL inside */
	http_put_request_path(r, method, target, strcspn(target, "?#"), host);
}

void http_put_request_path(struct span_rec *r, const char *method, const char *path,
			   size_t path_len, const char *host)
{
	/* strlen stops at the NUL: no NUL inside */
	spanrec_put_bytes(r, HTTP_A_METHOD, method, strlen(method));
	spanrec_put_bytes(r, HTTP_A_PATH, path, path_len);
	spanrec_put_bytes(r, HTTP_A_HOST, host, strlen(host));
}

const char *http_error_type(const struct span_rec *r, char *buf, size_t len)
{
	int64_t status = spanrec_int(r, HTTP_A_STATUS, 0);

	if (r->error == SPAN_ERR_STREAM_RESET)
		return "stream_reset";
	if (r->error == SPAN_ERR_GOAWAY)
		return "goaway";
	if (r->error == SPAN_ERR_CLOSED)
		return "connection_closed";
	if (r->error == SPAN_ERR_RESET)
		return "connection_reset";
	if (r->error == SPAN_ERR_PROTOCOL)
		return "protocol_error";
	if (status >= 500 || (r->kind == SPAN_CLIENT && status >= 400)) {
		snprintf(buf, len, "%u", (unsigned)status);
		return buf;
	}
	return NULL;
}

/* The span name per the HTTP conventions: "{method} {http.route}". */
static void span_name(struct xspan *x, const char *method, const char *route)
{
	char name[HTTP_METHOD_MAX + ROUTE_MAX_LEN + 2];
	size_t at = str_copy(name, sizeof(name), strcmp(method, "_OTHER") ? method : "HTTP");

	if (x->kind == SPAN_SERVER && route[0] && at + 1 < sizeof(name)) {
		name[at++] = ' ';
		str_append(name, sizeof(name), at, route);
	}
	xspan_set_name(x, name);
}

/* A server's route: the matching pattern, else the path templated. */
static void route_of(const struct span_rec *r, const struct proto_env *env, char *route, size_t n)
{
	route[0] = 0;
	if (r->kind == SPAN_SERVER)
		route_template(env ? env->routes : NULL, spanrec_str(r, HTTP_A_PATH), route, n);
}

void http_observe(const struct span_rec *r, const struct proto_env *env, struct proto_obs *obs)
{
	const char *m = route_method(spanrec_str(r, HTTP_A_METHOD));
	int64_t status = spanrec_int(r, HTTP_A_STATUS, 0);
	char host[HTTP_HOST_MAX], route[ROUTE_MAX_LEN], code[24] = "";
	unsigned hport;

	if (status > 0)
		str_u64(code, (uint64_t)status);
	proto_obs_init(obs, r->kind == SPAN_SERVER ? &http_server_duration : &http_client_duration,
		       proto_seconds(r));
	proto_obs_label(obs, m);
	if (r->kind == SPAN_SERVER) {
		route_of(r, env, route, sizeof(route));
		proto_obs_label(obs, route);
	} else {
		route_host(spanrec_str(r, HTTP_A_HOST), host, sizeof(host), &hport);
		proto_obs_label(obs, host[0] ? host : r->peer);
	}
	proto_obs_label(obs, code); /* no response: the label is absent (empty) */
}

void http_describe(const struct span_rec *r, const struct proto_env *env, struct xspan *x,
		   const char *version)
{
	const char *raw = spanrec_str(r, HTTP_A_METHOD), *m = route_method(raw);
	const char *path = spanrec_str(r, HTTP_A_PATH), *rawhost = spanrec_str(r, HTTP_A_HOST);
	const char *scheme = r->flags & SPAN_F_TLS ? "https" : "http", *et;
	int64_t status = spanrec_int(r, HTTP_A_STATUS, 0);
	char host[HTTP_HOST_MAX], route[ROUTE_MAX_LEN], eb[24];
	char url[HTTP_HOST_MAX + HTTP_PATH_MAX + 16];
	unsigned hport;

	route_of(r, env, route, sizeof(route));
	route_host(rawhost, host, sizeof(host), &hport);
	et = http_error_type(r, eb, sizeof(eb));
	span_name(x, m, route);
	x->error = et != NULL;
	xspan_put_str(x, "http.request.method", m);
	xspan_put_str(x, "network.protocol.version", version);
	if (!strcmp(m, "_OTHER"))
		xspan_put_str(x, "http.request.method_original", raw);
	if (status)
		xspan_put_int(x, "http.response.status_code", status);
	xspan_put_str(x, "network.peer.address", r->peer);
	if (r->kind == SPAN_SERVER) {
		xspan_put_str(x, "url.path", path);
		xspan_put_str(x, "url.scheme", scheme);
		xspan_put_str(x, "http.route", route);
		xspan_put_str(x, "server.address", host);
		if (hport)
			xspan_put_int(x, "server.port", hport);
		if (r->peer_port)
			xspan_put_int(x, "network.peer.port", r->peer_port);
	} else {
		xspan_put_str(x, "server.address", host[0] ? host : r->peer);
		if (hport || r->peer_port)
			xspan_put_int(x, "server.port", hport ? hport : r->peer_port);
		size_t at = str_copy(url, sizeof(url), scheme);
		at = str_append(url, sizeof(url), at, "://");
		at = str_append(url, sizeof(url), at, rawhost[0] ? rawhost : r->peer);
		str_append(url, sizeof(url), at, path);
		xspan_put_str(x, "url.full", url);
	}
	xspan_put_str(x, "error.type", et);
}

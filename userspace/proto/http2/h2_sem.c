/*
 * h2_sem - what an HTTP/2 record carries, and what the collector makes of
 * it: a gRPC call per the OpenTelemetry RPC conventions (rpc.server/
 * client.call.duration), or an HTTP/2 request per the HTTP ones.
 */
#include <stdio.h>
#include <string.h>

#include "h2_priv.h"
#include "registry.h"
#include "route.h"
#include "rpc.h"
#include "str.h"
#include "xspan.h"

void h2s_record(const struct h2stream *s, struct span_rec *r)
{
	spanrec_clear_attrs(r);
	http_put_request(r, s->method, s->path, s->authority);
	if (s->status)
		spanrec_put_int(r, HTTP_A_STATUS, s->status);
	if (!s->grpc)
		return;
	spanrec_put_int(r, H2_A_GRPC, 1);
	if (s->has_rpc_status)
		spanrec_put_int(r, H2_A_RPC_STATUS, s->rpc_status);
	if (!s->fr[0].lost) /* else unknown: not said */
		spanrec_put_int(r, H2_A_REQ_MSGS, s->msgs[0]);
	if (!s->fr[1].lost)
		spanrec_put_int(r, H2_A_RESP_MSGS, s->msgs[1]);
	if (s->h2_error)
		spanrec_put_int(r, H2_A_ERROR_CODE, s->h2_error);
}

/* Keep these two with h2s_record: a field it puts in a record and they
 * leave out would file a stream's point in another's series. */
int h2s_same(const struct h2_key *k, const struct h2stream *s)
{
	return k->status == s->status && k->grpc == s->grpc &&
	       k->has_rpc_status == s->has_rpc_status && k->rpc_status == s->rpc_status &&
	       k->lost[0] == s->fr[0].lost && k->lost[1] == s->fr[1].lost &&
	       k->msgs[0] == s->msgs[0] && k->msgs[1] == s->msgs[1] && k->h2_error == s->h2_error &&
	       !strcmp(k->path, s->path) && !strcmp(k->method, s->method) &&
	       !strcmp(k->authority, s->authority);
}

void h2s_key(struct h2_key *k, const struct h2stream *s)
{
	k->status = s->status;
	k->grpc = s->grpc;
	k->has_rpc_status = s->has_rpc_status;
	k->rpc_status = s->rpc_status;
	k->lost[0] = s->fr[0].lost;
	k->lost[1] = s->fr[1].lost;
	k->msgs[0] = s->msgs[0];
	k->msgs[1] = s->msgs[1];
	k->h2_error = s->h2_error;
	str_copy(k->path, sizeof(k->path), s->path);
	str_copy(k->method, sizeof(k->method), s->method);
	str_copy(k->authority, sizeof(k->authority), s->authority);
}

static const char *const l_rpc[] = {"rpc_system", "rpc_service", "rpc_method",
				    "rpc_grpc_status_code"};

static const struct proto_family rpc_server_duration = {
    .id = FAMILY_RPC_SERVER,
    .name = "rpc_server_call_duration_seconds",
    .help = "Duration of gRPC calls served (OpenTelemetry rpc.server.call.duration), from the "
	    "request HEADERS read to the response's end of stream written.",
    .unit = "seconds",
    .labels = l_rpc,
    .nlabels = 4,
    .bounds = proto_otel_duration_bounds,
    .nbounds = PROTO_OTEL_DURATION_NBOUNDS,
};

static const struct proto_family rpc_client_duration = {
    .id = FAMILY_RPC_CLIENT,
    .name = "rpc_client_call_duration_seconds",
    .help = "Duration of gRPC calls made (OpenTelemetry rpc.client.call.duration), from the "
	    "request HEADERS written to the response's end of stream read.",
    .unit = "seconds",
    .labels = l_rpc,
    .nlabels = 4,
    .bounds = proto_otel_duration_bounds,
    .nbounds = PROTO_OTEL_DURATION_NBOUNDS,
};

const struct proto_family *const h2_families[] = {&http_server_duration, &http_client_duration,
						  &rpc_server_duration, &rpc_client_duration, NULL};

/* error.type of a gRPC call: its status when it had one (servers flag
 * server-side faults only), else how the stream ended. */
static const char *grpc_error_type(const struct span_rec *r, char *buf, size_t len)
{
	const struct spanrec_attr *st = spanrec_get(r, H2_A_RPC_STATUS);

	if (st && st->type == SPANREC_INT) {
		const char *name = rpc_code_name((unsigned)st->i);
		if (!rpc_code_is_error((unsigned)st->i, r->kind == SPAN_SERVER))
			return NULL;
		snprintf(buf, len, "%s", name ? name : "UNKNOWN");
		return buf;
	}
	return http_error_type(r, buf, len);
}

/* A gRPC call names /package.Service/Method; any other path is HTTP. */
static int grpc_names(const struct span_rec *r, char *service, char *method)
{
	return spanrec_int(r, H2_A_GRPC, 0) && !rpc_split_path(spanrec_str(r, HTTP_A_PATH), service,
							       RPC_NAME_MAX, method, RPC_NAME_MAX);
}

static void grpc_observe(const struct span_rec *r, const char *service, const char *method,
			 struct proto_obs *obs)
{
	const struct spanrec_attr *st = spanrec_get(r, H2_A_RPC_STATUS);
	char code[8] = "";

	if (st && st->type == SPANREC_INT)
		snprintf(code, sizeof(code), "%u", (unsigned)st->i);
	proto_obs_init(obs, r->kind == SPAN_SERVER ? &rpc_server_duration : &rpc_client_duration,
		       proto_seconds(r));
	proto_obs_label(obs, "grpc");
	proto_obs_label(obs, service);
	proto_obs_label(obs, method);
	proto_obs_label(obs, code); /* no status: the label is absent (empty) */
}

static void grpc_describe(const struct span_rec *r, const char *service, const char *method,
			  struct xspan *x)
{
	const struct spanrec_attr *st = spanrec_get(r, H2_A_RPC_STATUS);
	int has_status = st && st->type == SPANREC_INT;
	char host[HTTP_HOST_MAX], name[2 * RPC_NAME_MAX + 2], eb[24];
	const char *et = grpc_error_type(r, eb, sizeof(eb));
	unsigned hport;

	/* the RPC conventions' name: {rpc.service}/{rpc.method} */
	snprintf(name, sizeof(name), "%s/%s", service, method);
	xspan_set_name(x, name);
	x->error = et != NULL;
	route_host(spanrec_str(r, HTTP_A_HOST), host, sizeof(host), &hport);
	xspan_put_str(x, "rpc.system", "grpc");
	xspan_put_str(x, "rpc.service", service);
	xspan_put_str(x, "rpc.method", method);
	if (has_status)
		xspan_put_int(x, "rpc.grpc.status_code", st->i);
	xspan_put_str(x, "network.peer.address", r->peer);
	if (r->peer_port && r->kind == SPAN_SERVER)
		xspan_put_int(x, "network.peer.port", r->peer_port);
	if (r->kind == SPAN_CLIENT) {
		xspan_put_str(x, "server.address", host[0] ? host : r->peer);
		if (hport || r->peer_port)
			xspan_put_int(x, "server.port", hport ? hport : r->peer_port);
	}
	xspan_put_int(x, "obs.rpc.request_messages", spanrec_int(r, H2_A_REQ_MSGS, 0));
	xspan_put_int(x, "obs.rpc.response_messages", spanrec_int(r, H2_A_RESP_MSGS, 0));
	if (r->error == SPAN_ERR_STREAM_RESET || r->error == SPAN_ERR_GOAWAY)
		xspan_put_int(x, "obs.http2.error_code", spanrec_int(r, H2_A_ERROR_CODE, 0));
	xspan_put_str(x, "error.type", et);
}

void h2_observe(const struct span_rec *r, const struct proto_env *env, struct proto_obs *obs)
{
	char service[RPC_NAME_MAX], method[RPC_NAME_MAX];

	if (grpc_names(r, service, method))
		grpc_observe(r, service, method, obs);
	else
		http_observe(r, env, obs);
}

void h2_describe(const struct span_rec *r, const struct proto_env *env, struct xspan *x)
{
	char service[RPC_NAME_MAX], method[RPC_NAME_MAX];

	if (grpc_names(r, service, method))
		grpc_describe(r, service, method, x);
	else
		http_describe(r, env, x, "2");
}

#include "db_sem.h"

#include "registry.h"
#include "str.h"
#include "xspan.h"

/* OpenTelemetry's advice for db.client.operation.duration, in seconds. */
static const double db_bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
static const char *const db_labels[] = {"db_system_name", "db_operation_name", "server_address",
					"server_port", "error_type"};
const struct proto_family db_client_duration = {
    .id = FAMILY_DB_CLIENT,
    .name = "db_client_operation_duration_seconds",
    .help = "Duration of database client operations (OpenTelemetry db.client.operation.duration).",
    .unit = "seconds",
    .labels = db_labels,
    .nlabels = 5,
    .bounds = db_bounds,
    .nbounds = sizeof(db_bounds) / sizeof(db_bounds[0]),
};

const char *db_error_type(const struct span_rec *r, const char *code)
{
	if (code[0])
		return code;
	switch (r->error) {
	case SPAN_ERR_NONE:
		return NULL;
	case SPAN_ERR_CLOSED:
		return "connection_closed";
	case SPAN_ERR_RESET:
		return "connection_reset";
	default:
		return "protocol_error";
	}
}

void db_observe(const struct span_rec *r, const char *system, const char *op, const char *et,
		struct proto_obs *obs)
{
	char port[8] = "";

	if (r->peer_port)
		str_u64(port, r->peer_port);
	proto_obs_init(obs, &db_client_duration, proto_seconds(r));
	proto_obs_label(obs, system);
	proto_obs_label(obs, op);
	proto_obs_label(obs, r->peer);
	proto_obs_label(obs, port);
	proto_obs_label(obs, et ? et : "");
}

void db_describe(const struct span_rec *r, struct xspan *x, const char *system, const char *op,
		 const char *ns, const char *code, const char *et)
{
	x->error = et != NULL;
	xspan_put_str(x, "db.system.name", system);
	xspan_put_str(x, "db.operation.name", op);
	xspan_put_str(x, "db.namespace", ns);
	xspan_put_str(x, "db.response.status_code", code);
	xspan_put_str(x, "server.address", r->peer);
	xspan_put_str(x, "network.peer.address", r->peer);
	if (r->peer_port) {
		xspan_put_int(x, "server.port", r->peer_port);
		xspan_put_int(x, "network.peer.port", r->peer_port);
	}
	xspan_put_str(x, "error.type", et);
}

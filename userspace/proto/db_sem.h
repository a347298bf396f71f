/*
 * db_sem - what every data-store client module shares: OpenTelemetry's
 * db.client.operation.duration family (one family for all of them, told
 * apart by db_system_name), its metric point, and error.type.
 */
#ifndef OBS_DB_SEM_H
#define OBS_DB_SEM_H
#include "proto.h"

extern const struct proto_family db_client_duration;

/* error.type: the server's own code when it gave one (code non-empty),
 * else how the exchange ended; NULL: no error. */
const char *db_error_type(const struct span_rec *r, const char *code);
/* The record's point of db_client_duration (peer: server.address/port). */
void db_observe(const struct span_rec *r, const char *system, const char *op, const char *et,
		struct proto_obs *obs);
/* A data-store span's status and attributes: db.system.name,
 * db.operation.name, db.namespace, db.response.status_code (code: the
 * server's own, "" for none), the peer's server.* and network.peer.*,
 * and error.type (et, NULL for none). */
void db_describe(const struct span_rec *r, struct xspan *x, const char *system, const char *op,
		 const char *ns, const char *code, const char *et);

#endif

/*
 * pg_proto - PostgreSQL as a client speaks it (protocol 3, libpq and any
 * driver alike): each operation the app sends is a CLIENT span and a point
 * of db.client.operation.duration. An operation is a simple Query, or the
 * extended protocol's messages up to a Sync; it ends with the server's
 * ReadyForQuery, so pipelines are matched in order. Its name is the
 * server's own word (the command tag, "SELECT", "INSERT"), never parsed
 * from the SQL; a failed one carries its SQLSTATE. No query text is kept.
 * Nothing is injected: the protocol has no place for trace context.
 */
#ifndef OBS_PG_PROTO_H
#define OBS_PG_PROTO_H
#include "proto.h"

/* Record attributes (span_rec keys) of a PostgreSQL record. */
enum pg_attr {
	PG_A_OP = 1, /* the command tag's first word (BATCH ... for several) */
	PG_A_DB,     /* the database the connection opened */
	PG_A_ERR,    /* an ErrorResponse's SQLSTATE */
	PG_A_BATCH,  /* commands completed in one operation, when more than one */
};

extern const struct proto_handler pg_handler;

#endif

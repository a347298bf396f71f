/*
 * mysql_proto - MySQL and MariaDB as a client speaks them (the classic
 * protocol, 4.1 and later: libmariadb, PyMySQL, Go's go-sql-driver/mysql):
 * each command the app sends is a CLIENT span and a point of
 * db.client.operation.duration, from the command packet to the last packet
 * of its answer (an OK, an ERR, or a result set's terminator with no more
 * results to come). A query's name is its first keyword from a fixed list
 * (SELECT, INSERT, ...; else _OTHER), a prepared statement's that of its
 * PREPARE; no query text is kept. A failed one carries the server's error
 * code. Nothing is injected: the protocol has no place for trace context.
 */
#ifndef OBS_MYSQL_PROTO_H
#define OBS_MYSQL_PROTO_H
#include "proto.h"

/* Record attributes (span_rec keys) of a MySQL record. */
enum my_attr {
	MY_A_OP = 1, /* the operation's keyword (BATCH for several statements) */
	MY_A_DB,     /* the database in use, when known */
	MY_A_ERR,    /* an ERR packet's error code (1146) */
	MY_A_BATCH,  /* results of one query, when more than one */
	MY_A_SYSTEM, /* 1: the server said it is MariaDB */
};

extern const struct proto_handler mysql_handler;

#endif

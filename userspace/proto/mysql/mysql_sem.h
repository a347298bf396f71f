/*
 * mysql_sem - what the MySQL module's operations are called and what its
 * records mean (mysql_proto.c reads the packets): a statement's keyword, a
 * command's name, the db.client.operation.duration point and the span.
 */
#ifndef OBS_MYSQL_SEM_H
#define OBS_MYSQL_SEM_H
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define MY_WORD_MAX 16
#define MY_DB_MAX   64

/* The commands whose names are not a statement's keyword. */
enum my_cmd {
	COM_QUIT = 0x01,
	COM_INIT_DB = 0x02,
	COM_QUERY = 0x03,
	COM_FIELD_LIST = 0x04,
	COM_STATISTICS = 0x09,
	COM_PING = 0x0e,
	COM_CHANGE_USER = 0x11,
	COM_BINLOG_DUMP = 0x12,
	COM_REGISTER_SLAVE = 0x15,
	COM_STMT_PREPARE = 0x16,
	COM_STMT_EXECUTE = 0x17,
	COM_STMT_SEND_LONG_DATA = 0x18,
	COM_STMT_CLOSE = 0x19,
	COM_STMT_RESET = 0x1a,
	COM_SET_OPTION = 0x1b,
	COM_STMT_FETCH = 0x1c,
	COM_BINLOG_DUMP_GTID = 0x1e,
	COM_RESET_CONNECTION = 0x1f,
};

/* A statement's first keyword (of a fixed list, upper case), else _OTHER:
 * the app's SQL must not make series at will. Blanks, parentheses and
 * comments before it are passed over. */
void my_sql_word(const uint8_t *b, size_t n, char out[MY_WORD_MAX]);
/* A command's name where it runs no statement of the app's. */
const char *my_cmd_word(uint8_t cmd);

extern const struct proto_family *const my_families[];
void mysql_observe(const struct span_rec *r, const struct proto_env *env, struct proto_obs *obs);
void mysql_describe(const struct span_rec *r, const struct proto_env *env, struct xspan *x);

#endif

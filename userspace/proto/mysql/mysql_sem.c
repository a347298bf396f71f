#include "mysql_sem.h"

#include <string.h>

#include "db_sem.h"
#include "mysql_proto.h"
#include "str.h"
#include "xspan.h"

/* A statement's first keyword as a label: one of these, else _OTHER (the
 * app's SQL must not make series at will). Comments and blanks before it
 * are passed over. */
void my_sql_word(const uint8_t *b, size_t n, char out[MY_WORD_MAX])
{
	static const char *const known[] = {
	    "SELECT",	"INSERT",   "UPDATE",  "DELETE",   "REPLACE", "BEGIN",	    "START",
	    "COMMIT",	"ROLLBACK", "SET",     "SHOW",	   "CREATE",  "DROP",	    "ALTER",
	    "TRUNCATE", "CALL",	    "USE",     "DO",	   "LOAD",    "SAVEPOINT",  "RELEASE",
	    "LOCK",	"UNLOCK",   "EXPLAIN", "DESCRIBE", "DESC",    "GRANT",	    "REVOKE",
	    "ANALYZE",	"OPTIMIZE", "WITH",    "PREPARE",  "EXECUTE", "DEALLOCATE", "XA",
	    "FLUSH",	"KILL",	    "RENAME",  "VALUES",   "TABLE",   "HANDLER",
	};
	size_t i = 0, w = 0;
	char word[MY_WORD_MAX];

	for (;;) {
		while (i < n &&
		       (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n' || b[i] == '('))
			i++;
		if (i + 1 < n && b[i] == '/' && b[i + 1] == '*') {
			for (i += 2; i + 1 < n && !(b[i] == '*' && b[i + 1] == '/'); i++)
				;
			i += 2;
		} else if (i < n &&
			   (b[i] == '#' || (i + 1 < n && b[i] == '-' && b[i + 1] == '-'))) {
			while (i < n && b[i] != '\n')
				i++;
		} else {
			break;
		}
	}
	while (i < n && w < MY_WORD_MAX - 1 &&
	       ((b[i] >= 'A' && b[i] <= 'Z') || (b[i] >= 'a' && b[i] <= 'z')))
		word[w++] = (char)(b[i++] & ~0x20);
	word[w] = 0;
	for (size_t k = 0; w && k < sizeof(known) / sizeof(known[0]); k++)
		if (!strcmp(word, known[k]) &&
		    (i >= n || !((b[i] | 0x20) >= 'a' && (b[i] | 0x20) <= 'z'))) {
			str_copy(out, MY_WORD_MAX, word);
			return;
		}
	str_copy(out, MY_WORD_MAX, "_OTHER");
}

/* A command's name where it runs no statement of the app's. */
const char *my_cmd_word(uint8_t cmd)
{
	switch (cmd) {
	case COM_INIT_DB:
		return "INIT_DB";
	case COM_FIELD_LIST:
		return "FIELD_LIST";
	case COM_STATISTICS:
		return "STATISTICS";
	case COM_PING:
		return "PING";
	case COM_STMT_RESET:
		return "STMT_RESET";
	case COM_SET_OPTION:
		return "SET_OPTION";
	case COM_STMT_FETCH:
		return "FETCH";
	case COM_RESET_CONNECTION:
		return "RESET_CONNECTION";
	default:
		return "_OTHER";
	}
}

/* ---- what a record means ---- */

const struct proto_family *const my_families[] = {&db_client_duration, NULL};

static const char *system_of(const struct span_rec *r)
{
	return spanrec_int(r, MY_A_SYSTEM, 0) ? "mariadb" : "mysql";
}

static const char *error_type(const struct span_rec *r)
{
	return db_error_type(r, spanrec_str(r, MY_A_ERR));
}

void mysql_observe(const struct span_rec *r, const struct proto_env *env, struct proto_obs *obs)
{
	(void)env;
	db_observe(r, system_of(r), spanrec_str(r, MY_A_OP), error_type(r), obs);
}

void mysql_describe(const struct span_rec *r, const struct proto_env *env, struct xspan *x)
{
	const char *op = spanrec_str(r, MY_A_OP), *db = spanrec_str(r, MY_A_DB);
	int64_t batch = spanrec_int(r, MY_A_BATCH, 0);
	char name[MY_WORD_MAX + MY_DB_MAX + 2];

	(void)env;
	/* {db.operation.name} {target}, the target being the database */
	if (op[0] && db[0]) {
		size_t at = str_copy(name, sizeof(name), op);

		str_append(name, sizeof(name), str_append(name, sizeof(name), at, " "), db);
	} else {
		str_copy(name, sizeof(name), op[0] ? op : system_of(r));
	}
	xspan_set_name(x, name);
	db_describe(r, x, system_of(r), op, db, spanrec_str(r, MY_A_ERR), error_type(r));
	if (batch > 1)
		xspan_put_int(x, "db.operation.batch.size", batch);
}

#include "pg_proto.h"

#include <string.h>

#include "db_sem.h"
#include "pconn.h"
#include "pgwire.h"
#include "registry.h"
#include "str.h"
#include "xspan.h"

/* Operations waiting for their ReadyForQuery: the first PG_QUEUE each with
 * its span; a deeper pipeline's further ones are counted (points, timed
 * from the first of them to be sent) without spans. */
#define PG_QUEUE    64
#define PG_WORD_MAX 32
#define PG_DB_MAX   64

enum pg_phase {
	PG_STARTUP, /* before the first ReadyForQuery */
	PG_TLS_ASKED,
	PG_READY,
};

struct pg_op {
	struct tp_ctx ctx;
	uint8_t parent[8];
	uint16_t flags;
	uint8_t empty; /* a Sync with nothing before it: no operation */
	uint64_t host[2];
	uint64_t start_ns;
};

struct pg_state {
	struct pgw_parser out, in;
	uint8_t phase;
	uint8_t batch_open; /* extended-protocol messages sent since the last Sync */
	struct pg_op batch; /* ... the operation they make */
	struct pg_op q[PG_QUEUE];
	unsigned head, len;
	uint64_t over_n, over_start; /* operations past the queue */
	/* the oldest operation's outcome so far */
	uint32_t done_cmds;
	uint8_t same;
	char word[PG_WORD_MAX];
	char err[8];
	char db[PG_DB_MAX];
};

static int pg_detect(enum proto_side side, enum proto_dir dir, const uint8_t *b, size_t n)
{
	return side == PROTO_CLIENT && dir == PROTO_OUT && pgw_opens_connection(b, n);
}

static int pg_open(struct proto_conn *pc)
{
	struct pg_state *s = pc->st;

	memset(s, 0, sizeof(*s));
	pgw_init(&s->out, PGW_FRONTEND);
	pgw_init(&s->in, PGW_BACKEND);
	s->phase = PG_STARTUP;
	return 0;
}

/* StartupMessage: the database (by default the user's name). */
static void startup_params(struct pg_state *s, const struct pgw_msg *m)
{
	char key[32], val[PG_DB_MAX], user[PG_DB_MAX] = "";
	size_t off = 0;

	s->db[0] = 0;
	while (!pgw_cstr(m, &off, key, sizeof(key)) && key[0]) {
		if (pgw_cstr(m, &off, val, sizeof(val)))
			break;
		if (!strcmp(key, "database"))
			str_copy(s->db, sizeof(s->db), val);
		else if (!strcmp(key, "user"))
			str_copy(user, sizeof(user), val);
	}
	if (!s->db[0])
		str_copy(s->db, sizeof(s->db), user);
}

/* A new operation's context, begun now (the first message of it sent). */
static void op_begin(struct proto_conn *pc, struct pg_op *o, uint64_t ts)
{
	struct exchange x;

	exchange_clear(&x);
	pc->host->client_begin(pc, &x, 0);
	o->ctx = x.ctx;
	memcpy(o->parent, x.parent, sizeof(o->parent));
	o->flags = x.flags;
	memcpy(o->host, x.host, sizeof(o->host));
	o->start_ns = ts;
	o->empty = 0;
}

/* An operation is sent whole: it waits for its ReadyForQuery. */
static void op_push(struct pg_state *s, const struct pg_op *o)
{
	if (s->over_n || s->len == PG_QUEUE) {
		if (!s->over_n++)
			s->over_start = o->start_ns;
		return;
	}
	s->q[(s->head + s->len++) % PG_QUEUE] = *o;
}

/* A command tag's first word as a label: upper-case letters, else _OTHER. */
static void tag_word(const struct pgw_msg *m, char out[PG_WORD_MAX])
{
	size_t i = 0;

	while (i < m->head_len && i < PG_WORD_MAX - 1 && m->head[i] >= 'A' && m->head[i] <= 'Z') {
		out[i] = (char)m->head[i];
		i++;
	}
	out[i] = 0;
	if (!i || (i < m->head_len && m->head[i] != ' ' && m->head[i] != 0))
		str_copy(out, PG_WORD_MAX, "_OTHER");
}

static void on_complete(struct pg_state *s, const struct pgw_msg *m)
{
	char w[PG_WORD_MAX] = "";

	if (m->type == 'C')
		tag_word(m, w);
	if (!s->done_cmds++) {
		str_copy(s->word, sizeof(s->word), w);
		s->same = 1;
	} else if (strcmp(s->word, w)) {
		s->same = 0;
	}
}

static void outcome_clear(struct pg_state *s)
{
	s->done_cmds = 0;
	s->same = 0;
	s->word[0] = 0;
	s->err[0] = 0;
}

/* The oldest operation ends (how: SPAN_ERR_*). */
static void end_one(struct proto_conn *pc, struct pg_state *s, uint16_t how, uint64_t ts)
{
	struct exchange x;
	struct span_rec r;
	char op[PG_WORD_MAX + 8];
	int spanned = s->len > 0, empty = 0;

	if (!spanned && !s->over_n)
		return;
	exchange_clear(&x);
	if (spanned) {
		const struct pg_op *o = &s->q[s->head % PG_QUEUE];

		x.ctx = o->ctx;
		memcpy(x.parent, o->parent, sizeof(x.parent));
		x.flags = o->flags;
		memcpy(x.host, o->host, sizeof(x.host));
		x.start_ns = o->start_ns;
		empty = o->empty;
		s->head++;
		s->len--;
	} else {
		x.start_ns = s->over_start;
		s->over_n--;
	}
	/* nothing ran (an empty query, a Describe alone): no operation */
	if (!empty && (s->done_cmds || s->err[0] || how != SPAN_ERR_NONE)) {
		if (s->done_cmds > 1 && s->same && s->word[0])
			str_append(op, sizeof(op), str_copy(op, sizeof(op), "BATCH "), s->word);
		else
			str_copy(op, sizeof(op), s->done_cmds > 1 ? "BATCH" : s->word);
		spanrec_clear_attrs(&r);
		spanrec_put_str(&r, PG_A_OP, op, sizeof(op));
		spanrec_put_str(&r, PG_A_DB, s->db, sizeof(s->db));
		if (s->err[0])
			spanrec_put_str(&r, PG_A_ERR, s->err, sizeof(s->err));
		if (s->done_cmds > 1)
			spanrec_put_int(&r, PG_A_BATCH, s->done_cmds);
		pconn_emit(pc, &x, &r, how, ts);
	}
	outcome_clear(s);
}

static void end_all(struct proto_conn *pc, struct pg_state *s, uint16_t how, uint64_t ts)
{
	while (s->len || s->over_n)
		end_one(pc, s, how, ts);
}

static int give_up(struct proto_conn *pc, struct pg_state *s, uint64_t ts)
{
	end_all(pc, s, SPAN_ERR_PROTOCOL, ts);
	pconn_count(pc, PROTO_COUNT_PARSE_ERROR);
	return -1;
}

/* A message the app sent. */
static void on_frontend(struct proto_conn *pc, struct pg_state *s, const struct pgw_msg *m,
			uint64_t ts)
{
	struct pg_op o;

	switch (m->type) {
	case 0:
		if (m->code == PGW_SSL_REQUEST || m->code == PGW_GSS_REQUEST) {
			s->phase = PG_TLS_ASKED;
			pgw_expect_answer(&s->in);
		} else if (m->code >> 16 == 3) {
			startup_params(s, m);
		}
		return;
	case 'Q': /* a simple query: one operation */
	case 'F': /* a function call: likewise */
		op_begin(pc, &o, ts);
		op_push(s, &o);
		return;
	case 'P': /* Parse, Bind, Describe, Execute, Close: until Sync */
	case 'B':
	case 'D':
	case 'E':
	case 'C':
		if (!s->batch_open) {
			op_begin(pc, &s->batch, ts);
			s->batch_open = 1;
		}
		return;
	case 'S': /* Sync: the server answers it with one ReadyForQuery */
		if (!s->batch_open) {
			memset(&s->batch, 0, sizeof(s->batch));
			s->batch.start_ns = ts;
			s->batch.empty = 1;
		}
		op_push(s, &s->batch);
		s->batch_open = 0;
		return;
	default: /* Flush, Terminate, CopyData/Done/Fail, password: no answer of their own */
		return;
	}
}

/* A message the server sent. 1: stop following. */
static int on_backend(struct proto_conn *pc, struct pg_state *s, const struct pgw_msg *m,
		      uint64_t ts)
{
	if (s->phase == PG_TLS_ASKED && m->type == 0) {
		s->phase = PG_STARTUP;
		/* 'S' or 'G': what follows is TLS (followed, where it can be,
		 * through the TLS library); 'N': a StartupMessage comes next */
		return m->code != 'N';
	}
	switch (m->type) {
	case 'Z':
		if (s->phase != PG_READY) {
			s->phase = PG_READY; /* the connection is open */
			outcome_clear(s);
			return 0;
		}
		if (!s->len && !s->over_n)
			return -1; /* an answer to nothing: not following right */
		end_one(pc, s, SPAN_ERR_NONE, ts);
		return 0;
	case 'C': /* CommandComplete */
	case 's': /* PortalSuspended: an Execute's rows, some of them */
	case 'V': /* FunctionCallResponse */
		if (s->phase == PG_READY)
			on_complete(s, m);
		return 0;
	case 'E':
		if (s->phase == PG_READY && !s->err[0])
			pgw_error_field(m, 'C', s->err, sizeof(s->err));
		return 0;
	case 'W': /* CopyBoth: replication, no longer one answer per operation */
		end_all(pc, s, SPAN_ERR_NONE, ts);
		return 1;
	default:
		return 0;
	}
}

static int pg_feed(struct proto_conn *pc, enum proto_dir dir, const uint8_t *b, size_t n,
		   uint64_t ts)
{
	struct pg_state *s = pc->st;
	struct pgw_parser *p = dir == PROTO_OUT ? &s->out : &s->in;

	while (n) {
		struct pgw_msg m;
		int done, r;
		long k = pgw_parse(p, b, n, &m, &done);

		if (k < 0)
			return give_up(pc, s, ts);
		b += k;
		n -= (size_t)k;
		if (!done)
			continue;
		if (dir == PROTO_OUT) {
			on_frontend(pc, s, &m, ts);
			continue;
		}
		r = on_backend(pc, s, &m, ts);
		if (r < 0)
			return give_up(pc, s, ts);
		if (r)
			return -1;
	}
	return 0;
}

static int pg_skip(struct proto_conn *pc, enum proto_dir dir, uint64_t n, uint64_t ts)
{
	struct pg_state *s = pc->st;
	struct pgw_msg m;
	int done;

	if (pgw_skip(dir == PROTO_OUT ? &s->out : &s->in, n, &m, &done))
		return give_up(pc, s, ts); /* a message boundary went unseen */
	if (done && dir == PROTO_OUT)
		on_frontend(pc, s, &m, ts);
	else if (done && on_backend(pc, s, &m, ts))
		return give_up(pc, s, ts);
	return 0;
}

static void pg_eof(struct proto_conn *pc, uint64_t ts)
{
	end_all(pc, pc->st, SPAN_ERR_CLOSED, ts);
}

/* ---- what a record means ---- */

static const struct proto_family *const pg_families[] = {&db_client_duration, NULL};

/* error.type: the SQLSTATE, or how the operation ended. */
static const char *error_type(const struct span_rec *r)
{
	return db_error_type(r, spanrec_str(r, PG_A_ERR));
}

static void pg_observe(const struct span_rec *r, const struct proto_env *env, struct proto_obs *obs)
{
	(void)env;
	db_observe(r, "postgresql", spanrec_str(r, PG_A_OP), error_type(r), obs);
}

static void pg_describe(const struct span_rec *r, const struct proto_env *env, struct xspan *x)
{
	const char *op = spanrec_str(r, PG_A_OP), *db = spanrec_str(r, PG_A_DB);
	const char *et = error_type(r);
	int64_t batch = spanrec_int(r, PG_A_BATCH, 0);
	char name[PG_WORD_MAX + 8 + PG_DB_MAX + 2];

	(void)env;
	/* {db.operation.name} {target}, the target being the database */
	if (op[0] && db[0]) {
		size_t at = str_copy(name, sizeof(name), op);

		str_append(name, sizeof(name), str_append(name, sizeof(name), at, " "), db);
	} else {
		str_copy(name, sizeof(name), op[0] ? op : "postgresql");
	}
	xspan_set_name(x, name);
	db_describe(r, x, "postgresql", op, db, spanrec_str(r, PG_A_ERR), et);
	if (batch > 1)
		xspan_put_int(x, "db.operation.batch.size", batch);
}

const struct proto_handler pg_handler = {
    .name = "postgresql",
    .id = PROTO_PG,
    .state_size = sizeof(struct pg_state),
    .detect = pg_detect,
    .open = pg_open,
    .feed = pg_feed,
    .skip = pg_skip,
    .sent = pconn_sent_feed,
    .eof = pg_eof,
    .observe = pg_observe,
    .describe = pg_describe,
    .families = pg_families,
};

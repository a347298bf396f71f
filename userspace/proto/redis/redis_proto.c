#include "redis_proto.h"

#include <stdlib.h>
#include <string.h>

#include "db_sem.h"
#include "pconn.h"
#include "registry.h"
#include "resp.h"
#include "str.h"
#include "xspan.h"

/* Commands waiting for their replies: the first REDIS_QUEUE each with its
 * span; a deeper pipeline's further ones in runs of the same command,
 * each still a point of the duration histogram (timed from the write
 * that sent the first of its run), without a span. */
#define REDIS_QUEUE 64
#define REDIS_RUNS  64

struct redis_cmd {
	/* its exchange, but for the tracestate nothing here propagates */
	struct tp_ctx ctx;
	uint8_t parent[8];
	uint16_t flags;
	uint8_t last; /* its reply is the last one followed (SUBSCRIBE, MONITOR, ...) */
	uint64_t host[2];
	uint64_t start_ns;
	int64_t db;	  /* the database it runs in */
	int64_t db_after; /* SELECT: the one it selects (else db) */
	char op[RESP_WORD_MAX];
};

struct redis_run {
	uint64_t start_ns;
	uint64_t n;
	int64_t db;
	char op[RESP_WORD_MAX];
};

struct redis_state {
	struct resp_parser out, in;
	struct redis_cmd q[REDIS_QUEUE];
	unsigned head, len;
	struct redis_run runs[REDIS_RUNS];
	unsigned rhead, rlen;
	int64_t db; /* as of the last command sent */
	uint8_t last_sent;
};

/* A client's first write: a RESP array ("*<count>"). An inline command
 * is a line of words, as many protocols are: not detected. */
static int redis_detect(enum proto_side side, enum proto_dir dir, const uint8_t *b, size_t n)
{
	return side == PROTO_CLIENT && dir == PROTO_OUT && n >= 2 && b[0] == '*' &&
	       ((b[1] >= '1' && b[1] <= '9') || b[1] == '-' || b[1] == '0');
}

static int redis_open(struct proto_conn *pc)
{
	struct redis_state *s = pc->st;

	resp_init(&s->out, RESP_COMMANDS);
	resp_init(&s->in, RESP_REPLIES);
	s->head = s->len = 0;
	s->rhead = s->rlen = 0;
	s->db = 0;
	s->last_sent = 0;
	return 0;
}

/* A word as a label (a command's name, an error's prefix): upper case,
 * or _OTHER when it is not a plausible name (the peers' bytes must not
 * make series at will). */
static void label_word(const char *w, char out[RESP_WORD_MAX])
{
	size_t i = 0;

	for (; w[i]; i++) {
		char c = w[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			   c == '.' || c == '|' || c == '-'))
			break;
		out[i] = c;
	}
	if (!i || w[i]) {
		str_copy(out, RESP_WORD_MAX, "_OTHER");
		return;
	}
	out[i] = 0;
}

/* After these, replies are no longer one per command (or stop). */
static int ends_following(const char *op, const char *arg)
{
	static const char *const names[] = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR",
					    "SYNC",	 "PSYNC",      NULL};

	for (size_t i = 0; names[i]; i++)
		if (!strcmp(op, names[i]))
			return 1;
	return !strcmp(op, "CLIENT") && !strcasecmp(arg, "REPLY");
}

static int64_t db_index(const char *arg, int64_t def)
{
	char *end;
	long v;

	if (!arg[0])
		return def;
	v = strtol(arg, &end, 10);
	return *end || v < 0 || v > 1000000 ? def : v;
}

/* A command past the queue: counted in a run. */
static void run_add(struct redis_state *s, const char *op, int64_t db, uint64_t ts)
{
	struct redis_run *t = s->rlen ? &s->runs[(s->rhead + s->rlen - 1) % REDIS_RUNS] : NULL;

	if (!t || ((strcmp(t->op, op) || t->db != db) && s->rlen < REDIS_RUNS)) {
		t = &s->runs[(s->rhead + s->rlen++) % REDIS_RUNS];
		t->start_ns = ts;
		t->n = 0;
		t->db = db;
		str_copy(t->op, sizeof(t->op), op);
	} else if (strcmp(t->op, op) || t->db != db) {
		str_copy(t->op, sizeof(t->op), "_OTHER"); /* no room: one mixed run */
	}
	t->n++;
}

static void on_command(struct proto_conn *pc, struct redis_state *s, const struct resp_msg *m,
		       uint64_t ts)
{
	struct redis_cmd *c;
	struct exchange x;
	char op[RESP_WORD_MAX];
	int64_t db = s->db;

	if (m->empty)
		return; /* Redis answers nothing to it */
	label_word(m->word, op);
	if (!strcmp(op, "SELECT"))
		s->db = db_index(m->arg, s->db);
	else if (!strcmp(op, "RESET"))
		s->db = 0;
	s->last_sent = (uint8_t)ends_following(op, m->arg);
	if (s->rlen || s->len == REDIS_QUEUE) {
		run_add(s, op, db, ts);
		return;
	}
	c = &s->q[(s->head + s->len++) % REDIS_QUEUE];
	exchange_clear(&x);
	pc->host->client_begin(pc, &x, 0);
	c->ctx = x.ctx;
	memcpy(c->parent, x.parent, sizeof(c->parent));
	c->flags = x.flags;
	memcpy(c->host, x.host, sizeof(c->host));
	c->start_ns = ts;
	memcpy(c->op, op, sizeof(op));
	c->db = db;
	c->db_after = s->db;
	c->last = s->last_sent;
}

/* One record: of an exchange x (an unsampled empty one: a point, no span). */
static void emit(struct proto_conn *pc, const struct exchange *x, const char *op, int64_t db,
		 const char *err, uint16_t how, uint64_t ts)
{
	struct span_rec r;
	char code[RESP_WORD_MAX];

	spanrec_clear_attrs(&r);
	spanrec_put_str(&r, REDIS_A_OP, op, RESP_WORD_MAX);
	spanrec_put_int(&r, REDIS_A_DB, db);
	if (err) {
		/* a label: a script's own error prefix is the server's to choose */
		label_word(err[0] ? err : "ERR", code);
		spanrec_put_str(&r, REDIS_A_ERR, code, RESP_WORD_MAX);
	}
	pconn_emit(pc, x, &r, how, ts);
}

/* The oldest command waiting ends (err: its error prefix), how. */
static void end_one(struct proto_conn *pc, struct redis_state *s, const char *err, uint16_t how,
		    uint64_t ts)
{
	struct exchange x;

	exchange_clear(&x);
	if (s->len) {
		struct redis_cmd *c = &s->q[s->head % REDIS_QUEUE];

		x.ctx = c->ctx;
		memcpy(x.parent, c->parent, sizeof(x.parent));
		x.flags = c->flags;
		memcpy(x.host, c->host, sizeof(x.host));
		x.start_ns = c->start_ns;
		emit(pc, &x, c->op, c->db, err, how, ts);
		s->head++;
		s->len--;
	} else if (s->rlen) {
		struct redis_run *t = &s->runs[s->rhead % REDIS_RUNS];

		x.start_ns = t->start_ns;
		emit(pc, &x, t->op, t->db, err, how, ts);
		if (!--t->n) {
			s->rhead++;
			s->rlen--;
		}
	}
}

/* A reply: it ends the oldest command waiting. 1: nothing more to follow. */
static int on_reply(struct proto_conn *pc, struct redis_state *s, const struct resp_msg *m,
		    uint64_t ts)
{
	int err = m->type == '-' || m->type == '!';
	struct redis_cmd *c = s->len ? &s->q[s->head % REDIS_QUEUE] : NULL;
	int last = c && c->last;

	if (m->push && !last)
		return 0; /* out of band (RESP3): not an answer */
	if (c && err && c->db_after != c->db && s->db == c->db_after)
		s->db = c->db; /* the SELECT failed */
	end_one(pc, s, err ? m->word : NULL, SPAN_ERR_NONE, ts);
	return last; /* (a reply to nothing: an error before the close) */
}

/* Everything still waiting ends, how. */
static void end_all(struct proto_conn *pc, struct redis_state *s, uint16_t how, uint64_t ts)
{
	while (s->len || s->rlen)
		end_one(pc, s, NULL, how, ts);
}

static int give_up(struct proto_conn *pc, struct redis_state *s, uint64_t ts)
{
	end_all(pc, s, SPAN_ERR_PROTOCOL, ts);
	pconn_count(pc, PROTO_COUNT_PARSE_ERROR);
	return -1;
}

static int redis_feed(struct proto_conn *pc, enum proto_dir dir, const uint8_t *b, size_t n,
		      uint64_t ts)
{
	struct redis_state *s = pc->st;
	struct resp_parser *p = dir == PROTO_OUT ? &s->out : &s->in;

	if (dir == PROTO_OUT && s->last_sent)
		return 0; /* what follows a SUBSCRIBE is not looked at */
	while (n) {
		struct resp_msg m;
		int done;
		long k = resp_parse(p, b, n, &m, &done);

		if (k < 0)
			return give_up(pc, s, ts);
		b += k;
		n -= (size_t)k;
		if (!done)
			continue;
		if (dir == PROTO_OUT) {
			on_command(pc, s, &m, ts);
			if (s->last_sent)
				return 0;
		} else if (on_reply(pc, s, &m, ts)) {
			return -1; /* replies stop being one per command: done */
		}
	}
	return 0;
}

static int redis_skip(struct proto_conn *pc, enum proto_dir dir, uint64_t n, uint64_t ts)
{
	struct redis_state *s = pc->st;

	if (dir == PROTO_OUT && s->last_sent)
		return 0;
	if (resp_skip(dir == PROTO_OUT ? &s->out : &s->in, n))
		return give_up(pc, s, ts); /* a frame boundary went unseen */
	return 0;
}

static void redis_eof(struct proto_conn *pc, uint64_t ts)
{
	end_all(pc, pc->st, SPAN_ERR_CLOSED, ts);
}

/* ---- what a record means ---- */

static const struct proto_family *const redis_families[] = {&db_client_duration, NULL};

/* error.type: the error reply's prefix, or how the exchange ended. */
static const char *error_type(const struct span_rec *r)
{
	return db_error_type(r, spanrec_str(r, REDIS_A_ERR));
}

static void redis_observe(const struct span_rec *r, const struct proto_env *env,
			  struct proto_obs *obs)
{
	(void)env;
	db_observe(r, "redis", spanrec_str(r, REDIS_A_OP), error_type(r), obs);
}

static void redis_describe(const struct span_rec *r, const struct proto_env *env, struct xspan *x)
{
	const char *op = spanrec_str(r, REDIS_A_OP), *et = error_type(r);
	char db[24];

	(void)env;
	xspan_set_name(x, op[0] ? op : "redis");
	str_u64(db, (uint64_t)spanrec_int(r, REDIS_A_DB, 0));
	db_describe(r, x, "redis", op, db, spanrec_str(r, REDIS_A_ERR), et);
}

const struct proto_handler redis_handler = {
    .name = "redis",
    .id = PROTO_REDIS,
    .state_size = sizeof(struct redis_state),
    .detect = redis_detect,
    .open = redis_open,
    .feed = redis_feed,
    .skip = redis_skip,
    .sent = pconn_sent_feed,
    .eof = redis_eof,
    .observe = redis_observe,
    .describe = redis_describe,
    .families = redis_families,
};

#include "mysql_proto.h"

#include <string.h>

#include "db_sem.h"
#include "mysql_sem.h"
#include "mywire.h"
#include "pconn.h"
#include "registry.h"
#include "str.h"
#include "xspan.h"

/* Commands sent and not yet answered (clients send one at a time, but
 * MariaDB's connector may send a PREPARE and its EXECUTE together). */
#define MY_QUEUE 16
#define MY_STMTS 32 /* prepared statements remembered per connection */

/* capability flags (both sides' must have one for it to hold) */
#define CAP_CONNECT_WITH_DB    0x00000008u
#define CAP_COMPRESS	       0x00000020u
#define CAP_PROTOCOL_41	       0x00000200u
#define CAP_SSL		       0x00000800u
#define CAP_SECURE_CONNECTION  0x00008000u
#define CAP_PLUGIN_AUTH_LENENC 0x00200000u
#define CAP_DEPRECATE_EOF      0x01000000u
#define CAP_ZSTD	       0x04000000u

#define ST_MORE_RESULTS	 0x0008u
#define ST_CURSOR_EXISTS 0x0040u

enum my_phase { MY_GREETING, MY_HANDSHAKE, MY_AUTH, MY_READY };

/* Where the oldest command's answer is. */
enum my_answer {
	RS_FIRST,     /* its first packet (or the next result's) */
	RS_COLDEFS,   /* column definitions, left of them */
	RS_COLEOF,    /* the EOF after them */
	RS_ROWS,      /* rows, up to a terminator */
	RS_SKIP,      /* a PREPARE's definitions: left packets */
	RS_UNTIL_EOF, /* COM_FIELD_LIST's definitions */
};

struct my_op {
	struct tp_ctx ctx;
	uint8_t parent[8];
	uint16_t flags;
	uint8_t cmd;
	uint64_t host[2];
	uint64_t start_ns;
	char word[MY_WORD_MAX]; /* its name */
	char sql[MY_WORD_MAX];	/* a PREPARE's statement's keyword: its EXECUTEs' name */
	char db[MY_DB_MAX];	/* COM_INIT_DB's database, once it is OK */
};

struct my_state {
	struct myw_parser out, in;
	uint8_t phase, mariadb;
	uint32_t caps; /* the server's; after the client's answer, both sides' */
	struct my_op q[MY_QUEUE];
	unsigned head, len;
	/* the oldest command's answer so far */
	uint8_t rs;
	uint64_t left;
	uint32_t results;
	char err[8];
	struct {
		uint32_t id;
		char word[MY_WORD_MAX];
	} stmts[MY_STMTS];
	unsigned next_stmt;
	char db[MY_DB_MAX];
};

/* n bytes of src as a C string (cut to size, made valid UTF-8). */
static void copy_n(char *dst, size_t size, const char *src, size_t n)
{
	n = n < size - 1 ? n : size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
	str_utf8_fix(dst);
}

static int mysql_detect(enum proto_side side, enum proto_dir dir, const uint8_t *b, size_t n)
{
	return side == PROTO_CLIENT && dir == PROTO_IN && myw_is_greeting(b, n);
}

static int mysql_open(struct proto_conn *pc)
{
	struct my_state *s = pc->st;

	memset(s, 0, sizeof(*s));
	myw_init(&s->out);
	myw_init(&s->in);
	s->phase = MY_GREETING;
	return 0;
}

static const char *stmt_word(const struct my_state *s, uint32_t id)
{
	for (unsigned i = 0; i < MY_STMTS; i++)
		if (s->stmts[i].id == id && s->stmts[i].word[0])
			return s->stmts[i].word;
	return "_OTHER"; /* prepared before the connection was followed */
}

static void outcome_clear(struct my_state *s)
{
	s->rs = RS_FIRST;
	s->left = 0;
	s->results = 0;
	s->err[0] = 0;
}

/* The oldest command ends (how: SPAN_ERR_*). */
static void end_one(struct proto_conn *pc, struct my_state *s, uint16_t how, uint64_t ts)
{
	const struct my_op *o = &s->q[s->head % MY_QUEUE];
	struct exchange x;
	struct span_rec r;
	const char *op = o->word;
	int batch;

	if (!s->len)
		return;
	exchange_clear(&x);
	x.ctx = o->ctx;
	memcpy(x.parent, o->parent, sizeof(x.parent));
	x.flags = o->flags;
	memcpy(x.host, o->host, sizeof(x.host));
	x.start_ns = o->start_ns;
	s->head++;
	s->len--;
	/* several statements in one query (a procedure's results are one's) */
	batch = s->results > 1 && o->cmd == COM_QUERY && strcmp(o->word, "CALL");
	if (batch)
		op = "BATCH";
	spanrec_clear_attrs(&r);
	spanrec_put_str(&r, MY_A_OP, op, strlen(op) + 1);
	spanrec_put_str(&r, MY_A_DB, s->db, sizeof(s->db));
	if (s->err[0])
		spanrec_put_str(&r, MY_A_ERR, s->err, sizeof(s->err));
	if (batch)
		spanrec_put_int(&r, MY_A_BATCH, s->results);
	spanrec_put_int(&r, MY_A_SYSTEM, s->mariadb);
	pconn_emit(pc, &x, &r, how, ts);
	outcome_clear(s);
}

static void end_all(struct proto_conn *pc, struct my_state *s, uint16_t how, uint64_t ts)
{
	while (s->len)
		end_one(pc, s, how, ts);
}

static int give_up(struct proto_conn *pc, struct my_state *s, uint64_t ts)
{
	end_all(pc, s, SPAN_ERR_PROTOCOL, ts);
	pconn_count(pc, PROTO_COUNT_PARSE_ERROR);
	return -1;
}

/* ---- the client's packets ---- */

/* HandshakeResponse41: both sides' capabilities; the database, if named. */
static int on_handshake_response(struct my_state *s, const struct myw_pkt *k)
{
	uint32_t client = myw_u32(k, 0);
	size_t off = 32, end;
	uint64_t alen;

	if (!(client & CAP_PROTOCOL_41) || !(s->caps & CAP_PROTOCOL_41))
		return 1; /* before 4.1: not followed */
	s->caps &= client;
	if ((client & CAP_SSL) && k->len == 32)
		return 1; /* an SSLRequest: TLS follows, not readable here */
	if (s->caps & (CAP_COMPRESS | CAP_ZSTD))
		return 1; /* compressed packets from the next one on */
	s->phase = MY_AUTH;
	if (!(s->caps & CAP_CONNECT_WITH_DB))
		return 0;
	end = off;
	while (end < k->head_len && k->head[end]) /* the user name */
		end++;
	off = end + 1;
	if (s->caps & CAP_PLUGIN_AUTH_LENENC) {
		if (myw_lenenc(k, &off, &alen))
			return 0;
	} else if (s->caps & CAP_SECURE_CONNECTION) {
		if (off >= k->head_len)
			return 0;
		alen = k->head[off++];
	} else {
		for (alen = 0; off + alen < k->head_len && k->head[off + alen];)
			alen++;
		alen++;
	}
	if (alen > k->head_len)
		return 0; /* past the kept head */
	for (end = off + alen; end < k->head_len && k->head[end];)
		end++;
	if (off + alen < k->head_len && end < k->head_len) /* whole in the kept head */
		copy_n(s->db, sizeof(s->db), (const char *)k->head + off + alen, end - off - alen);
	return 0;
}

/* A command: an operation, begun now. 1: stop following. */
static int on_command(struct proto_conn *pc, struct my_state *s, const struct myw_pkt *k,
		      uint64_t ts)
{
	struct exchange x;
	struct my_op *o;
	uint8_t cmd = k->head_len ? k->head[0] : 0;

	switch (cmd) {
	case COM_QUIT:
	case COM_STMT_SEND_LONG_DATA:
		return 0; /* no answer */
	case COM_STMT_CLOSE:
		for (unsigned i = 0; i < MY_STMTS; i++)
			if (s->stmts[i].id == myw_u32(k, 1))
				s->stmts[i].word[0] = 0;
		return 0;
	case COM_CHANGE_USER:
	case COM_BINLOG_DUMP:
	case COM_BINLOG_DUMP_GTID:
	case COM_REGISTER_SLAVE:
		return 1; /* authentication again, or replication: not one answer each */
	default:
		break;
	}
	if (s->len == MY_QUEUE)
		return -1;
	o = &s->q[(s->head + s->len++) % MY_QUEUE];
	exchange_clear(&x);
	pc->host->client_begin(pc, &x, 0);
	o->ctx = x.ctx;
	memcpy(o->parent, x.parent, sizeof(o->parent));
	o->flags = x.flags;
	memcpy(o->host, x.host, sizeof(o->host));
	o->start_ns = ts;
	o->cmd = cmd;
	o->db[0] = 0;
	if (cmd == COM_STMT_PREPARE) {
		my_sql_word(k->head + 1, k->head_len - 1, o->sql);
		str_copy(o->word, sizeof(o->word), "PREPARE");
	} else if (cmd == COM_QUERY)
		my_sql_word(k->head + 1, k->head_len - 1, o->word);
	else if (cmd == COM_STMT_EXECUTE)
		str_copy(o->word, sizeof(o->word), stmt_word(s, myw_u32(k, 1)));
	else
		str_copy(o->word, sizeof(o->word), my_cmd_word(cmd));
	if (cmd == COM_INIT_DB)
		copy_n(o->db, sizeof(o->db), (const char *)k->head + 1,
		       k->len - 1 < k->head_len - 1u ? k->len - 1 : k->head_len - 1u);
	return 0;
}

static int on_client(struct proto_conn *pc, struct my_state *s, const struct myw_pkt *k,
		     uint64_t ts)
{
	if (k->cont)
		return 0;
	if (s->phase == MY_HANDSHAKE)
		return on_handshake_response(s, k);
	if (s->phase == MY_READY && k->seq == 0)
		return on_command(pc, s, k, ts);
	return 0; /* auth data, a LOAD DATA file's packets */
}

/* ---- the server's packets ---- */

/* HandshakeV10: its capabilities, and whether it is MariaDB. 1: stop. */
static int on_greeting(struct my_state *s, const struct myw_pkt *k)
{
	size_t v = 1;

	if (!k->head_len || k->head[0] != 10)
		return 1; /* an ERR instead (refused), or another protocol version */
	while (v < k->head_len && k->head[v])
		v++;
	s->mariadb = memmem(k->head + 1, v - 1, "MariaDB", 7) != NULL;
	/* version, NUL, thread id (4), auth data (8), filler (1) */
	s->caps = myw_u16(k, v + 14) | myw_u16(k, v + 19) << 16;
	s->phase = MY_HANDSHAKE;
	return 0;
}

/* An OK packet's status flags (an EOF-marking one's too). */
static uint32_t ok_status(const struct my_state *s, const struct myw_pkt *k)
{
	size_t off = 1;
	uint64_t v;

	if (myw_lenenc(k, &off, &v) || myw_lenenc(k, &off, &v) || !(s->caps & CAP_PROTOCOL_41))
		return 0;
	return myw_u16(k, off);
}

/* The end of a result set, or an OK: more results to come, or the end. */
static void result_end(struct proto_conn *pc, struct my_state *s, uint32_t status, uint64_t ts)
{
	s->results++;
	s->rs = RS_FIRST;
	if (!(status & ST_MORE_RESULTS))
		end_one(pc, s, SPAN_ERR_NONE, ts);
}

static void err_code(struct my_state *s, const struct myw_pkt *k)
{
	uint32_t code = myw_u16(k, 1);

	if (code)
		str_u64(s->err, code);
	else
		str_copy(s->err, sizeof(s->err), "_OTHER");
}

/* A terminator: an EOF packet, or with CLIENT_DEPRECATE_EOF an OK packet
 * with the EOF header (a row starting 0xfe is 16 MB or more: its packet is
 * full length). */
static int is_eof(const struct myw_pkt *k)
{
	return k->head_len && k->head[0] == 0xfe && k->len < MYW_LEN_MAX;
}

static int eof_status(const struct my_state *s, const struct myw_pkt *k)
{
	return (int)((s->caps & CAP_DEPRECATE_EOF) ? ok_status(s, k) : myw_u16(k, 3));
}

/* The first packet of the oldest command's answer (or of its next
 * result). -1: not this protocol. */
static int answer_first(struct proto_conn *pc, struct my_state *s, const struct myw_pkt *k,
			uint64_t ts)
{
	struct my_op *o = &s->q[s->head % MY_QUEUE];
	size_t off = 0;
	uint64_t n;

	switch (k->head[0]) {
	case 0x00:
		if (o->cmd == COM_STMT_PREPARE) {
			uint32_t cols = myw_u16(k, 5), params = myw_u16(k, 7);
			int eofs = !(s->caps & CAP_DEPRECATE_EOF);

			str_copy(s->stmts[s->next_stmt % MY_STMTS].word, MY_WORD_MAX, o->sql);
			s->stmts[s->next_stmt++ % MY_STMTS].id = myw_u32(k, 1);
			s->left = params + cols + (params && eofs) + (cols && eofs);
			s->rs = RS_SKIP;
			if (!s->left)
				result_end(pc, s, 0, ts);
			return 0;
		}
		if (o->cmd == COM_INIT_DB)
			str_copy(s->db, sizeof(s->db), o->db);
		else if (o->cmd == COM_QUERY && !strcmp(o->word, "USE"))
			s->db[0] = 0; /* which one is not kept: not known */
		result_end(pc, s, ok_status(s, k), ts);
		return 0;
	case 0xff:
		err_code(s, k);
		end_one(pc, s, SPAN_ERR_NONE, ts);
		return 0;
	case 0xfb:
		/* LOCAL INFILE: the client sends the file, then the answer */
		return o->cmd == COM_QUERY ? 0 : -1;
	case 0xfe:
		if (k->len >= MYW_LEN_MAX)
			break;
		/* COM_SET_OPTION's EOF; a FETCH with no rows left */
		result_end(pc, s, (uint32_t)eof_status(s, k), ts);
		return 0;
	default:
		break;
	}
	switch (o->cmd) {
	case COM_QUERY:
	case COM_STMT_EXECUTE: /* a result set: its column count first */
		if (myw_lenenc(k, &off, &n) || !n)
			return -1;
		s->left = n;
		s->rs = RS_COLDEFS;
		return 0;
	case COM_STATISTICS:
		end_one(pc, s, SPAN_ERR_NONE, ts);
		return 0;
	case COM_FIELD_LIST:
		s->rs = RS_UNTIL_EOF;
		return 0;
	case COM_STMT_FETCH:
		s->rs = RS_ROWS;
		return 0;
	default:
		return -1;
	}
}

/* A packet of the server's in the command phase. -1: not this protocol. */
static int on_answer(struct proto_conn *pc, struct my_state *s, const struct myw_pkt *k,
		     uint64_t ts)
{
	if (!s->len)
		/* an ERR to nothing: the server says why it closes (a timeout) */
		return k->head_len && k->head[0] == 0xff ? 0 : -1;
	if (!k->head_len)
		return s->rs == RS_ROWS || s->rs == RS_UNTIL_EOF || s->rs == RS_SKIP ? 0 : -1;
	switch (s->rs) {
	case RS_FIRST:
		return answer_first(pc, s, k, ts);
	case RS_COLDEFS:
		if (!--s->left)
			s->rs = (s->caps & CAP_DEPRECATE_EOF) ? RS_ROWS : RS_COLEOF;
		return 0;
	case RS_COLEOF:
		if (!is_eof(k))
			return -1;
		if (eof_status(s, k) & ST_CURSOR_EXISTS)
			end_one(pc, s, SPAN_ERR_NONE, ts); /* its rows come by COM_STMT_FETCH */
		else
			s->rs = RS_ROWS;
		return 0;
	case RS_ROWS:
	case RS_UNTIL_EOF:
		if (is_eof(k) && s->rs == RS_ROWS)
			result_end(pc, s, (uint32_t)eof_status(s, k), ts);
		else if (is_eof(k))
			end_one(pc, s, SPAN_ERR_NONE, ts);
		else if (k->head[0] == 0xff && k->len < MYW_LEN_MAX) {
			err_code(s, k); /* failed midway */
			end_one(pc, s, SPAN_ERR_NONE, ts);
		}
		return 0;
	case RS_SKIP:
		if (!--s->left)
			result_end(pc, s, 0, ts);
		return 0;
	default:
		return -1;
	}
}

/* 1: stop following; -1: not this protocol. */
static int on_server(struct proto_conn *pc, struct my_state *s, const struct myw_pkt *k,
		     uint64_t ts)
{
	if (k->cont)
		return 0; /* more of a long packet's payload */
	switch (s->phase) {
	case MY_GREETING:
		return on_greeting(s, k);
	case MY_HANDSHAKE:
		return -1; /* the client answers the greeting first */
	case MY_AUTH:
		if (k->head_len && k->head[0] == 0x00) {
			s->phase = MY_READY;
			return 0;
		}
		/* an auth switch or more auth data goes on; an ERR ends it */
		return k->head_len && k->head[0] == 0xff;
	default:
		return on_answer(pc, s, k, ts);
	}
}

/* A whole packet, to its side's reader: 0 to go on, -1 to stop following
 * (a protocol error counted, or the connection leaves this protocol). */
static int on_packet(struct proto_conn *pc, struct my_state *s, enum proto_dir dir,
		     const struct myw_pkt *k, uint64_t ts)
{
	int r = dir == PROTO_OUT ? on_client(pc, s, k, ts) : on_server(pc, s, k, ts);

	if (r < 0)
		return give_up(pc, s, ts);
	if (r)
		end_all(pc, s, SPAN_ERR_NONE, ts);
	return r ? -1 : 0;
}

static int mysql_feed(struct proto_conn *pc, enum proto_dir dir, const uint8_t *b, size_t n,
		      uint64_t ts)
{
	struct my_state *s = pc->st;
	struct myw_parser *p = dir == PROTO_OUT ? &s->out : &s->in;

	while (n) {
		struct myw_pkt k;
		int done;
		size_t used = myw_parse(p, b, n, &k, &done);

		b += used;
		n -= used;
		if (done && on_packet(pc, s, dir, &k, ts))
			return -1;
	}
	return 0;
}

static int mysql_skip(struct proto_conn *pc, enum proto_dir dir, uint64_t n, uint64_t ts)
{
	struct my_state *s = pc->st;
	struct myw_pkt k;
	int done;

	if (myw_skip(dir == PROTO_OUT ? &s->out : &s->in, n, &k, &done))
		return give_up(pc, s, ts); /* a packet header went unseen */
	return done ? on_packet(pc, s, dir, &k, ts) : 0;
}

static void mysql_eof(struct proto_conn *pc, uint64_t ts)
{
	end_all(pc, pc->st, SPAN_ERR_CLOSED, ts);
}

const struct proto_handler mysql_handler = {
    .name = "mysql",
    .id = PROTO_MYSQL,
    .state_size = sizeof(struct my_state),
    .detect = mysql_detect,
    .open = mysql_open,
    .feed = mysql_feed,
    .skip = mysql_skip,
    .sent = pconn_sent_feed,
    .eof = mysql_eof,
    .observe = mysql_observe,
    .describe = mysql_describe,
    .families = my_families,
};

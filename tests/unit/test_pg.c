/*
 * test_pg - PostgreSQL's protocol read as a stream (pgwire.c) and client
 * spans (pg_proto.c) driven through pconn with the test host: startup and
 * TLS negotiation, simple and extended queries, pipelines deeper than the
 * queue, errors, multi-statement batches, any split of the bytes, and
 * bytes that are not this protocol.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "pg_proto.h"
#include "pgwire.h"
#include "proto_testconn.h"

struct buf {
	uint8_t b[32768];
	size_t n;
};

/* A message: type 0 has no type byte (startup phase). */
static void put(struct buf *o, char type, const void *payload, size_t len)
{
	uint32_t l = htonl((uint32_t)len + 4);

	if (type)
		o->b[o->n++] = (uint8_t)type;
	memcpy(o->b + o->n, &l, 4);
	memcpy(o->b + o->n + 4, payload, len);
	o->n += 4 + len;
}

/* A message whose payload is one string and its NUL. */
static void put_s(struct buf *o, char type, const char *s)
{
	put(o, type, s, strlen(s) + 1);
}

#define S(lit) lit, sizeof(lit) - 1

static void startup(struct buf *o, const char *params, size_t plen)
{
	uint8_t p[256];
	uint32_t code = htonl(PGW_PROTO_3);

	memcpy(p, &code, 4);
	memcpy(p + 4, params, plen);
	put(o, 0, p, plen + 4);
}

static void ready(struct buf *o)
{
	put(o, 'Z', "I", 1);
}

/* What a server says from authentication to its first ReadyForQuery. */
static void welcome(struct buf *o)
{
	static const uint8_t ok[4] = {0, 0, 0, 0}, key[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	put(o, 'R', ok, 4);
	put(o, 'S', S("server_version\00015.18\0"));
	put(o, 'K', key, 8);
	ready(o);
}

/* ErrorResponse with this SQLSTATE. */
static void error(struct buf *o, const char *state)
{
	char p[128];
	int n = snprintf(p, sizeof(p), "SERROR%cVERROR%cC%s%cMrelation does not exist%c", 0, 0,
			 state, 0, 0);

	p[n] = 0; /* the list's end */
	put(o, 'E', p, (size_t)n + 1);
}

/* Messages in b read in pieces of `step` bytes (0: whole) into out; -1
 * if the parser said it is not this protocol. */
static int parse_all(enum pgw_side side, const uint8_t *b, size_t n, size_t step,
		     struct pgw_msg *out, int max, int expect_answer)
{
	struct pgw_parser p;
	int got = 0;

	pgw_init(&p, side);
	if (expect_answer)
		pgw_expect_answer(&p);
	for (size_t off = 0; off < n;) {
		size_t piece = step && n - off > step ? step : n - off, at = 0;

		while (at < piece) {
			int done;
			long k = pgw_parse(&p, b + off + at, piece - at,
					   got < max ? &out[got] : &out[max - 1], &done);
			if (k < 0)
				return -1;
			assert_true(k > 0 || done);
			at += (size_t)k;
			got += done;
		}
		off += piece;
	}
	return pgw_idle(&p) ? got : -2 - got;
}

static void pgw_frontend(void **state)
{
	struct buf o = {0};
	struct pgw_msg m[8];
	uint32_t ssl = htonl(PGW_SSL_REQUEST);
	char s[64];
	size_t off = 0;

	(void)state;
	put(&o, 0, &ssl, 4);
	startup(&o, S("user\0alice\0database\0shop\0\0"));
	put_s(&o, 'Q', "select 1");
	put(&o, 'S', "", 0);
	put(&o, 'X', "", 0);
	for (size_t step = 0; step < 9; step++) {
		memset(m, 0, sizeof(m));
		assert_int_equal(parse_all(PGW_FRONTEND, o.b, o.n, step, m, 8, 0), 5);
		assert_int_equal(m[0].type, 0);
		assert_int_equal(m[0].code, PGW_SSL_REQUEST);
		assert_int_equal(m[1].code, PGW_PROTO_3);
		assert_int_equal(m[2].type, 'Q');
		assert_int_equal(m[2].len, 9);
		assert_memory_equal(m[2].head, "select 1", 9);
		assert_int_equal(m[3].type, 'S');
		assert_int_equal(m[3].len, 0);
		assert_int_equal(m[4].type, 'X');
	}
	assert_int_equal(pgw_cstr(&m[1], &off, s, sizeof(s)), 0);
	assert_string_equal(s, "user");
	assert_int_equal(pgw_cstr(&m[1], &off, s, 3), 0); /* cut */
	assert_string_equal(s, "al");
	assert_int_equal(pgw_cstr(&m[1], &off, s, sizeof(s)), 0);
	assert_string_equal(s, "database");
}

static void pgw_backend(void **state)
{
	struct buf o = {0};
	struct pgw_msg m[16];
	char big[1000], st[8];

	(void)state;
	memset(big, 'x', sizeof(big));
	o.b[o.n++] = 'N'; /* no TLS */
	welcome(&o);
	put(&o, 'T', S("\0\0"));
	put(&o, 'D', big, sizeof(big)); /* longer than the kept head */
	put_s(&o, 'C', "SELECT 1");
	error(&o, "42P01");
	ready(&o);
	for (size_t step = 0; step < 7; step++) {
		memset(m, 0, sizeof(m));
		assert_int_equal(parse_all(PGW_BACKEND, o.b, o.n, step, m, 16, 1), 10);
		assert_int_equal(m[0].type, 0);
		assert_int_equal(m[0].code, 'N');
		assert_int_equal(m[4].type, 'Z');
		assert_int_equal(m[6].type, 'D');
		assert_int_equal(m[6].len, sizeof(big));
		assert_int_equal(m[6].head_len, PGW_HEAD_MAX);
		assert_int_equal(m[7].type, 'C');
		assert_int_equal(m[8].type, 'E');
		assert_int_equal(pgw_error_field(&m[8], 'C', st, sizeof(st)), 0);
		assert_string_equal(st, "42P01");
		assert_int_equal(pgw_error_field(&m[8], 'X', st, sizeof(st)), -1);
		assert_int_equal(m[9].type, 'Z');
	}
}

static void pgw_not_pg(void **state)
{
	static const uint8_t bad_backend[][6] = {
	    {'G', 'E', 'T', ' ', '/', ' '}, /* no such type ('G' needs a length) */
	    {'Z', 0, 0, 0, 3, 'I'},	    /* a length under 4 */
	    {'D', 0x7f, 0, 0, 0, 0},	    /* over 1 GB */
	    {'q', 0, 0, 0, 4, 0},	    /* a frontend type */
	};
	static const uint8_t bad_front[][8] = {
	    {0, 0, 0, 8, 0, 2, 0, 0},		  /* protocol 2 */
	    {0, 0, 0x30, 0, 0, 3, 0, 0},	  /* a startup packet over 10000 bytes */
	    {0, 0, 0, 7, 0x04, 0xd2, 0x16, 0x2f}, /* shorter than its header */
	};
	struct pgw_parser p;
	struct pgw_msg m;
	int done;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_backend) / sizeof(bad_backend[0]); i++) {
		pgw_init(&p, PGW_BACKEND);
		assert_int_equal(pgw_parse(&p, bad_backend[i], 6, &m, &done), -1);
		assert_int_equal(pgw_parse(&p, (const uint8_t *)"Z\0\0\0\5I", 6, &m, &done), -1);
	}
	for (size_t i = 0; i < sizeof(bad_front) / sizeof(bad_front[0]); i++) {
		pgw_init(&p, PGW_FRONTEND);
		assert_int_equal(pgw_parse(&p, bad_front[i], 8, &m, &done), -1);
	}
}

static void pgw_skips(void **state)
{
	struct buf o = {0};
	struct pgw_parser p;
	struct pgw_msg m;
	char big[1000];
	int done;

	(void)state;
	memset(big, 'y', sizeof(big));
	put(&o, 'd', big, sizeof(big));
	pgw_init(&p, PGW_BACKEND);
	assert_int_equal(pgw_skip(&p, 10, &m, &done), -1); /* between messages */
	assert_int_equal(pgw_parse(&p, o.b, 5 + 100, &m, &done), 105);
	assert_int_equal(pgw_skip(&p, 10, &m, &done), -1); /* the kept head has a hole */
	assert_int_equal(pgw_parse(&p, o.b + 105, 100, &m, &done), 100);
	assert_int_equal(pgw_skip(&p, 2000, &m, &done), -1); /* past its end */
	assert_int_equal(pgw_skip(&p, 500, &m, &done), 0);
	assert_int_equal(done, 0);
	assert_int_equal(pgw_skip(&p, 300, &m, &done), 0);
	assert_int_equal(done, 1);
	assert_int_equal(m.type, 'd');
	assert_true(pgw_idle(&p));
}

/* ---- spans ---- */

static struct proto_conn *client(void)
{
	return tc_client(5432);
}

#define done_with(pc)		 tc_done(pc)
#define app_sends(pc, o)	 tc_sends(pc, (o)->b, (o)->n)
#define server_says(pc, o, step) tc_says(pc, (o)->b, (o)->n, step)

/* A connection opened to database shop. */
static struct proto_conn *opened(size_t step)
{
	struct proto_conn *pc = client();
	struct buf o = {0}, i = {0};

	startup(&o, S("user\0alice\0database\0shop\0application_name\0psql\0\0"));
	app_sends(pc, &o);
	assert_ptr_equal(pc->h, &pg_handler);
	welcome(&i);
	server_says(pc, &i, step);
	assert_int_equal(th.nrec, 0);
	return pc;
}

static void pg_simple_and_extended(void **state)
{
	(void)state;
	for (size_t step = 0; step < 4; step++) {
		struct proto_conn *pc = opened(step);
		struct buf o = {0}, i = {0};
		const struct span_rec *r;

		/* a simple query; one that fails; the extended protocol */
		put_s(&o, 'Q', "select 1");
		put_s(&o, 'Q', "select * from nosuch");
		put(&o, 'P', S("\0insert into t values ($1)\0\0\0"));
		put(&o, 'B', S("\0\0\0\0\0\0\0\0"));
		put(&o, 'D', S("P\0"));
		put(&o, 'E', S("\0\0\0\0\0"));
		put(&o, 'S', "", 0);
		app_sends(pc, &o);
		put(&i, 'T', S("\0\0"));
		put(&i, 'D',
		    S("\0\1\0\0\0\1"
		      "1"));
		put_s(&i, 'C', "SELECT 1");
		ready(&i);
		error(&i, "42P01");
		ready(&i);
		put(&i, '1', "", 0);
		put(&i, '2', "", 0);
		put(&i, 'n', "", 0);
		put_s(&i, 'C', "INSERT 0 1");
		ready(&i);
		server_says(pc, &i, step * 3);
		assert_int_equal(th.nrec, 3);
		r = &th.recs[0];
		assert_int_equal(r->kind, SPAN_CLIENT);
		assert_int_equal(r->proto, PROTO_PG);
		assert_string_equal(spanrec_str(r, PG_A_OP), "SELECT");
		assert_string_equal(spanrec_str(r, PG_A_DB), "shop");
		assert_string_equal(spanrec_str(r, PG_A_ERR), "");
		assert_true(r->trace_flags & TP_FLAG_SAMPLED);
		assert_true(r->end_ns > r->start_ns);
		assert_string_equal(r->peer, "127.0.0.1");
		assert_int_equal(r->peer_port, 5432);
		r = &th.recs[1];
		assert_string_equal(spanrec_str(r, PG_A_OP), ""); /* never read from the SQL */
		assert_string_equal(spanrec_str(r, PG_A_ERR), "42P01");
		r = &th.recs[2];
		assert_string_equal(spanrec_str(r, PG_A_OP), "INSERT");
		assert_int_equal(spanrec_int(r, PG_A_BATCH, 0), 0);
		/* the three began in order, and each ended at its own answer */
		assert_true(th.recs[0].start_ns <= th.recs[1].start_ns);
		if (step) /* (fed whole, they share one timestamp) */
			assert_true(th.recs[1].end_ns < th.recs[2].end_ns);
		done_with(pc);
	}
}

static void pg_batches(void **state)
{
	struct proto_conn *pc = opened(0);
	struct buf o = {0}, i = {0};

	(void)state;
	/* several statements in one query; a pipeline's three Executes before
	 * one Sync; a Sync alone; an empty query */
	put_s(&o, 'Q', "insert into t values (1); insert into t values (2)");
	for (int k = 0; k < 3; k++) {
		put(&o, 'B', S("\0\0\0\0\0\0\0\0"));
		put(&o, 'E', S("\0\0\0\0\0"));
	}
	put(&o, 'S', "", 0);
	put(&o, 'S', "", 0);
	put_s(&o, 'Q', "");
	app_sends(pc, &o);
	put_s(&i, 'C', "INSERT 0 1");
	put_s(&i, 'C', "INSERT 0 1");
	ready(&i);
	put(&i, '2', "", 0);
	put_s(&i, 'C', "SELECT 1");
	put(&i, '2', "", 0);
	put_s(&i, 'C', "UPDATE 1");
	put(&i, '2', "", 0);
	put(&i, 's', "", 0);
	ready(&i);
	ready(&i);
	put(&i, 'I', "", 0);
	ready(&i);
	server_says(pc, &i, 0);
	assert_int_equal(th.nrec, 2);
	assert_string_equal(spanrec_str(&th.recs[0], PG_A_OP), "BATCH INSERT");
	assert_int_equal(spanrec_int(&th.recs[0], PG_A_BATCH, 0), 2);
	assert_string_equal(spanrec_str(&th.recs[1], PG_A_OP), "BATCH");
	assert_int_equal(spanrec_int(&th.recs[1], PG_A_BATCH, 0), 3);
	/* a function call: an operation with no command tag */
	o.n = i.n = 0;
	put(&o, 'F', S("\0\0\4\0\0\0\0\0\0"));
	app_sends(pc, &o);
	put(&i, 'V',
	    S("\0\0\0\1"
	      "t"));
	ready(&i);
	server_says(pc, &i, 0);
	assert_int_equal(th.nrec, 3);
	assert_string_equal(spanrec_str(&th.recs[2], PG_A_OP), "");
	/* left waiting at the close: ended closed */
	o.n = 0;
	put_s(&o, 'Q', "select pg_sleep(10)");
	app_sends(pc, &o);
	pconn_eof(pc, th_now());
	assert_int_equal(th.nrec, 4);
	assert_int_equal(th.recs[3].error, SPAN_ERR_CLOSED);
	assert_int_equal(th.counts[PROTO_COUNT_PARSE_ERROR], 0);
	done_with(pc);
}

static void pg_deep_pipeline(void **state)
{
	struct proto_conn *pc = opened(0);
	static struct buf o, i;
	int spans = 0, points = 0;

	(void)state;
	/* 150 operations before any answer: 64 with spans, the rest points */
	o.n = i.n = 0;
	for (int k = 0; k < 150; k++) {
		put(&o, 'B', S("\0\0\0\0\0\0\0\0"));
		put(&o, 'E', S("\0\0\0\0\0"));
		put(&o, 'S', "", 0);
		put_s(&i, 'C', k % 2 ? "SELECT 1" : "UPDATE 1");
		ready(&i);
	}
	app_sends(pc, &o);
	for (size_t off = 0; off < i.n; off += 200) {
		th.nrec = 0;
		pconn_feed(pc, PROTO_IN, i.b + off, i.n - off < 200 ? i.n - off : 200, th_now());
		for (int k = 0; k < th.nrec; k++) {
			*(th.recs[k].trace_flags & TP_FLAG_SAMPLED ? &spans : &points) += 1;
			assert_string_equal(spanrec_str(&th.recs[k], PG_A_OP),
					    (spans + points) % 2 ? "UPDATE" : "SELECT");
		}
	}
	assert_int_equal(spans, 64);
	assert_int_equal(points, 150 - 64);
	done_with(pc);
}

static void pg_tls_and_bad_answers(void **state)
{
	struct proto_conn *pc = client();
	struct buf o = {0}, i = {0};
	uint32_t ssl = htonl(PGW_SSL_REQUEST);

	(void)state;
	/* TLS refused: a StartupMessage follows, followed as before */
	put(&o, 0, &ssl, 4);
	app_sends(pc, &o);
	assert_ptr_equal(pc->h, &pg_handler);
	i.b[i.n++] = 'N';
	server_says(pc, &i, 0);
	o.n = i.n = 0;
	startup(&o, S("user\0bob\0\0"));
	put_s(&o, 'Q', "commit");
	app_sends(pc, &o);
	welcome(&i);
	put_s(&i, 'C', "COMMIT");
	ready(&i);
	server_says(pc, &i, 0);
	assert_int_equal(th.nrec, 1);
	assert_string_equal(spanrec_str(&th.recs[0], PG_A_DB), "bob"); /* the user's */
	/* an answer to nothing: following stops, counted */
	i.n = 0;
	ready(&i);
	server_says(pc, &i, 0);
	assert_int_equal(th.counts[PROTO_COUNT_PARSE_ERROR], 1);
	done_with(pc);

	/* TLS taken: the raw bytes are ciphertext from here, not followed */
	pc = client();
	o.n = i.n = 0;
	put(&o, 0, &ssl, 4);
	app_sends(pc, &o);
	i.b[i.n++] = 'S';
	i.b[i.n++] = 0x16; /* a TLS record */
	server_says(pc, &i, 0);
	assert_int_equal(th.counts[PROTO_COUNT_PARSE_ERROR], 0);
	assert_int_equal(th.nrec, 0);
	done_with(pc);
}

static void pg_describe_observe(void **state)
{
	struct proto_conn *pc = opened(0);
	struct buf o = {0}, i = {0};
	struct proto_obs obs;

	(void)state;
	put_s(&o, 'Q', "select * from nosuch");
	app_sends(pc, &o);
	error(&i, "42P01");
	ready(&i);
	server_says(pc, &i, 0);
	assert_int_equal(th.nrec, 1);
	pg_handler.observe(&th.recs[0], NULL, &obs);
	assert_ptr_equal(obs.family, proto_family_by_id(FAMILY_DB_CLIENT));
	assert_string_equal(obs.labels[0], "postgresql");
	assert_string_equal(obs.labels[1], "");
	assert_string_equal(obs.labels[2], "127.0.0.1");
	assert_string_equal(obs.labels[3], "5432");
	assert_string_equal(obs.labels[4], "42P01");
	done_with(pc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pgw_frontend),
	    cmocka_unit_test(pgw_backend),
	    cmocka_unit_test(pgw_not_pg),
	    cmocka_unit_test(pgw_skips),
	    cmocka_unit_test(pg_simple_and_extended),
	    cmocka_unit_test(pg_batches),
	    cmocka_unit_test(pg_deep_pipeline),
	    cmocka_unit_test(pg_tls_and_bad_answers),
	    cmocka_unit_test(pg_describe_observe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

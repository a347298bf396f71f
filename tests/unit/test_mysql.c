/*
 * test_mysql - the MySQL/MariaDB protocol's packets read as a stream
 * (mywire.c) and client spans (mysql_proto.c) driven through pconn with the
 * test host: the greeting and handshake, queries with OK, ERR and result
 * sets (with EOF packets and with CLIENT_DEPRECATE_EOF), several results
 * of one query, prepared statements named by their PREPARE, COM_INIT_DB,
 * LOCAL INFILE, 16 MB packets, any split of the bytes, TLS and compression
 * (not followed), and answers that are not this protocol.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "mysql_proto.h"
#include "mywire.h"
#include "proto_testconn.h"

struct buf {
	uint8_t b[65536];
	size_t n;
	uint8_t seq;
};

#define S(lit) lit, sizeof(lit) - 1

#define CAPS_41	      0x000fa68du /* PROTOCOL_41, SECURE_CONNECTION, CONNECT_WITH_DB, ... */
#define DEPRECATE_EOF 0x01000000u

/* A packet of the next sequence number. */
static void pkt(struct buf *o, const void *payload, size_t len)
{
	o->b[o->n] = (uint8_t)len;
	o->b[o->n + 1] = (uint8_t)(len >> 8);
	o->b[o->n + 2] = (uint8_t)(len >> 16);
	o->b[o->n + 3] = o->seq++;
	memcpy(o->b + o->n + 4, payload, len);
	o->n += 4 + len;
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void greeting(struct buf *o, const char *version, uint32_t caps)
{
	uint8_t p[128];
	size_t n = 0, vl = strlen(version) + 1;

	p[n++] = 10;
	memcpy(p + n, version, vl);
	n += vl;
	memset(p + n, 7, 4 + 8 + 1); /* thread id, auth data, filler */
	n += 13;
	p[n++] = (uint8_t)caps;
	p[n++] = (uint8_t)(caps >> 8);
	p[n++] = 8;		/* charset */
	p[n++] = 2, p[n++] = 0; /* status */
	p[n++] = (uint8_t)(caps >> 16);
	p[n++] = (uint8_t)(caps >> 24);
	p[n++] = 21; /* auth data length */
	memset(p + n, 0, 10);
	n += 10;
	memcpy(p + n, "abcdefghijkl\0mysql_native_password\0", 35);
	pkt(o, p, n + 35);
}

/* HandshakeResponse41: user alice, a 20-byte auth answer, database db. */
static void response(struct buf *o, uint32_t caps, const char *db)
{
	uint8_t p[160];
	size_t n = 32;

	memset(p, 0, sizeof(p));
	le32(p, caps);
	le32(p + 4, 1 << 24);
	p[8] = 33;
	memcpy(p + n, "alice", 6);
	n += 6;
	p[n++] = 20;
	memset(p + n, 0x5a, 20);
	n += 20;
	memcpy(p + n, db, strlen(db) + 1);
	n += strlen(db) + 1;
	memcpy(p + n, "mysql_native_password", 22);
	pkt(o, p, n + 22);
}

static void ok(struct buf *o, uint16_t status)
{
	uint8_t p[7] = {0, 0, 0, (uint8_t)status, (uint8_t)(status >> 8), 0, 0};

	pkt(o, p, sizeof(p));
}

static void eof(struct buf *o, uint16_t status, int deprecate)
{
	uint8_t e[5] = {0xfe, 0, 0, (uint8_t)status, (uint8_t)(status >> 8)};
	uint8_t k[7] = {0xfe, 0, 0, (uint8_t)status, (uint8_t)(status >> 8), 0, 0};

	if (deprecate)
		pkt(o, k, sizeof(k));
	else
		pkt(o, e, sizeof(e));
}

static void err(struct buf *o, uint16_t code)
{
	uint8_t p[64] = {0xff, (uint8_t)code, (uint8_t)(code >> 8)};

	memcpy(p + 3, "#42S02Table 'shop.nosuch' doesn't exist", 39);
	pkt(o, p, 42);
}

/* A result set of cols columns and rows rows (each row one 5-byte text). */
static void resultset(struct buf *o, int cols, int rows, uint16_t status, int deprecate)
{
	uint8_t c = (uint8_t)cols;

	pkt(o, &c, 1);
	for (int i = 0; i < cols; i++)
		pkt(o, S("\3def\4shop\5items\5items\1v\1v\14\41\0\0\0\0\375\0\0\0\0\0"));
	if (!deprecate)
		eof(o, 0, 0);
	for (int i = 0; i < rows; i++)
		pkt(o, S("\5value"));
	eof(o, status, deprecate);
}

/* A command: sequence 0. */
static void command(struct buf *o, uint8_t cmd, const char *arg, size_t len)
{
	uint8_t p[512];

	p[0] = cmd;
	memcpy(p + 1, arg, len);
	o->seq = 0;
	pkt(o, p, len + 1);
}

static void query(struct buf *o, const char *sql)
{
	command(o, 0x03, sql, strlen(sql));
}

/* ---- the stream ---- */

static int parse_all(const uint8_t *b, size_t n, size_t step, struct myw_pkt *out, int max)
{
	struct myw_parser p;
	int got = 0;

	myw_init(&p);
	for (size_t off = 0; off < n;) {
		size_t piece = step && n - off > step ? step : n - off, at = 0;

		while (at < piece) {
			int done;
			size_t k = myw_parse(&p, b + off + at, piece - at,
					     got < max ? &out[got] : &out[max - 1], &done);
			assert_true(k > 0);
			at += k;
			got += done;
		}
		off += piece;
	}
	return myw_idle(&p) ? got : -1;
}

static void myw_packets(void **state)
{
	struct buf o = {0};
	struct myw_pkt k[8];
	size_t off;
	uint64_t v;

	(void)state;
	greeting(&o, "10.11.19-MariaDB", CAPS_41);
	pkt(&o, "", 0);
	pkt(&o, S("\374\0\1\375\1\2\3\376\1\2\3\4\5\6\7\10\373"));
	assert_true(myw_is_greeting(o.b, o.n));
	assert_false(myw_is_greeting((const uint8_t *)"GET / HTTP/1.1\r\n", 16));
	for (size_t step = 0; step < 9; step++) {
		assert_int_equal(parse_all(o.b, o.n, step, k, 8), 3);
		assert_int_equal(k[0].seq, 0);
		assert_int_equal(k[0].head[0], 10);
		assert_int_equal(k[1].len, 0);
		assert_int_equal(k[2].seq, 2);
	}
	off = 0;
	assert_int_equal(myw_lenenc(&k[2], &off, &v), 0);
	assert_int_equal(v, 256);
	assert_int_equal(myw_lenenc(&k[2], &off, &v), 0);
	assert_int_equal(v, 0x030201);
	assert_int_equal(myw_lenenc(&k[2], &off, &v), 0);
	assert_int_equal(v, 0x0807060504030201ULL);
	assert_int_equal(myw_lenenc(&k[2], &off, &v), -1); /* NULL */
	assert_int_equal(myw_u16(&k[2], 1000), 0);	   /* past the head */
}

static void myw_long_packets(void **state)
{
	static uint8_t b[2 * (4 + MYW_LEN_MAX) + 10];
	struct myw_parser p;
	struct myw_pkt k;
	size_t at = 0;
	int done, n = 0;

	(void)state;
	/* a 16 MB payload goes on in the next packet: a continuation */
	b[0] = b[1] = b[2] = 0xff;
	b[3] = 1;
	memset(b + 4, 0xfe, MYW_LEN_MAX);
	at = 4 + MYW_LEN_MAX;
	b[at] = 3, b[at + 3] = 2, b[at + 4] = 0xfe;
	at += 7;
	myw_init(&p);
	for (size_t off = 0; off < at;) {
		off += myw_parse(&p, b + off, at - off, &k, &done);
		if (done && n++ == 0) {
			assert_int_equal(k.len, MYW_LEN_MAX);
			assert_false(k.cont);
		}
	}
	assert_int_equal(n, 2);
	assert_true(k.cont);
	/* skipping: only inside a payload past its kept head */
	myw_init(&p);
	assert_int_equal(myw_skip(&p, 10, &k, &done), -1);
	assert_int_equal(myw_parse(&p, b, 4 + 100, &k, &done), 104);
	assert_int_equal(myw_skip(&p, 10, &k, &done), -1);
	assert_int_equal(myw_parse(&p, b + 104, 200, &k, &done), 200);
	assert_int_equal(myw_skip(&p, MYW_LEN_MAX, &k, &done), -1); /* past its end */
	assert_int_equal(myw_skip(&p, MYW_LEN_MAX - 300, &k, &done), 0);
	assert_int_equal(done, 1);
	assert_true(myw_idle(&p));
}

/* ---- spans ---- */

static struct proto_conn *client(void)
{
	return tc_client(3306);
}

#define done_with(pc)		 tc_done(pc)
#define app_sends(pc, o)	 tc_sends(pc, (o)->b, (o)->n)
#define server_says(pc, o, step) tc_says(pc, (o)->b, (o)->n, step)

/* A connection opened to database shop (caps: the client's). */
static struct proto_conn *opened(uint32_t caps, size_t step)
{
	struct proto_conn *pc = client();
	struct buf o = {0}, i = {0};

	/* (the greeting, detected by its first bytes, comes whole) */
	greeting(&i, "10.11.19-MariaDB-0+deb12u1", CAPS_41 | DEPRECATE_EOF);
	server_says(pc, &i, 0);
	assert_ptr_equal(pc->h, &mysql_handler);
	o.seq = 1;
	response(&o, caps, "shop");
	app_sends(pc, &o);
	i.n = 0;
	i.seq = 2;
	ok(&i, 2);
	server_says(pc, &i, step);
	assert_int_equal(th.nrec, 0);
	return pc;
}

static const char *op(int i)
{
	return spanrec_str(&th.recs[i], MY_A_OP);
}

static void my_queries(void **state)
{
	(void)state;
	for (int deprecate = 0; deprecate < 2; deprecate++)
		for (size_t step = 0; step < 5; step++) {
			struct proto_conn *pc =
			    opened(CAPS_41 | (deprecate ? DEPRECATE_EOF : 0), step);
			struct buf o = {0}, i = {0};
			const struct span_rec *r;

			query(&o, "  /* hi */ select v from items");
			app_sends(pc, &o);
			i.seq = 1;
			resultset(&i, 2, 3, 2, deprecate);
			server_says(pc, &i, step * 5);
			o.n = i.n = 0;
			query(&o, "INSERT INTO log VALUES (1)");
			app_sends(pc, &o);
			i.seq = 1;
			ok(&i, 2);
			server_says(pc, &i, step);
			o.n = i.n = 0;
			query(&o, "select * from nosuch");
			app_sends(pc, &o);
			i.seq = 1;
			err(&i, 1146);
			server_says(pc, &i, step);
			assert_int_equal(th.nrec, 3);
			r = &th.recs[0];
			assert_int_equal(r->kind, SPAN_CLIENT);
			assert_int_equal(r->proto, PROTO_MYSQL);
			assert_string_equal(op(0), "SELECT");
			assert_string_equal(spanrec_str(r, MY_A_DB), "shop");
			assert_int_equal(spanrec_int(r, MY_A_SYSTEM, 0), 1);
			assert_string_equal(r->peer, "127.0.0.1");
			assert_int_equal(r->peer_port, 3306);
			assert_true(r->end_ns > r->start_ns);
			assert_string_equal(op(1), "INSERT");
			assert_string_equal(op(2), "SELECT");
			assert_string_equal(spanrec_str(&th.recs[2], MY_A_ERR), "1146");
			assert_int_equal(th.counts[PROTO_COUNT_PARSE_ERROR], 0);
			done_with(pc);
		}
}

static void my_batches_and_statements(void **state)
{
	struct proto_conn *pc = opened(CAPS_41, 0);
	struct buf o = {0}, i = {0};
	uint8_t exec[10] = {0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0};

	(void)state;
	/* two statements in one query: two results */
	query(&o, "insert into log values (1); insert into log values (2)");
	app_sends(pc, &o);
	i.seq = 1;
	ok(&i, 2 | 8);
	ok(&i, 2);
	server_says(pc, &i, 0);
	assert_int_equal(th.nrec, 1);
	assert_string_equal(op(0), "BATCH");
	assert_int_equal(spanrec_int(&th.recs[0], MY_A_BATCH, 0), 2);
	/* a prepared statement: PREPARE, its EXECUTE named by it, CLOSE (no
	 * answer); a CALL's two results stay a CALL */
	o.n = i.n = 0;
	command(&o, 0x16, S("update items set v = ? where id = ?"));
	app_sends(pc, &o);
	i.seq = 1;
	pkt(&i, S("\0\7\0\0\0\0\0\2\0\0\0\0"));
	pkt(&i, S("\3def\0\0\0\1?\0\14\77\0\0\0\0\0\375\200\0\0\0\0"));
	pkt(&i, S("\3def\0\0\0\1?\0\14\77\0\0\0\0\0\375\200\0\0\0\0"));
	eof(&i, 2, 0);
	server_says(pc, &i, 0);
	o.n = i.n = 0;
	command(&o, 0x17, (const char *)exec + 1, sizeof(exec) - 1);
	app_sends(pc, &o);
	i.seq = 1;
	ok(&i, 2);
	server_says(pc, &i, 0);
	o.n = 0;
	command(&o, 0x19, S("\7\0\0\0"));
	query(&o, "CALL p()");
	app_sends(pc, &o);
	i.n = 0;
	i.seq = 1;
	resultset(&i, 1, 1, 2 | 8, 0);
	ok(&i, 2);
	server_says(pc, &i, 0);
	assert_int_equal(th.nrec, 4);
	assert_string_equal(op(1), "PREPARE");
	assert_string_equal(op(2), "UPDATE");
	assert_string_equal(op(3), "CALL");
	assert_int_equal(spanrec_int(&th.recs[3], MY_A_BATCH, 0), 0);
	/* COM_INIT_DB: the database once it is OK; a refused one changes
	 * nothing; PING; LOCAL INFILE (the file's packets are no commands) */
	o.n = i.n = 0;
	command(&o, 0x02, S("other"));
	command(&o, 0x02, S("mysql"));
	command(&o, 0x0e, "", 0);
	app_sends(pc, &o);
	i.seq = 1;
	ok(&i, 2);
	i.seq = 1;
	err(&i, 1044);
	i.seq = 1;
	ok(&i, 2);
	server_says(pc, &i, 0);
	assert_int_equal(th.nrec, 7);
	assert_string_equal(op(4), "INIT_DB");
	assert_string_equal(spanrec_str(&th.recs[4], MY_A_DB), "other");
	assert_string_equal(spanrec_str(&th.recs[5], MY_A_ERR), "1044");
	assert_string_equal(spanrec_str(&th.recs[5], MY_A_DB), "other");
	assert_string_equal(op(6), "PING");
	assert_string_equal(spanrec_str(&th.recs[6], MY_A_DB), "other");
	o.n = i.n = 0;
	query(&o, "LOAD DATA LOCAL INFILE 'x' INTO TABLE log");
	app_sends(pc, &o);
	i.seq = 1;
	pkt(&i, S("\373x"));
	server_says(pc, &i, 0);
	o.n = 0;
	o.seq = 2;
	pkt(&o, S("1\n2\n"));
	pkt(&o, "", 0);
	app_sends(pc, &o);
	i.n = 0;
	i.seq = 4;
	ok(&i, 2);
	server_says(pc, &i, 0);
	assert_int_equal(th.nrec, 8);
	assert_string_equal(op(7), "LOAD");
	/* an unknown keyword is no label; left waiting at the close */
	o.n = 0;
	query(&o, "frobnicate everything");
	app_sends(pc, &o);
	pconn_eof(pc, th_now());
	assert_int_equal(th.nrec, 9);
	assert_string_equal(op(8), "_OTHER");
	assert_int_equal(th.recs[8].error, SPAN_ERR_CLOSED);
	assert_int_equal(th.counts[PROTO_COUNT_PARSE_ERROR], 0);
	done_with(pc);
}

static void my_not_followed(void **state)
{
	struct proto_conn *pc;
	struct buf o = {0}, i = {0};

	(void)state;
	/* TLS: an SSLRequest (32 bytes) ends the following, without an error */
	pc = client();
	greeting(&i, "8.0.36", CAPS_41 | 0x800);
	server_says(pc, &i, 0);
	o.seq = 1;
	{
		uint8_t ssl[32] = {0};

		le32(ssl, CAPS_41 | 0x800);
		pkt(&o, ssl, 32);
	}
	app_sends(pc, &o);
	assert_true(pc->dead);
	assert_int_equal(th.counts[PROTO_COUNT_PARSE_ERROR], 0);
	done_with(pc);
	/* compression: likewise */
	pc = client();
	i.n = 0, i.seq = 0;
	greeting(&i, "8.0.36", CAPS_41 | 0x20);
	server_says(pc, &i, 0);
	o.n = 0, o.seq = 1;
	response(&o, CAPS_41 | 0x20, "shop");
	app_sends(pc, &o);
	assert_true(pc->dead);
	assert_int_equal(th.counts[PROTO_COUNT_PARSE_ERROR], 0);
	done_with(pc);
	/* an ERR to nothing (the server closing an idle connection) is no
	 * error; a packet that answers nothing is */
	pc = opened(CAPS_41, 0);
	i.n = 0, i.seq = 0;
	err(&i, 4031);
	server_says(pc, &i, 0);
	assert_false(pc->dead);
	i.n = 0;
	ok(&i, 2);
	server_says(pc, &i, 0);
	assert_true(pc->dead);
	assert_int_equal(th.counts[PROTO_COUNT_PARSE_ERROR], 1);
	done_with(pc);
	/* a result set of no columns */
	pc = opened(CAPS_41, 0);
	o.n = i.n = 0;
	query(&o, "select 1");
	app_sends(pc, &o);
	i.seq = 1;
	pkt(&i, S("\374\0\0"));
	server_says(pc, &i, 0);
	assert_int_equal(th.nrec, 1);
	assert_int_equal(th.recs[0].error, SPAN_ERR_PROTOCOL);
	assert_int_equal(th.counts[PROTO_COUNT_PARSE_ERROR], 1);
	done_with(pc);
	/* not a greeting: another protocol's */
	pc = client();
	pconn_feed(pc, PROTO_IN, (const uint8_t *)S("SSH-2.0-OpenSSH_9.2\r\n"), th_now());
	assert_null(pc->h);
	done_with(pc);
}

static void my_describe_observe(void **state)
{
	struct proto_conn *pc = opened(CAPS_41, 0);
	struct buf o = {0}, i = {0};
	struct proto_obs obs;

	(void)state;
	query(&o, "select * from nosuch");
	app_sends(pc, &o);
	i.seq = 1;
	err(&i, 1146);
	server_says(pc, &i, 0);
	assert_int_equal(th.nrec, 1);
	mysql_handler.observe(&th.recs[0], NULL, &obs);
	assert_ptr_equal(obs.family, proto_family_by_id(FAMILY_DB_CLIENT));
	assert_string_equal(obs.labels[0], "mariadb");
	assert_string_equal(obs.labels[1], "SELECT");
	assert_string_equal(obs.labels[2], "127.0.0.1");
	assert_string_equal(obs.labels[3], "3306");
	assert_string_equal(obs.labels[4], "1146");
	done_with(pc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(myw_packets),     cmocka_unit_test(myw_long_packets),
	    cmocka_unit_test(my_queries),      cmocka_unit_test(my_batches_and_statements),
	    cmocka_unit_test(my_not_followed), cmocka_unit_test(my_describe_observe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

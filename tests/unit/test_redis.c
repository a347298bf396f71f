/*
 * test_redis - RESP read as a stream (resp.c) and Redis client spans
 * (redis_proto.c) driven through pconn with the test host: commands and
 * replies in any split, pipelines deeper than the queue, RESP3 types,
 * errors, SELECT, SUBSCRIBE, and bytes that are not RESP.
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

#include "proto_testconn.h"
#include "db_sem.h"
#include "redis_proto.h"
#include "registry.h"
#include "resp.h"

/* Messages in b, read in pieces of `step` bytes (0: whole); -1 if the
 * parser said it is not RESP. */
static int parse_all(enum resp_mode mode, const char *b, size_t n, size_t step,
		     struct resp_msg *out, int max)
{
	struct resp_parser p;
	int got = 0;

	resp_init(&p, mode);
	for (size_t off = 0; off < n;) {
		size_t piece = step && n - off > step ? step : n - off;
		size_t at = 0;
		while (at < piece) {
			int done;
			long k = resp_parse(&p, (const uint8_t *)b + off + at, piece - at,
					    got < max ? &out[got] : &out[max - 1], &done);
			if (k < 0)
				return -1;
			at += (size_t)k;
			got += done;
		}
		off += piece;
	}
	return resp_idle(&p) ? got : -2 - got;
}

#define S(lit) lit, sizeof(lit) - 1

static void resp_commands(void **state)
{
	static const char cmds[] = "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$5\r\nhello\r\n"
				   "*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n"
				   "PING  now\r\n"
				   "\r\n"
				   "*0\r\n"
				   "*1\r\n$4\r\nQUIT\r\n";
	struct resp_msg m[8];

	(void)state;
	for (size_t step = 0; step < 8; step++) {
		memset(m, 0, sizeof(m));
		assert_int_equal(parse_all(RESP_COMMANDS, S(cmds), step, m, 8), 6);
		assert_string_equal(m[0].word, "set");
		assert_string_equal(m[0].arg, "k");
		assert_int_equal(m[0].type, '*');
		assert_string_equal(m[1].word, "SELECT");
		assert_string_equal(m[1].arg, "12");
		assert_int_equal(m[2].type, 0); /* inline */
		assert_string_equal(m[2].word, "PING");
		assert_string_equal(m[2].arg, "now");
		assert_true(m[3].empty); /* an empty line, and an empty array: no reply */
		assert_true(m[4].empty);
		assert_false(m[5].empty);
		assert_string_equal(m[5].word, "QUIT");
	}
}

static void resp_replies(void **state)
{
	static const char replies[] = "+OK\r\n"
				      "-WRONGTYPE Operation against a key\r\n"
				      ":42\r\n"
				      "$-1\r\n"
				      "$12\r\nhello\r\nworld\r\n" /* CR LF inside a payload */
				      "*-1\r\n"
				      "*2\r\n*1\r\n:1\r\n$0\r\n\r\n"
				      "%1\r\n+a\r\n~2\r\n#t\r\n,1.5\r\n"
				      "|1\r\n+ttl\r\n:3\r\n_\r\n" /* an attribute, then its reply */
				      ">2\r\n$7\r\nmessage\r\n(12345678901234567890\r\n"
				      "!9\r\nERR x y z\r\n"
				      "=8\r\ntxt:abcd\r\n";
	struct resp_msg m[16];

	(void)state;
	for (size_t step = 0; step < 6; step++) {
		memset(m, 0, sizeof(m));
		assert_int_equal(parse_all(RESP_REPLIES, S(replies), step, m, 16), 12);
		assert_int_equal(m[0].type, '+');
		assert_int_equal(m[1].type, '-');
		assert_string_equal(m[1].word, "WRONGTYPE");
		assert_int_equal(m[6].type, '*');
		assert_int_equal(m[7].type, '%');
		assert_int_equal(m[8].type, '_'); /* the attribute is not a reply */
		assert_false(m[8].push);
		assert_true(m[9].push);
		assert_int_equal(m[10].type, '!');
		assert_string_equal(m[10].word, "ERR");
		assert_int_equal(m[11].type, '=');
	}
}

static void resp_not_resp(void **state)
{
	static const char *const bad_replies[] = {
	    "GET / HTTP/1.1\r\n", /* no type byte */
	    "$5\r\nhello!!",	  /* no CR LF after the payload */
	    "$x\r\n",		  /* a length that is no number */
	    "$-2\r\n",		  /* a negative length but -1 */
	    "$\r\n",		  /* no digits */
	    "+OK\n",		  /* LF without CR */
	    "$99999999999999999999\r\n",
	};
	struct resp_msg m[2];
	char deep[64];
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_replies) / sizeof(bad_replies[0]); i++)
		assert_int_equal(
		    parse_all(RESP_REPLIES, bad_replies[i], strlen(bad_replies[i]), 0, m, 2), -1);
	/* a command is an array of bulk strings, nothing else */
	assert_int_equal(parse_all(RESP_COMMANDS, S("*1\r\n:1\r\n"), 0, m, 2), -1);
	/* nesting past the bound */
	for (int d = 0; d <= RESP_DEPTH_MAX; d++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "*1\r\n");
	assert_int_equal(parse_all(RESP_REPLIES, deep, n, 0, m, 2), -1);
	/* and half a message is not idle */
	assert_int_equal(parse_all(RESP_REPLIES, S("*2\r\n:1\r\n"), 0, m, 2), -2);
}

static void resp_skips_payloads(void **state)
{
	struct resp_parser p;
	struct resp_msg m;
	int done;

	(void)state;
	resp_init(&p, RESP_REPLIES);
	assert_int_equal(resp_parse(&p, (const uint8_t *)"$1000000\r\nab", 12, &m, &done), 12);
	assert_int_equal(resp_skip(&p, 999998), 0);
	assert_int_equal(resp_parse(&p, (const uint8_t *)"\r\n:1\r\n", 6, &m, &done), 2);
	assert_true(done);
	/* a skip past a payload's end loses the framing */
	assert_int_equal(resp_parse(&p, (const uint8_t *)"$3\r\n", 4, &m, &done), 4);
	assert_int_equal(resp_skip(&p, 4), -1);
}

/* ---- the module, through pconn ---- */

static struct proto_conn *client(void)
{
	return tc_client(6379);
}

static void done_with(struct proto_conn *pc)
{
	tc_done(pc);
}

static void send_cmds(struct proto_conn *pc, const char *b, size_t n)
{
	tc_sends(pc, b, n);
}

static void reply(struct proto_conn *pc, const char *b, size_t n)
{
	tc_says(pc, b, n, 0);
}

static void redis_spans(void **state)
{
	struct proto_conn *pc = client();
	const struct span_rec *r;

	(void)state;
	send_cmds(pc, S("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$4\r\nincr\r\n$1\r\nk\r\n"));
	assert_ptr_equal(pc->h, &redis_handler);
	assert_int_equal(th.nrec, 0);
	reply(pc, "$3\r\nabc\r\n-WRONGTYPE no\r", 23);
	assert_int_equal(th.nrec, 1);
	reply(pc, "\n", 1);
	assert_int_equal(th.nrec, 2);
	r = &th.recs[0];
	assert_int_equal(r->kind, SPAN_CLIENT);
	assert_int_equal(r->proto, PROTO_REDIS);
	assert_string_equal(spanrec_str(r, REDIS_A_OP), "GET");
	assert_int_equal(spanrec_int(r, REDIS_A_DB, -1), 0);
	assert_string_equal(spanrec_str(r, REDIS_A_ERR), "");
	assert_true(r->end_ns > r->start_ns);
	assert_true(r->trace_flags & TP_FLAG_SAMPLED);
	r = &th.recs[1];
	assert_string_equal(spanrec_str(r, REDIS_A_OP), "INCR");
	assert_string_equal(spanrec_str(r, REDIS_A_ERR), "WRONGTYPE");
	assert_string_equal(r->peer, "127.0.0.1");
	assert_int_equal(r->peer_port, 6379);
	/* SELECT moves the commands after it, pipelined or not; one that
	 * fails does not */
	send_cmds(pc, S("*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n"));
	reply(pc, "+OK\r\n+PONG\r\n", 12);
	assert_int_equal(spanrec_int(&th.recs[2], REDIS_A_DB, -1), 0);
	assert_int_equal(spanrec_int(&th.recs[3], REDIS_A_DB, -1), 3);
	send_cmds(pc, S("*2\r\n$6\r\nSELECT\r\n$3\r\n999\r\n"));
	reply(pc, S("-ERR DB index is out of range\r\n"));
	send_cmds(pc, S("*1\r\n$4\r\nPING\r\n"));
	reply(pc, S("+PONG\r\n"));
	assert_int_equal(spanrec_int(&th.recs[5], REDIS_A_DB, -1), 3);
	/* a RESP3 push is no reply; a command left at the close ends closed */
	send_cmds(pc, S("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"));
	reply(pc, S(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n+PONG\r\n"));
	assert_int_equal(th.nrec, 7);
	pconn_eof(pc, th_now());
	assert_int_equal(th.nrec, 8);
	assert_int_equal(th.recs[7].error, SPAN_ERR_CLOSED);
	done_with(pc);
}

static void redis_deep_pipeline(void **state)
{
	struct proto_conn *pc = client();
	char cmds[300 * 40], replies[300 * 8];
	size_t n = 0, m = 0;
	int spans = 0, points = 0;

	(void)state;
	/* 300 commands before any reply: 64 with spans, the rest points */
	for (int i = 0; i < 300; i++) {
		n += (size_t)snprintf(cmds + n, sizeof(cmds) - n, "*2\r\n$%d\r\n%s\r\n$1\r\nk\r\n",
				      i % 3 ? 4 : 3, i % 3 ? "INCR" : "GET");
		m += (size_t)snprintf(replies + m, sizeof(replies) - m, ":%d\r\n", i);
	}
	send_cmds(pc, cmds, n);
	for (size_t off = 0; off < m; off += 100) {
		int before = th.nrec;
		pconn_feed(pc, PROTO_IN, (const uint8_t *)replies + off,
			   m - off < 100 ? m - off : 100, th_now());
		for (int i = before; i < th.nrec; i++)
			*(th.recs[i].trace_flags & TP_FLAG_SAMPLED ? &spans : &points) += 1;
		th.nrec = 0; /* (the host keeps TH_RECS) */
	}
	assert_int_equal(spans, 64);
	assert_int_equal(spans + points, 300);
	assert_int_equal(th.counts[PROTO_COUNT_PARSE_ERROR], 0);
	done_with(pc);
}

static void redis_subscribe_ends(void **state)
{
	struct proto_conn *pc = client();

	(void)state;
	send_cmds(pc, S("*1\r\n$4\r\nPING\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n"));
	reply(pc, S("+PONG\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"));
	assert_int_equal(th.nrec, 2);
	assert_string_equal(spanrec_str(&th.recs[1], REDIS_A_OP), "SUBSCRIBE");
	assert_true(pc->dead); /* messages from here on answer nothing */
	reply(pc, S("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"));
	assert_int_equal(th.nrec, 2);
	done_with(pc);
}

static void redis_not_resp(void **state)
{
	struct proto_conn *pc = client();

	(void)state;
	/* not a RESP array: not Redis (and the bytes pass as they are) */
	send_cmds(pc, S("*hello\r\n"));
	assert_null(pc->h);
	done_with(pc);
	/* a reply that breaks RESP: waiting commands end as protocol errors */
	pc = client();
	send_cmds(pc, S("*1\r\n$4\r\nPING\r\n"));
	reply(pc, S("$4\r\nPONGxx"));
	assert_true(pc->dead);
	assert_int_equal(th.nrec, 1);
	assert_int_equal(th.recs[0].error, SPAN_ERR_PROTOCOL);
	assert_int_equal(th.counts[PROTO_COUNT_PARSE_ERROR], 1);
	done_with(pc);
	/* a server never detects Redis (obs follows the clients) */
	th_reset();
	pc = calloc(1, sizeof(*pc));
	pconn_init(pc, &th_host, proto_handlers, PROTO_SERVER);
	reply(pc, S("*1\r\n$4\r\nPING\r\n"));
	assert_null(pc->h);
	done_with(pc);
}

static void redis_describe_observe(void **state)
{
	struct proto_conn *pc = client();
	struct proto_obs o;
	struct proto_env env = {0};

	(void)state;
	send_cmds(pc, S("*2\r\n$3\r\nget\r\n$1\r\nk\r\n*1\r\n$9\r\nnot;a cmd\r\n"));
	reply(pc, S("$-1\r\n-ERR unknown command\r\n"));
	redis_handler.observe(&th.recs[0], &env, &o);
	assert_ptr_equal(o.family, &db_client_duration);
	assert_int_equal(o.nlabels, 5);
	assert_string_equal(o.labels[0], "redis");
	assert_string_equal(o.labels[1], "GET");
	assert_string_equal(o.labels[2], "127.0.0.1");
	assert_string_equal(o.labels[3], "6379");
	assert_string_equal(o.labels[4], "");
	redis_handler.observe(&th.recs[1], &env, &o);
	assert_string_equal(o.labels[1], "_OTHER"); /* not a plausible name: no series of its own */
	assert_string_equal(o.labels[4], "ERR");
	/* nor is an error prefix a script chose */
	send_cmds(pc, S("*2\r\n$7\r\nEVALSHA\r\n$1\r\nx\r\n"));
	reply(pc, S("-my{prefix} from a script\r\n"));
	redis_handler.observe(&th.recs[2], &env, &o);
	assert_string_equal(o.labels[1], "EVALSHA");
	assert_string_equal(o.labels[4], "_OTHER");
	done_with(pc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(resp_commands),
	    cmocka_unit_test(resp_replies),
	    cmocka_unit_test(resp_not_resp),
	    cmocka_unit_test(resp_skips_payloads),
	    cmocka_unit_test(redis_spans),
	    cmocka_unit_test(redis_deep_pipeline),
	    cmocka_unit_test(redis_subscribe_ends),
	    cmocka_unit_test(redis_not_resp),
	    cmocka_unit_test(redis_describe_observe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

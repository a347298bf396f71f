/* Unit tests: W3C traceparent / tracestate (tp.c), cases from the spec. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tp.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"

static enum tp_result parse(const char *s, struct tp_ctx *c)
{
	return tp_parse(s, strlen(s), c);
}

static void valid_v00(void **state)
{
	struct tp_ctx c;
	char out[TP_LEN + 1];

	(void)state;
	assert_int_equal(parse("00-" TID "-" SID "-01", &c), TP_OK);
	assert_int_equal(c.version, 0);
	assert_int_equal(c.flags, 1);
	assert_int_equal(c.trace_id[0], 0x4b);
	assert_int_equal(c.trace_id[15], 0x36);
	assert_int_equal(c.span_id[7], 0xb7);
	tp_format(&c, out);
	assert_string_equal(out, "00-" TID "-" SID "-01");
	/* flags are a bit field: unknown bits are not propagated */
	assert_int_equal(parse("00-" TID "-" SID "-09", &c), TP_OK);
	assert_true(c.flags & TP_FLAG_SAMPLED);
	tp_format(&c, out);
	assert_string_equal(out, "00-" TID "-" SID "-01");
	assert_int_equal(parse("00-" TID "-" SID "-00", &c), TP_OK);
	assert_int_equal(c.flags, 0);
	/* optional whitespace around the header value */
	assert_int_equal(parse(" \t00-" TID "-" SID "-01 ", &c), TP_OK);
}

static void invalid(void **state)
{
	struct tp_ctx c;

	(void)state;
	assert_int_equal(parse("ff-" TID "-" SID "-01", &c), TP_ERR_VERSION);
	assert_int_equal(parse("00-00000000000000000000000000000000-" SID "-01", &c),
			 TP_ERR_TRACE_ID);
	assert_int_equal(parse("00-" TID "-0000000000000000-01", &c), TP_ERR_SPAN_ID);
	/* uppercase hex is not allowed */
	assert_int_equal(parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-01", &c),
			 TP_ERR_FORMAT);
	assert_int_equal(parse("00-" TID "-00F067AA0BA902B7-01", &c), TP_ERR_FORMAT);
	assert_int_equal(parse("0A-" TID "-" SID "-01", &c), TP_ERR_FORMAT);
	assert_int_equal(parse("00-" TID "-" SID "-0X", &c), TP_ERR_FORMAT);
	/* wrong lengths */
	assert_int_equal(parse("00-" TID "-" SID "-1", &c), TP_ERR_LENGTH);
	assert_int_equal(parse("00-" TID "0-" SID "-01", &c), TP_ERR_LENGTH);
	assert_int_equal(parse("00-4bf92f3577b34da6a3ce929d0e0e473-" SID "-01", &c), TP_ERR_LENGTH);
	assert_int_equal(parse("", &c), TP_ERR_LENGTH);
	/* version 00 has no extra fields */
	assert_int_equal(parse("00-" TID "-" SID "-01-what", &c), TP_ERR_LENGTH);
	assert_int_equal(parse("00-" TID "-" SID "-011", &c), TP_ERR_LENGTH);
	/* wrong separators */
	assert_int_equal(parse("00_" TID "-" SID "-01", &c), TP_ERR_FORMAT);
	assert_int_equal(parse("00-" TID "." SID "-01", &c), TP_ERR_FORMAT);
	assert_int_equal(parse("00-" TID "-" SID ".01", &c), TP_ERR_FORMAT);
	/* a NUL inside is just an invalid character */
	assert_int_equal(tp_parse("00-" TID "\0" SID "-01", TP_LEN, &c), TP_ERR_FORMAT);
}

static void future_versions(void **state)
{
	struct tp_ctx c;
	char out[TP_LEN + 1];

	(void)state;
	/* parsed as 00 when the first 55 characters match */
	assert_int_equal(parse("cc-" TID "-" SID "-01", &c), TP_OK);
	assert_int_equal(c.version, 0xcc);
	assert_int_equal(parse("cc-" TID "-" SID "-01-what-the-future-will-be-like", &c), TP_OK);
	tp_format(&c, out); /* we propagate version 00 */
	assert_string_equal(out, "00-" TID "-" SID "-01");
	/* ... but what follows must start with '-' */
	assert_int_equal(parse("cc-" TID "-" SID "-01.what", &c), TP_ERR_LENGTH);
	assert_int_equal(parse("cc-" TID "-" SID "-0", &c), TP_ERR_LENGTH);
	assert_int_equal(parse("cc-" TID "-" SID "-xy", &c), TP_ERR_FORMAT);
	assert_int_equal(parse("ff-" TID "-" SID "-01-x", &c), TP_ERR_VERSION);
}

static void generation(void **state)
{
	uint8_t rnd[24], zero[24] = {0};
	struct tp_ctx root, child, back;
	char out[TP_LEN + 1];

	(void)state;
	for (int i = 0; i < 24; i++)
		rnd[i] = (uint8_t)(i * 37 + 1);
	tp_new_root(&root, rnd, 1);
	tp_format(&root, out);
	assert_int_equal(tp_parse(out, strlen(out), &back), TP_OK);
	assert_memory_equal(back.trace_id, rnd, 16);
	assert_int_equal(back.flags, TP_FLAG_SAMPLED | TP_FLAG_RANDOM);
	tp_new_child(&child, &root, rnd + 8);
	assert_memory_equal(child.trace_id, root.trace_id, 16);
	assert_memory_not_equal(child.span_id, root.span_id, 8);
	/* never produce the invalid all-zero ids */
	tp_new_root(&root, zero, 0);
	tp_format(&root, out);
	assert_int_equal(tp_parse(out, strlen(out), &back), TP_OK);
	assert_int_equal(back.flags, TP_FLAG_RANDOM);
}

static int ts(const char *s)
{
	return tp_tracestate_valid(s, strlen(s));
}

static void tracestate(void **state)
{
	char big[2048];

	(void)state;
	assert_int_equal(ts("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), 0);
	assert_int_equal(ts(" rojo=1 , congo=2 "), 0);
	assert_int_equal(ts(""), 0);
	assert_int_equal(ts("a=1,,b=2"), 0); /* empty members are allowed */
	assert_int_equal(ts("tenant@system=x"), 0);
	assert_int_equal(ts("1tenant@sys=x"), 0); /* tenant may start with a digit */
	assert_int_equal(ts("value=with space inside"), 0);
	assert_int_equal(ts("Rojo=1"), -1);	   /* uppercase key */
	assert_int_equal(ts("1abc=1"), -1);	   /* simple key starts with a letter */
	assert_int_equal(ts("rojo"), -1);	   /* no '=' */
	assert_int_equal(ts("rojo="), -1);	   /* empty value */
	assert_int_equal(ts("rojo=a=b"), -1);	   /* '=' in value */
	assert_int_equal(ts("rojo=1,rojo=2"), -1); /* duplicate key */
	assert_int_equal(ts("t@1sys=x"), -1);	   /* system id starts with a letter */
	assert_int_equal(ts("t@systemidtoolong=x"), -1);
	assert_int_equal(ts("rojo=\x01"), -1);
	/* at most 32 members */
	big[0] = '\0';
	for (int i = 0; i < 32; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "%sk%d=v", i ? "," : "", i);
	assert_int_equal(ts(big), 0);
	strcat(big, ",k32=v");
	assert_int_equal(ts(big), -1);
}

/* TraceIdRatioBased: the last 8 bytes' top 53 bits, the first 8 ignored. */
static void ratio_key(void **state)
{
	uint8_t id[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	(void)state;
	assert_true(tp_ratio_key(id) == 0);
	id[15] = 0xff; /* the low 11 bits are dropped */
	assert_true(tp_ratio_key(id) == 0);
	id[14] = 0x08;
	assert_true(tp_ratio_key(id) == 1);
	memset(id + 8, 0xff, 8);
	assert_true(tp_ratio_key(id) == (1ULL << 53) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(valid_v00),       cmocka_unit_test(invalid),
	    cmocka_unit_test(future_versions), cmocka_unit_test(generation),
	    cmocka_unit_test(tracestate),      cmocka_unit_test(ratio_key),
	};
	return cmocka_run_group_tests_name("tp", tests, NULL, NULL);
}

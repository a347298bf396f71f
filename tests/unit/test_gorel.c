/* Unit tests: whose call a Go client connection's writer goroutine writes
 * (gorel.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gorel.h"

static struct gorel *fresh(void)
{
	struct gorel *r = malloc(sizeof(*r));

	assert_non_null(r);
	gorel_init(r);
	return r;
}

static void keep_alive_calls(void **state)
{
	struct gorel *r = fresh();

	(void)state;
	gorel_writer(r, 0x1000, 7); /* connection 0x1000, writer goroutine 7 */
	gorel_call(r, 0x1000, 42);
	assert_int_equal(gorel_take(r, 7), 42);
	/* taken once: a second request head with no call is not known */
	assert_int_equal(gorel_take(r, 7), 0);
	gorel_call(r, 0x1000, 43); /* the next call on the kept-alive connection */
	assert_int_equal(gorel_take(r, 7), 43);
	/* another goroutine's writer, another connection */
	gorel_writer(r, 0x2000, 8);
	gorel_call(r, 0x2000, 50);
	gorel_call(r, 0x1000, 51);
	assert_int_equal(gorel_take(r, 8), 50);
	assert_int_equal(gorel_take(r, 7), 51);
	assert_int_equal(gorel_take(r, 9), 0); /* a writer never said */
	free(r);
}

static void call_before_writer_starts(void **state)
{
	struct gorel *r = fresh();

	(void)state;
	/* the call that dials is said before the new writer goroutine runs */
	gorel_call(r, 0x3000, 60);
	gorel_writer(r, 0x3000, 9);
	assert_int_equal(gorel_take(r, 9), 60);
	/* the address reused by a new connection: its own call replaces
	 * whatever the old one left */
	gorel_call(r, 0x3000, 61);
	gorel_call(r, 0x3000, 62);
	gorel_writer(r, 0x3000, 10);
	assert_int_equal(gorel_take(r, 9), 0); /* the old writer's connection is gone */
	assert_int_equal(gorel_take(r, 10), 62);
	/* zeros are never recorded */
	gorel_call(r, 0, 5);
	gorel_writer(r, 0x4000, 0);
	assert_int_equal(gorel_take(r, 0), 0);
	free(r);
}

static void lost_event_resets(void **state)
{
	struct gorel *r = fresh();

	(void)state;
	gorel_writer(r, 0x1000, 7);
	gorel_call(r, 0x1000, 42);
	gorel_init(r); /* what kcap does when the kernel lost a Go event */
	assert_int_equal(gorel_take(r, 7), 0);
	free(r);
}

static void bounded(void **state)
{
	struct gorel *r = fresh();

	(void)state;
	for (uint64_t i = 1; i <= GOREL_CONNS + 100; i++) {
		gorel_writer(r, i * 16, 1000 + i);
		gorel_call(r, i * 16, 5000 + i);
	}
	/* the least recently used went first; the newest are all there */
	assert_int_equal(gorel_take(r, 1001), 0);
	for (uint64_t i = 101; i <= GOREL_CONNS + 100; i++)
		assert_int_equal(gorel_take(r, 1000 + i), 5000 + i);
	free(r);
}

/* a request context named by a number, for the tests */
static struct tp_ctx req(uint8_t n)
{
	struct tp_ctx c = {.flags = 1};

	memset(c.trace_id, n, sizeof(c.trace_id));
	memset(c.span_id, n, sizeof(c.span_id));
	return c;
}

/* the request stream id of transport reader was made for: its number, 0
 * if none */
static int taken(struct gorel *r, uint64_t reader, uint32_t id)
{
	struct tp_ctx c;

	return gorel_stream_take(r, reader, id, &c) ? c.span_id[0] : 0;
}

static void grpc_streams(void **state)
{
	struct gorel *r = fresh();
	struct tp_ctx a = req(7), b = req(8), c = req(9), d = req(11), e = req(12), f = req(13);

	(void)state;
	/* two client transports, each with its reader goroutine */
	gorel_reader(r, 0xa000, 100);
	gorel_reader(r, 0xb000, 200);
	assert_int_equal(gorel_reader_of(r, 0xa000), 100);
	assert_int_equal(gorel_reader_of(r, 0xc000), 0);
	assert_true(gorel_is_reader(r, 100) && gorel_is_reader(r, 200));
	assert_false(gorel_is_reader(r, 300) || gorel_is_reader(r, 0));
	/* the same stream id on both, from different requests; a streaming
	 * call sends more than once */
	gorel_stream(r, 0xa000, 1, &a);
	gorel_stream(r, 0xb000, 1, &b);
	gorel_stream(r, 0xa000, 3, &c);
	gorel_stream(r, 0xa000, 3, &c);
	assert_int_equal(taken(r, 200, 1), 8);
	assert_int_equal(taken(r, 100, 1), 7);
	assert_int_equal(taken(r, 100, 1), 0); /* taken once */
	assert_int_equal(taken(r, 100, 3), 9);
	assert_int_equal(taken(r, 300, 5), 0); /* a reader never said */
	/* a send by a goroutine that served no request: none, said */
	gorel_stream(r, 0xa000, 7, NULL);
	assert_int_equal(taken(r, 100, 7), 0);
	/* calls said before the new transport's reader starts are kept */
	gorel_stream(r, 0xd000, 1, &d);
	gorel_reader(r, 0xd000, 400);
	assert_int_equal(taken(r, 400, 1), 11);
	/* a new transport at a reused address: its own send, even one with
	 * no request, replaces what the old one left under the same number */
	gorel_stream(r, 0xa000, 5, &e);
	gorel_reader(r, 0xa000, 500);
	gorel_stream(r, 0xa000, 5, NULL);
	assert_int_equal(taken(r, 100, 5), 0); /* the old reader's is gone */
	assert_int_equal(taken(r, 500, 5), 0);
	gorel_stream(r, 0xa000, 9, &f);
	assert_int_equal(taken(r, 500, 9), 13);
	/* bounded: the oldest pending calls go first */
	for (uint32_t i = 1; i <= GOREL_STREAMS + 10; i++) {
		struct tp_ctx x = req((uint8_t)(i % 200 + 1));

		gorel_stream(r, 0xb000, 2 * i + 1, &x);
	}
	assert_int_equal(taken(r, 200, 3), 0);
	assert_int_equal(taken(r, 200, 2 * (GOREL_STREAMS + 10) + 1),
			 (GOREL_STREAMS + 10) % 200 + 1);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(keep_alive_calls),	 cmocka_unit_test(call_before_writer_starts),
	    cmocka_unit_test(lost_event_resets), cmocka_unit_test(bounded),
	    cmocka_unit_test(grpc_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

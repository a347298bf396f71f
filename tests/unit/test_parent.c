/*
 * Unit tests: the shim's parent rules (preload/parent.c), with real
 * threads: a thread-per-request thread claims its one request; an
 * event-loop thread only the one request in flight in the process; a
 * thread with none while others are in flight cannot know; pipelined
 * requests on one thread cannot be told apart; the helpers' registry finds
 * a request by connection and stream, and nothing once it ended; a thread
 * that exits gives its slot back; a forked child starts with none.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <string.h>
#include <cmocka.h>

#include "parent.h"

static void mkx(struct exchange *x, uint8_t id)
{
	exchange_clear(x);
	memset(x->ctx.trace_id, id, 16);
	memset(x->ctx.span_id, id, 8);
}

static enum parent_how decide(uint8_t *span)
{
	struct parent_ref r;
	enum parent_how h = parent_for_thread(&r);

	*span = h == PARENT_FOUND ? r.ctx.span_id[0] : 0;
	return h;
}

struct other {
	int loop;
	struct exchange *end;	/* a request read elsewhere this thread answers first */
	struct exchange *begin; /* a request this thread reads next */
	uint32_t stream;	/* its HTTP/2 stream (0: HTTP/1) */
	enum parent_how how;
	uint8_t span;
};

static void *other_thread(void *arg)
{
	struct other *o = arg;

	if (o->loop)
		parent_loop_wait();
	if (o->end)
		parent_server_end(o->end, 10, 1000);
	if (o->begin)
		parent_server_begin(o->begin, 50, 4000, o->stream);
	o->how = decide(&o->span);
	return NULL;
}

static struct other run_thread(struct other o)
{
	pthread_t t;

	pthread_create(&t, NULL, other_thread, &o);
	pthread_join(t, NULL);
	return o;
}

static struct other in_thread(int loop, struct exchange *begin)
{
	return run_thread((struct other){.loop = loop, .begin = begin});
}

static void thread_rules(void **state)
{
	struct exchange a, b;
	struct other o;
	uint8_t span;

	(void)state;
	parent_init();
	assert_int_equal(decide(&span), PARENT_ROOT); /* nothing in flight: a new trace */
	mkx(&a, 0xa1);
	parent_server_begin(&a, 10, 1000, 0);
	assert_int_equal(decide(&span), PARENT_FOUND); /* thread-per-request */
	assert_int_equal(span, 0xa1);
	o = in_thread(0, NULL); /* another thread, none of its own: handed off */
	assert_int_equal(o.how, PARENT_UNKNOWN);
	mkx(&b, 0xb2); /* another thread with its own: its own */
	o = in_thread(0, &b);
	assert_int_equal(o.how, PARENT_FOUND);
	assert_int_equal(o.span, 0xb2);
	parent_server_end(&a, 10, 1000);
	assert_int_equal(decide(&span), PARENT_UNKNOWN); /* b (read elsewhere) still in flight */
	parent_after_fork();				 /* as a forked child: none of them */
	assert_int_equal(decide(&span), PARENT_ROOT);
}

static void loop_rules(void **state)
{
	struct exchange a, b;
	struct other o;
	uint8_t span;

	(void)state;
	parent_after_fork();
	parent_loop_wait(); /* this thread is an event loop from now on */
	mkx(&a, 0xa1);
	parent_server_begin(&a, 10, 1000, 0);
	assert_int_equal(decide(&span), PARENT_FOUND); /* the one request in the process */
	assert_int_equal(span, 0xa1);
	mkx(&b, 0xb2);
	parent_server_begin(&b, 11, 1001, 0); /* two interleaved on this loop */
	assert_int_equal(decide(&span), PARENT_UNKNOWN);
	parent_server_end(&b, 11, 1001);
	assert_int_equal(decide(&span), PARENT_FOUND); /* back to one */
	assert_int_equal(span, 0xa1);
	o = in_thread(1, &b); /* another loop reads one: two in the process */
	assert_int_equal(o.how, PARENT_UNKNOWN);
	assert_int_equal(decide(&span), PARENT_UNKNOWN);
	parent_server_end(&b, 50, 4000); /* ended after its thread exited */
	assert_int_equal(decide(&span), PARENT_FOUND);
	parent_server_end(&a, 10, 1000);
	assert_int_equal(decide(&span), PARENT_ROOT);
}

/* Threads that work for many requests without an epoll of their own
 * (python3-grpcio's executors): the thread rule must not claim for them. */
static void shared_workers(void **state)
{
	struct exchange a1, a3, b, c;
	struct other o;

	(void)state;
	parent_after_fork();
	mkx(&a1, 0xa1);
	mkx(&a3, 0xa3);
	mkx(&b, 0xb2);
	mkx(&c, 0xc3);
	/* an HTTP/2 stream's reader interleaves: alone in the process it
	 * is the one, with another in flight it cannot know */
	o = run_thread((struct other){.begin = &a1, .stream = 1});
	assert_int_equal(o.how, PARENT_FOUND);
	assert_int_equal(o.span, 0xa1);
	parent_server_end(&a1, 50, 4000);
	parent_server_begin(&b, 10, 1000, 0); /* read here, in flight */
	o = run_thread((struct other){.begin = &a3, .stream = 3});
	assert_int_equal(o.how, PARENT_UNKNOWN);
	parent_server_end(&a3, 50, 4000);
	/* a thread that answered a request read elsewhere is handed work:
	 * the next one it reads is not surely the one its calls are for */
	o = run_thread((struct other){.end = &b, .begin = &c});
	assert_int_equal(o.how, PARENT_FOUND); /* c alone in flight: still the one */
	mkx(&b, 0xb2);
	parent_server_begin(&b, 10, 1000, 0);
	o = run_thread((struct other){.end = &b, .begin = &a3});
	assert_int_equal(o.how, PARENT_UNKNOWN); /* c and a3 in flight */
	parent_server_end(&c, 50, 4000);
	parent_server_end(&a3, 50, 4000);
	/* a thread that reads and answers its own stays thread-per-request,
	 * others in flight or not */
	mkx(&b, 0xb2);
	parent_server_begin(&b, 10, 1000, 0);
	o = run_thread((struct other){.begin = &c});
	assert_int_equal(o.how, PARENT_FOUND);
	assert_int_equal(o.span, 0xc3);
	parent_server_end(&c, 50, 4000);
	/* a connection opened for a request: its origin holds until another
	 * server request begins (parent_begun) */
	uint64_t at = parent_begun();
	parent_server_begin(&c, 11, 1001, 0);
	assert_true(parent_begun() != at);
	parent_server_end(&c, 11, 1001);
	parent_server_end(&b, 10, 1000);
}

static void registry(void **state)
{
	struct exchange a, b, s1, s3;
	struct parent_ref r;

	(void)state;
	parent_after_fork();
	mkx(&a, 0xa1);
	parent_server_begin(&a, 10, 1000, 0); /* before any helper: not kept */
	parent_helpers_on();
	assert_int_equal(parent_for_key(10, 1000, 0, &r), PARENT_UNKNOWN);
	parent_server_end(&a, 10, 1000);
	mkx(&a, 0xa1);
	parent_server_begin(&a, 10, 1000, 0);
	assert_int_equal(parent_for_key(10, 1000, 0, &r), PARENT_FOUND);
	assert_int_equal(r.ctx.span_id[0], 0xa1);
	assert_int_equal(parent_for_key(10, 1001, 0, &r), PARENT_UNKNOWN); /* another peer */
	mkx(&b, 0xb2);
	parent_server_begin(&b, 10, 1000, 0); /* pipelined on the same connection */
	assert_int_equal(parent_for_key(10, 1000, 0, &r), PARENT_UNKNOWN);
	parent_server_end(&a, 10, 1000);
	assert_int_equal(parent_for_key(10, 1000, 0, &r), PARENT_FOUND);
	assert_int_equal(r.ctx.span_id[0], 0xb2);
	parent_server_end(&b, 10, 1000);
	assert_int_equal(parent_for_key(10, 1000, 0, &r), PARENT_UNKNOWN); /* ended */
	mkx(&s1, 0x51);
	mkx(&s3, 0x53);
	parent_server_begin(&s1, 12, 2000, 1); /* HTTP/2 streams of one connection */
	parent_server_begin(&s3, 12, 2000, 3);
	assert_int_equal(parent_for_key(12, 2000, 3, &r), PARENT_FOUND);
	assert_int_equal(r.ctx.span_id[0], 0x53);
	assert_int_equal(parent_for_key(12, 2000, 1, &r), PARENT_FOUND);
	assert_int_equal(r.ctx.span_id[0], 0x51);
	parent_server_end(&s1, 12, 2000);
	assert_int_equal(parent_for_key(12, 2000, 1, &r), PARENT_UNKNOWN);
	parent_server_end(&s3, 12, 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(thread_rules),
	    cmocka_unit_test(loop_rules),
	    cmocka_unit_test(shared_workers),
	    cmocka_unit_test(registry),
	};
	return cmocka_run_group_tests_name("parent", tests, NULL, NULL);
}

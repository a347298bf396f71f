/*
 * Unit tests: obs's background threads and their pace (userspace/base/
 * bgthread.c), with real threads and the kernel's own scheduler state: a
 * background thread is busy (SCHED_BATCH) until a pace thread runs, idle
 * (SCHED_IDLE) while the work keeps up, busy again as soon as it falls
 * behind, idle once the hold has passed; busy for good where it could not
 * come back from idle (no CAP_SYS_NICE, no RLIMIT_NICE); busy after the
 * pace thread stops. With nothing waiting and the threads idle, it looks
 * half as often (every 20 ms, not 10); where the work says what comes will
 * be announced, only at the announcement (or the wait's own time), and a
 * flood of announcements makes no more looks than every 10 ms. While
 * busy, every 100 ms. Its stop ends a wait at once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bgthread.h"
#include "monotime.h"

static int late; /* what behind() says */
static pid_t worker_tid;
static int worker_stop;
static unsigned looks; /* behind()'s calls */

static int news[2];    /* a pipe: a byte in it is an announcement */
static unsigned heard; /* wait()'s returns for one */

static enum bgthread_state behind(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&looks, 1, __ATOMIC_RELAXED);
	return __atomic_load_n(&late, __ATOMIC_ACQUIRE);
}

/* up to 400 ms, for a byte in the pipe or the stop */
static int wait_news(void *arg, int stop_fd)
{
	struct pollfd p[2] = {{.fd = news[0], .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
	int n = poll(p, 2, 400);

	(void)arg;
	if (n > 0 && p[0].revents)
		__atomic_add_fetch(&heard, 1, __ATOMIC_RELAXED);
	return n > 0;
}

static const struct bgthread_pace_ops ops = {behind, wait_news};

/* behind()'s calls over 300 ms */
static unsigned looks_in_300ms(void)
{
	unsigned a = __atomic_load_n(&looks, __ATOMIC_RELAXED);

	usleep(300000);
	return __atomic_load_n(&looks, __ATOMIC_RELAXED) - a;
}

static void *worker(void *arg)
{
	(void)arg;
	bgthread_background("obs-test");
	__atomic_store_n(&worker_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&worker_stop, __ATOMIC_ACQUIRE))
		usleep(1000);
	bgthread_done();
	return NULL;
}

/* The worker's policy once it is want, waiting up to 2 s; its last one. */
static int policy_becomes(int want)
{
	int p = -1;

	for (int i = 0; i < 200; i++) {
		p = sched_getscheduler(__atomic_load_n(&worker_tid, __ATOMIC_ACQUIRE));
		if (p == want)
			break;
		usleep(10000);
	}
	return p;
}

static void pace(void **state)
{
	pthread_t t;
	int idle_ok = bgthread_can_leave_idle();

	(void)state;
	assert_int_equal(pipe(news), 0);
	pthread_create(&t, NULL, worker, NULL);
	assert_int_equal(policy_becomes(SCHED_BATCH), SCHED_BATCH); /* no pace yet */
	assert_int_equal(bgthread_pace_start(&ops, NULL, 200), 0);
	if (!idle_ok) {
		/* it could never come back: it stays busy */
		usleep(100000);
		assert_int_equal(sched_getscheduler(worker_tid), SCHED_BATCH);
		assert_int_equal(bgthread_switches(), 0);
	} else {
		assert_int_equal(policy_becomes(SCHED_IDLE), SCHED_IDLE);
		__atomic_store_n(&late, 1, __ATOMIC_RELEASE);
		assert_int_equal(policy_becomes(SCHED_BATCH), SCHED_BATCH);
		assert_int_equal(bgthread_busy(), 1);
		/* busy: a look every 100 ms (3 in 300 ms), which can only
		 * extend the hold */
		unsigned busy_looks = looks_in_300ms();
		__atomic_store_n(&late, 0, __ATOMIC_RELEASE);
		usleep(50000); /* within the hold (its last look up to 100 ms ago): still busy */
		assert_int_equal(sched_getscheduler(worker_tid), SCHED_BATCH);
		assert_int_equal(policy_becomes(SCHED_IDLE), SCHED_IDLE);
		assert_true(bgthread_switches() >= 3);
		/* busy for at least the 350 ms above, and not since */
		uint64_t b = bgthread_busy_ns();
		assert_true(b >= 350000000ULL);
		usleep(50000);
		assert_int_equal(bgthread_busy_ns(), b);
		/* nothing waiting, idle: every 20 ms (15 looks in 300 ms; a
		 * late wake-up makes fewer, never more); at 10 ms, 30 */
		__atomic_store_n(&late, BGTHREAD_QUIET, __ATOMIC_RELEASE);
		usleep(30000);
		unsigned quiet = looks_in_300ms();
		__atomic_store_n(&late, 0, __ATOMIC_RELEASE);
		usleep(30000);
		unsigned keeping_up = looks_in_300ms();
		/* announced: a look at the wait's 400 ms, or an announcement */
		__atomic_store_n(&late, BGTHREAD_ANNOUNCED, __ATOMIC_RELEASE);
		usleep(30000);
		unsigned announced = looks_in_300ms();
		unsigned h = __atomic_load_n(&heard, __ATOMIC_RELAXED), l = looks;
		assert_int_equal(write(news[1], "x", 1), 1);
		usleep(50000);
		assert_true(__atomic_load_n(&heard, __ATOMIC_RELAXED) > h);
		assert_true(__atomic_load_n(&looks, __ATOMIC_RELAXED) > l);
		/* the byte stays: a flood, every wait ends at once */
		unsigned flooded = looks_in_300ms();
		print_message("looks in 300 ms: %u busy, %u with nothing waiting, %u keeping up, "
			      "%u announced, %u flooded with announcements\n",
			      busy_looks, quiet, keeping_up, announced, flooded);
		assert_true(busy_looks >= 1 && busy_looks <= 4);
		assert_true(quiet >= 5 && quiet <= 17);
		assert_true(keeping_up > quiet);
		assert_true(announced <= 1);
		assert_true(flooded >= 5 && flooded <= 32);
		assert_int_equal(sched_getscheduler(worker_tid), SCHED_IDLE);
		/* the stop ends a wait at once */
		char c;
		assert_int_equal(read(news[0], &c, 1), 1);
		usleep(30000);
	}
	uint64_t t0 = monotime_ns();
	bgthread_pace_stop(); /* draining at exit: busy */
	assert_true(monotime_ns() - t0 < 100000000ULL);
	assert_int_equal(policy_becomes(SCHED_BATCH), SCHED_BATCH);
	__atomic_store_n(&worker_stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pace),
	};
	return cmocka_run_group_tests_name("bgthread", tests, NULL, NULL);
}

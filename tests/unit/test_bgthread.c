/*
 * Unit tests: obs's background threads and their pace (userspace/base/
 * bgthread.c), with real threads and the kernel's own scheduler state: a
 * background thread is busy (SCHED_BATCH) until a pace thread runs, idle
 * (SCHED_IDLE) while the work keeps up, busy again as soon as it falls
 * behind, idle once the hold has passed; busy for good where it could not
 * come back from idle (no CAP_SYS_NICE, no RLIMIT_NICE); busy after the
 * pace thread stops. With nothing waiting and the threads idle, it looks
 * half as often (every 20 ms, not 10).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bgthread.h"

static int late; /* what behind() says */
static pid_t worker_tid;
static int worker_stop;
static unsigned looks; /* behind()'s calls */

static int behind(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&looks, 1, __ATOMIC_RELAXED);
	return __atomic_load_n(&late, __ATOMIC_ACQUIRE);
}

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
	pthread_create(&t, NULL, worker, NULL);
	assert_int_equal(policy_becomes(SCHED_BATCH), SCHED_BATCH); /* no pace yet */
	assert_int_equal(bgthread_pace_start(behind, NULL, 200), 0);
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
		__atomic_store_n(&late, 0, __ATOMIC_RELEASE);
		usleep(100000); /* within the hold: still busy */
		assert_int_equal(sched_getscheduler(worker_tid), SCHED_BATCH);
		assert_int_equal(policy_becomes(SCHED_IDLE), SCHED_IDLE);
		assert_true(bgthread_switches() >= 3);
		/* busy for at least the 100 ms above, and not since */
		uint64_t b = bgthread_busy_ns();
		assert_true(b >= 100000000ULL);
		usleep(50000);
		assert_int_equal(bgthread_busy_ns(), b);
		/* nothing waiting, idle: every 20 ms (15 looks in 300 ms; a
		 * late wake-up makes fewer, never more); at 10 ms, 30 */
		__atomic_store_n(&late, -1, __ATOMIC_RELEASE);
		usleep(30000);
		unsigned quiet = looks_in_300ms();
		__atomic_store_n(&late, 0, __ATOMIC_RELEASE);
		usleep(30000);
		unsigned keeping_up = looks_in_300ms();
		print_message("looks in 300 ms: %u with nothing waiting, %u keeping up\n", quiet,
			      keeping_up);
		assert_true(quiet >= 5 && quiet <= 17);
		assert_true(keeping_up > quiet);
		assert_int_equal(sched_getscheduler(worker_tid), SCHED_IDLE);
	}
	bgthread_pace_stop(); /* draining at exit: busy */
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

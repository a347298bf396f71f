#include "bgthread.h"
#include "monotime.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * Two modes, switched by the pace thread below:
 *  - idle (SCHED_IDLE): the app preempts these threads the moment it
 *    wakes. At 20k requests/s with every span exported, open loop
 *    (bench/http-overhead), the nginx worker's p99 went from 594-653 us
 *    under SCHED_BATCH to 272-378 us (bare: ~195): a batch thread that
 *    had the CPU kept it for its slice while the app waited.
 *  - busy (SCHED_BATCH at nice +5, a weight of 335 against the app's
 *    1024): when the work falls behind. SCHED_IDLE alone starved the
 *    exporter of a saturated app and dropped most spans; nice +5 keeps up
 *    with one, nothing dropped.
 * A 100 us custom slice (sched_setattr, Linux >= 6.12), also tried, did
 * not change the saturated app's p99 measurably. Busy in steps (nice
 * +15, then +10, then +5 while still behind), also tried: the p99 at 10%
 * sampling moved within the noise (medians of 4 interleaved rounds, 575
 * against 607 us), and at 100% the ring filled while it stepped up (365
 * spans dropped in one of two rounds).
 */
#define BG_NICE 5
#define BG_MAX	8
#define PACE_NS (10 * 1000000L) /* how often the pace thread looks */
/* ... while nothing waits: each look is a timer wake-up, ~55 us of CPU on
 * a VM whose timer exits are dear (measured: a bare nanosleep loop), 0.7%
 * of a CPU for an idle app at 100 a second. From an empty ring, a burst
 * is seen by 20 ms at the latest, at most half a ring at 68 000 sampled
 * spans a second, as the 10 ms looks saw it past 35% at worst. */
#define PACE_IDLE_NS (20 * 1000000L)
/* ... while busy, where a look can only extend the hold: the threads are
 * not starved then. Ten looks a second, not a hundred: every switch to
 * busy holds for seconds. */
#define PACE_BUSY_NS (100 * 1000000L)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t tids[BG_MAX];
static int busy = 1; /* until a pace thread says otherwise: never starved */
/* busy time so far, for obs's own metrics: an SRE sees when obs's threads
 * competed with the app for the CPU, and for how long */
static uint64_t busy_since, busy_ns;

static void set_mode(pid_t tid, int to_busy)
{
	struct sched_param sp = {0};

	/* per thread on Linux: a thread id where a pid goes */
	sched_setscheduler(tid, to_busy ? SCHED_BATCH : SCHED_IDLE, &sp);
}

void bgthread_background(const char *name)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	int listed = 0;

	pthread_setname_np(pthread_self(), name);
	setpriority(PRIO_PROCESS, (id_t)tid, BG_NICE);
	pthread_mutex_lock(&lock);
	if (busy && !busy_since)
		busy_since = monotime_ns(); /* (the first thread: busy from now) */
	for (int i = 0; i < BG_MAX && !listed; i++)
		if (!tids[i])
			tids[i] = tid, listed = 1;
	/* one the pace thread cannot switch back stays busy */
	set_mode(tid, busy || !listed);
	pthread_mutex_unlock(&lock);
}

void bgthread_done(void)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);

	/* under the lock: once gone from the list no one switches this id,
	 * which another process's thread may have next */
	pthread_mutex_lock(&lock);
	for (int i = 0; i < BG_MAX; i++)
		if (tids[i] == tid)
			tids[i] = 0;
	pthread_mutex_unlock(&lock);
}

/* A thread may leave SCHED_IDLE only with CAP_SYS_NICE, or an RLIMIT_NICE
 * that allows its nice value: without either, idle would be for good. */
static int can_leave_idle(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NICE, &rl) && rl.rlim_cur >= (rlim_t)(20 - BG_NICE))
		return 1;
	return !syscall(SYS_capget, &hdr, d) && (d[0].effective & (1u << CAP_SYS_NICE));
}

int bgthread_can_leave_idle(void)
{
	return can_leave_idle();
}

static void set_busy(int to_busy)
{
	pthread_mutex_lock(&lock);
	if (busy != to_busy) {
		uint64_t now = monotime_ns();

		if (busy && busy_since)
			busy_ns += now - busy_since;
		busy_since = to_busy ? now : 0;
		busy = to_busy;
		for (int i = 0; i < BG_MAX; i++)
			if (tids[i])
				set_mode(tids[i], to_busy);
	}
	pthread_mutex_unlock(&lock);
}

int bgthread_busy(void)
{
	pthread_mutex_lock(&lock);
	int b = busy;
	pthread_mutex_unlock(&lock);
	return b;
}

/* ---- the pace thread -------------------------------------------------- */

struct pace {
	pthread_t thread;
	struct bgthread_pace_ops ops;
	void *arg;
	int stop;
	int stop_fd;	  /* readable once stop is set: a sleep or ops->wait ends at once */
	uint64_t hold_ns; /* busy at least this long once behind */
	uint64_t switches;
};
static struct pace pace;
static int pace_running;

/* Sleep ns, or less if the pace thread is stopped (its stop_fd). */
static void pace_sleep(const struct pace *p, long ns)
{
	struct pollfd pfd = {.fd = p->stop_fd, .events = POLLIN};

	if (p->stop_fd < 0 || poll(&pfd, 1, (int)(ns / 1000000)) < 0)
		nanosleep(&(struct timespec){0, ns}, NULL);
}

/* An ordinary thread, so that it runs when the idle ones cannot: it looks
 * every 10 ms (a few microseconds each) and switches them. Each look is a
 * wake-up, ~25-55 us of CPU on this VM, so while the threads are idle it
 * looks less often where it can: every 20 ms with nothing waiting, and
 * only when announced (or at ops->wait's time) where the work says it
 * will be: at 10% sampling of a saturated nginx, 100 looks a second were
 * half of obs's CPU per exported span. */
static void *pace_thread(void *arg)
{
	struct pace *p = arg;
	uint64_t busy_until = 0;
	enum bgthread_state b = BGTHREAD_KEEPING_UP;
	int woke = 0;

	pthread_setname_np(pthread_self(), "obs-pace");
	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		uint64_t now = monotime_ns();
		int idle = now >= busy_until, waited = -1;

		if (b == BGTHREAD_ANNOUNCED && idle && p->ops.wait) {
			if (woke) /* at most a look every 10 ms, however many come */
				pace_sleep(p, PACE_NS);
			waited = p->ops.wait(p->arg, p->stop_fd);
		}
		if (waited < 0)
			pace_sleep(p, !idle		    ? PACE_BUSY_NS
				      : b == BGTHREAD_QUIET ? PACE_IDLE_NS
							    : PACE_NS);
		woke = waited > 0;
		now = monotime_ns();
		b = p->ops.behind(p->arg);
		if (b == BGTHREAD_BEHIND)
			busy_until = now + p->hold_ns;
		if ((now < busy_until) == bgthread_busy())
			continue;
		if (now >= busy_until && !can_leave_idle())
			continue; /* (privileges dropped without it: busy for good) */
		set_busy(now < busy_until);
		__atomic_add_fetch(&p->switches, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

int bgthread_pace_start(const struct bgthread_pace_ops *ops, void *arg, unsigned hold_ms)
{
	if (pace_running)
		return 0;
	pace = (struct pace){.ops = *ops, .arg = arg, .hold_ns = hold_ms * 1000000ULL};
	pace.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pace.stop_fd < 0)
		pace.ops.wait = NULL; /* (it sleeps instead: each wait must end at stop) */
	if (pthread_create(&pace.thread, NULL, pace_thread, &pace)) {
		if (pace.stop_fd >= 0)
			close(pace.stop_fd);
		return -1; /* no one to switch them: they stay busy, never starved */
	}
	pace_running = 1;
	return 0;
}

void bgthread_pace_stop(void)
{
	if (!pace_running)
		return;
	__atomic_store_n(&pace.stop, 1, __ATOMIC_RELEASE);
	if (pace.stop_fd >= 0)
		eventfd_write(pace.stop_fd, 1); /* (a counter far from full: never fails) */
	pthread_join(pace.thread, NULL);
	if (pace.stop_fd >= 0)
		close(pace.stop_fd);
	pace_running = 0;
	set_busy(1); /* draining at exit: no longer idle */
}

uint64_t bgthread_switches(void)
{
	return __atomic_load_n(&pace.switches, __ATOMIC_RELAXED);
}

uint64_t bgthread_busy_ns(void)
{
	pthread_mutex_lock(&lock);
	uint64_t ns = busy_ns + (busy && busy_since ? monotime_ns() - busy_since : 0);
	pthread_mutex_unlock(&lock);
	return ns;
}

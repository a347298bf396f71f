/* bgthread - how obs's own helper threads yield the CPU to the traced app. */
#ifndef OBS_BGTHREAD_H
#define OBS_BGTHREAD_H
#include <stdint.h>

/*
 * Name the calling thread (top -H, /proc/PID/task/TID/comm) and make it a
 * background thread, at nice +5 and in the mode the pace thread chose:
 * idle (SCHED_IDLE: the app preempts it at once) while the work keeps up,
 * busy (SCHED_BATCH: never preempts the app on wake-up, and gets a third
 * of its share when CPU is short) once it falls behind. Busy until a pace
 * thread runs. Best effort: a failure leaves the thread as it was.
 */
void bgthread_background(const char *name);
/* The calling background thread ends: it is switched no more. */
void bgthread_done(void);
/* 1 while the background threads are busy. */
int bgthread_busy(void);
/* What the pace thread's behind() says. */
enum bgthread_state {
	BGTHREAD_BEHIND = 1,	 /* busy, for at least the hold */
	BGTHREAD_KEEPING_UP = 0, /* look again in 10 ms */
	BGTHREAD_QUIET = -1,	 /* nothing waits: while idle, look every 20 ms */
	BGTHREAD_ANNOUNCED = -2, /* what comes will be announced: while idle, wait() */
};
struct bgthread_pace_ops {
	/* must not block on a lock a background thread may hold (it may be
	 * the one starved) */
	enum bgthread_state (*behind)(void *arg);
	/* optional: after BGTHREAD_ANNOUNCED, wait for the announcement, or
	 * stop_fd readable (the pace thread stops), up to a time of its
	 * choosing; 1 if either came (the next wait then comes 10 ms later:
	 * a flood of announcements costs no more looks than a pace that
	 * never waits), 0 at the time, -1 if it could not wait (a 10 ms
	 * sleep instead) */
	int (*wait)(void *arg, int stop_fd);
};
/*
 * Start the pace thread: it asks ops->behind(arg) every 10 ms, less
 * often while the threads are idle and it says nothing waits or what
 * comes will be announced. Behind means busy for at least hold_ms, then
 * idle again.
 * Idle only where a thread can come back (bgthread_can_leave_idle).
 * 0 on success; -1 leaves the threads busy.
 */
int bgthread_pace_start(const struct bgthread_pace_ops *ops, void *arg, unsigned hold_ms);
/* CAP_SYS_NICE, or an RLIMIT_NICE that allows nice +5: a thread may
 * leave SCHED_IDLE. */
int bgthread_can_leave_idle(void);
/* Stop it; the threads go back to busy (draining at exit). */
void bgthread_pace_stop(void);
/* Switches between idle and busy so far (by the pace thread). */
uint64_t bgthread_switches(void);
/* Nanoseconds the background threads have been busy so far (from the
 * first one's start; at most the process's lifetime). */
uint64_t bgthread_busy_ns(void);

#endif

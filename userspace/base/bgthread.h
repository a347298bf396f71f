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
/*
 * Start the pace thread: every 10 ms it asks behind(arg), which must not
 * block on a lock a background thread may hold (it may be the one
 * starved): > 0 behind, which means busy for at least hold_ms, then idle
 * again; 0 keeping up; < 0 nothing waiting at all, and while that holds
 * and the threads are idle it asks every 20 ms.
 * Idle only where a thread can come back (bgthread_can_leave_idle).
 * 0 on success; -1 leaves the threads busy.
 */
int bgthread_pace_start(int (*behind)(void *arg), void *arg, unsigned hold_ms);
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

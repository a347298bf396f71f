/* bgthread - how obs's own helper threads yield the CPU to the traced app. */
#ifndef OBS_BGTHREAD_H
#define OBS_BGTHREAD_H

/*
 * Name the calling thread (top -H, /proc/PID/task/TID/comm) and make it a
 * background thread: SCHED_BATCH (it never preempts the app on wake-up)
 * at a lower priority, so that when CPU is short the traced app gets the
 * larger share. (It did not measurably change the app's p99 under export
 * load: see docs/design.md, "Measured".) Best effort: a failure leaves
 * the thread as it was.
 */
void bgthread_background(const char *name);

#endif

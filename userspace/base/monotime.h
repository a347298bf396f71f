/*
 * monotime - CLOCK_MONOTONIC in nanoseconds: the clock span times, paces
 * and stall timeouts are measured in (the BPF side's bpf_ktime_get_ns too).
 */
#ifndef OBS_MONOTIME_H
#define OBS_MONOTIME_H
#include <stdint.h>

uint64_t monotime_ns(void);

#endif

/*
 * hist - log2 latency histogram math, shared with the BPF side's slot
 * layout (bpf/obs.h): slot k counts values v with 2^(k-1) < v <= 2^k ns.
 */
#ifndef OBS_HIST_H
#define OBS_HIST_H
#include <stdint.h>

#include <linux/types.h>
#include "obs.h"

/* Slot of a value in ns (same function the BPF programs compute). */
unsigned hist_slot(uint64_t v);
/* Inclusive upper bound of slot k in ns; UINT64_MAX for the last slot. */
uint64_t hist_slot_upper_ns(unsigned k);
uint64_t hist_total(const __u64 *slots);
/* Upper bound (ns) of the slot holding quantile q (0..1); 0 if empty. */
uint64_t hist_quantile_ns(const __u64 *slots, double q);
/* Highest non-empty slot, or -1. */
int hist_max_slot(const __u64 *slots);
void hist_add(__u64 *dst, const __u64 *src);

/*
 * Buckets exported to Prometheus: a subset of slots (every other power of
 * two from 256 ns to ~17 s) keeps series counts reasonable; the terminal
 * views use all slots.
 */
#define HIST_EXPORT_BUCKETS 14
extern const unsigned hist_export_slots[HIST_EXPORT_BUCKETS];
/* Cumulative counts for each exported bucket (le = 2^slot ns). */
void hist_cumulative(const __u64 *slots, uint64_t out[HIST_EXPORT_BUCKETS]);

#endif

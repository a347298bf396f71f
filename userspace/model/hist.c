#include "hist.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "obs_log2.h"

const unsigned hist_export_slots[HIST_EXPORT_BUCKETS] = {8,  10, 12, 14, 16, 18, 20,
							 22, 24, 26, 28, 30, 32, 34};

unsigned hist_slot(uint64_t v)
{
	return obs_hist_slot(v);
}

uint64_t hist_slot_upper_ns(unsigned k)
{
	if (k >= OBS_HIST_SLOTS - 1)
		return UINT64_MAX;
	return (uint64_t)1 << k;
}

uint64_t hist_total(const __u64 *slots)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < OBS_HIST_SLOTS; i++)
		t += slots[i];
	return t;
}

uint64_t hist_quantile_ns(const __u64 *slots, double q)
{
	uint64_t total = hist_total(slots), seen = 0, rank;

	if (!total)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	rank = (uint64_t)(q * (double)total + 0.999999);
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < OBS_HIST_SLOTS; i++) {
		seen += slots[i];
		if (seen >= rank)
			return hist_slot_upper_ns(i);
	}
	return UINT64_MAX;
}

int hist_max_slot(const __u64 *slots)
{
	for (int i = OBS_HIST_SLOTS - 1; i >= 0; i--)
		if (slots[i])
			return i;
	return -1;
}

void hist_add(__u64 *dst, const __u64 *src)
{
	for (unsigned i = 0; i < OBS_HIST_SLOTS; i++)
		dst[i] += src[i];
}

void hist_cumulative(const __u64 *slots, uint64_t out[HIST_EXPORT_BUCKETS])
{
	uint64_t acc = 0;
	unsigned s = 0;

	for (unsigned b = 0; b < HIST_EXPORT_BUCKETS; b++) {
		for (; s <= hist_export_slots[b]; s++)
			acc += slots[s];
		out[b] = acc;
	}
}

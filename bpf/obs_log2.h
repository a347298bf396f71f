/* SPDX-License-Identifier: MIT */
/*
 * obs_log2.h - the histogram slot function, one definition for the BPF
 * programs and for userspace (hist.c), so both bucket values identically.
 * Shifts only: clang 14 crashes on __builtin_clzll for the BPF target.
 */
#ifndef OBS_LOG2_H
#define OBS_LOG2_H

/* Slot k counts v with 2^(k-1) < v <= 2^k (ns); slot 0 counts v <= 1. */
static __always_inline __u32 obs_hist_slot(__u64 v)
{
	__u32 r, shift;

	if (v <= 1)
		return 0;
	v -= 1;
	r = (v > 0xFFFFFFFFULL) << 5;
	v >>= r;
	shift = (v > 0xFFFF) << 4;
	v >>= shift;
	r |= shift;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	r += 1;
	return r < OBS_HIST_SLOTS ? r : OBS_HIST_SLOTS - 1;
}

#endif

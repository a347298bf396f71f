/*
 * report - terminal views of a snapshot: bcc-style log2 histograms, a
 * slowest-first table, and obs-run's exit summary.
 */
#ifndef OBS_REPORT_H
#define OBS_REPORT_H
#include <stdio.h>

#include "collector.h"

/* "512ns", "1.5us", "16ms", "2.1s" */
void report_fmt_ns(char *buf, size_t len, uint64_t ns);
/* One histogram, bcc style. Prints nothing for an empty histogram. */
void report_hist(FILE *f, const char *title, const __u64 *slots);
/* All histograms of a snapshot merged over slots, then the table. */
void report_triage(FILE *f, const struct obs_snapshot *s, unsigned top);
/* obs-run's compact summary. */
void report_summary(FILE *f, const struct obs_snapshot *s, unsigned top);
/* s -= prev, for interval output (both sorted by key as read). */
void report_subtract(struct obs_snapshot *s, const struct obs_snapshot *prev);

#endif

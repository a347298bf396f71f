/* triage - `obs triage`: ad-hoc latency histograms in the terminal. */
#ifndef OBS_TRIAGE_H
#define OBS_TRIAGE_H
#include "cli.h"

int triage_main(const struct obs_opts *o);

#endif

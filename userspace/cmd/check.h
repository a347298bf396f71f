/* check - `obs check`: report each kernel feature obs needs. */
#ifndef OBS_CHECK_H
#define OBS_CHECK_H
#include "cli.h"

/* Print the report to stdout; returns 0 if obs can run here, else 1. */
int check_main(const struct obs_opts *o);

#endif

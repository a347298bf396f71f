/* run - `obs-run CMD`: run a command and everything it starts under obs. */
#ifndef OBS_RUN_H
#define OBS_RUN_H
#include "cli.h"

/* Returns the exit status obs-run should exit with. */
int run_main(const struct obs_opts *o);

#endif

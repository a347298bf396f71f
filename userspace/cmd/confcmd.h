/* confcmd - `obs config check FILE`: validate a config file and show the
 * settings obs would run with. */
#ifndef OBS_CONFCMD_H
#define OBS_CONFCMD_H
#include "cli.h"

/* 0 if valid, 1 if not (the message names the key and its line). */
int confcmd_main(const struct obs_opts *o);

#endif

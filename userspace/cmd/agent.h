/* agent - `obs agent`: every process on the node, labelled by service. */
#ifndef OBS_AGENT_H
#define OBS_AGENT_H
#include "cli.h"

int agent_main(const struct obs_opts *o);

#endif

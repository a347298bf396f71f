/*
 * redsum - the exit summary's table of what the protocols counted: each
 * series of the RED families (HTTP requests, RPC calls, Redis commands)
 * a row, slowest in total first, with its count, total, average and the
 * bucket bounds its median and 99th percentile fall under.
 */
#ifndef OBS_REDSUM_H
#define OBS_REDSUM_H
#include <stdio.h>

#include "redagg.h"

/* Print a's top rows by total time (nothing if a has none). */
void redsum_print(FILE *f, const struct redagg *a, unsigned top);

#endif

/* selfstat - obs's own resource use, for the self-metrics. */
#ifndef OBS_SELFSTAT_H
#define OBS_SELFSTAT_H
#include <stdint.h>

uint64_t selfstat_rss_bytes(void);
double selfstat_cpu_seconds(void);

#endif

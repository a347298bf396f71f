/* privs - what privileges this process holds for loading BPF. */
#ifndef OBS_PRIVS_H
#define OBS_PRIVS_H
#include <stddef.h>

/* 1 if the effective set has capability cap (CAP_* number). */
int privs_has_cap(int cap);
/*
 * 0 if obs can load and attach its programs (CAP_BPF + CAP_PERFMON, or
 * CAP_SYS_ADMIN); else -1 and a message naming what is missing and how to
 * get it.
 */
int privs_check(char *err, size_t errlen);
/* The requirement checks every loading subcommand runs first. */
int privs_check_all(char *err, size_t errlen);

#endif

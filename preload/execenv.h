/* execenv - what a fresh environment handed to execve() lacks for the shim
 * to follow the child (a supervisor's env={PATH: ...}): the preload itself,
 * the collector's socket and key, the sampler. */
#ifndef OBS_EXECENV_H
#define OBS_EXECENV_H
#include <stddef.h>

#define EXECENV_KEEP 7 /* the variables kept */

/* The "NAME=value" strings of this process's environment that envp lacks,
 * into add (EXECENV_KEEP entries); how many. 0 with OBS_PRELOAD_INHERIT=0. */
size_t execenv_missing(char *const envp[], char *add[EXECENV_KEEP]);

#endif

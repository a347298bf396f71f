/*
 * link.h - this process's region and its handover to the collector
 * (link.c).
 */
#ifndef OBS_LINK_H
#define OBS_LINK_H
#include <stdint.h>

#include "region.h"
#include "shim.h"

/* Where the collector listens: OBS_SOCKET, else obs.sock in shim_dir
 * (with its trailing '/'; the agent publishes both there). */
void link_init(const char *shim_dir) SHIM_HIDDEN;
/* This process's region, made (and handed over) on first use; NULL when
 * no collector is configured or it cannot be made. Preserves errno. */
struct region *link_region(void) SHIM_HIDDEN;
/* At most once a second: hand the region over again if the collector
 * did not have it or went away. Preserves errno. */
void link_check(uint64_t now) SHIM_HIDDEN;
/* In a forked child: the parent's region is not its own. */
void link_after_fork(void) SHIM_HIDDEN;
/* The app closed (or dup2'd over) an fd of ours. */
int link_owns_fd(int fd) SHIM_HIDDEN;
void link_fd_closed(int fd) SHIM_HIDDEN;
/* The ring asked for the collector (spanring_push returned 1): one byte on
 * the socket wakes it. Never waits; skipped if another thread is busy with
 * the socket (the collector also looks by itself, later). */
void link_wake(void) SHIM_HIDDEN;
/* The route patterns the collector published (NULL: none). */
const struct route_table *link_routes(struct region *r) SHIM_HIDDEN;

#endif

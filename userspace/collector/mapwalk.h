/*
 * mapwalk.h - every entry of a BPF map, read in batches.
 *
 * A scrape reads the kernel's maps whole. Entry by entry that is two
 * syscalls an entry (get_next_key, lookup), each with its own kernel
 * allocation, and the syscall tracepoints obs itself attached fire on
 * every one: most of a scrape's time. BPF_MAP_LOOKUP_BATCH returns
 * hundreds of entries a syscall. Where the kernel has no batch operations
 * for the map (before 5.6, or a map type without them), the walk falls
 * back to entry by entry, with the same result.
 */
#ifndef OBS_MAPWALK_H
#define OBS_MAPWALK_H

#include <stddef.h>

/* Called for each entry: key, and its value (for a per-CPU map, one
 * value per possible CPU, each rounded up to 8 bytes). Nonzero stops
 * the walk, and mapwalk returns it. */
typedef int (*mapwalk_fn)(void *ctx, const void *key, const void *value);

/*
 * Walk map fd, whose keys are key_size bytes and whose values, as a lookup
 * returns them, value_size bytes (per-CPU maps: the rounded size times the
 * possible CPUs). Returns 0, fn's nonzero return, or -errno (-ENOMEM, or
 * the kernel's error). *entries (if not NULL) gets the entries seen.
 */
int mapwalk(int fd, size_t key_size, size_t value_size, mapwalk_fn fn, void *ctx, size_t *entries);

#endif

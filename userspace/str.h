/* str - bounded string copies for hot paths (snprintf("%s") costs more
 * than the rest of a span's handling). Pure; shared by shim and collector. */
#ifndef OBS_STR_H
#define OBS_STR_H
#include <stddef.h>

/* Copy src into dst[size] (size > 0), truncating; returns the length. */
size_t str_copy(char *dst, size_t size, const char *src);
/* Append src at dst[at] (at < size), truncating; returns the new length. */
size_t str_append(char *dst, size_t size, size_t at, const char *src);

#endif

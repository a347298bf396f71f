/* str - bounded string copies for hot paths (snprintf("%s") costs more
 * than the rest of a span's handling). Pure; shared by shim and collector. */
#ifndef OBS_STR_H
#define OBS_STR_H
#include <stddef.h>
#include <stdint.h>

/* Copy src into dst[size] (size > 0), truncating; returns the length. */
size_t str_copy(char *dst, size_t size, const char *src);
/* The value of a hex digit (either case), or -1. */
int str_hexval(int c);
/* Append src at dst[at] (at < size), truncating; returns the new length. */
size_t str_append(char *dst, size_t size, size_t at, const char *src);
/* 64-bit FNV-1a of n bytes at p, continuing from h (STR_FNV1A_INIT to
 * start): a fast hash for tables and change detection, not for security. */
#define STR_FNV1A_INIT 14695981039346656037ULL
uint64_t str_fnv1a(uint64_t h, const void *p, size_t n);
/* v in decimal into dst (at least 21 bytes), NUL-terminated; its length.
 * (snprintf's cost, on every request, for a status code.) */
size_t str_u64(char *dst, uint64_t v);
/* The length of the longest prefix of s[n] that is well-formed UTF-8
 * (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). A
 * label or attribute value that is not is rejected whole by Prometheus and
 * by OTLP receivers: one bad request path would cost every series or span
 * around it. */
size_t str_utf8_valid(const char *s, size_t n);
/* Make s (NUL-terminated) well-formed UTF-8 in place: each byte that starts
 * no valid sequence becomes '?'. Returns how many bytes were replaced. */
size_t str_utf8_fix(char *s);
/* The same for the n bytes at s (no NUL needed). */
size_t str_utf8_fix_n(char *s, size_t n);

#endif

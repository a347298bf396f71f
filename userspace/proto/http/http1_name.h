/*
 * http1_name - header names compared in any case, a few words at a time:
 * shared by the HTTP/1 parser (every header of every message) and the
 * injection scanner. Defined here, inline: a dozen instructions.
 */
#ifndef OBS_HTTP1_NAME_H
#define OBS_HTTP1_NAME_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* name (len bytes, 4 or more) is want, a lowercase name of exactly len
 * bytes, in any case: a few words, the last one overlapping, on every
 * header of every message. Exact where name's bytes are tchars
 * (parse_header checked them) or want has no '-' (the scanner's names):
 * c | 0x20 is then a lowercase letter or '-' only for that letter, in
 * either case, or '-'. */
static inline int http1_name_eq(const char *name, const char *want, size_t len)
{
	uint64_t a, b;
	uint32_t c, d;
	size_t i = 0;

	if (len < 8) {
		memcpy(&c, name, 4), memcpy(&d, want, 4);
		if ((c | 0x20202020U) != d)
			return 0;
		memcpy(&c, name + len - 4, 4), memcpy(&d, want + len - 4, 4);
		return (c | 0x20202020U) == d;
	}
	for (;; i += 8) {
		if (i + 8 > len)
			i = len - 8;
		memcpy(&a, name + i, 8), memcpy(&b, want + i, 8);
		if ((a | 0x2020202020202020ULL) != b)
			return 0;
		if (i + 8 == len)
			return 1;
	}
}

#endif

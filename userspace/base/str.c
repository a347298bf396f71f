#include "str.h"

#include <string.h>

size_t str_copy(char *dst, size_t size, const char *src)
{
	return str_append(dst, size, 0, src);
}

size_t str_append(char *dst, size_t size, size_t at, const char *src)
{
	size_t n = strnlen(src, size - at - 1);

	memcpy(dst + at, src, n);
	dst[at + n] = 0;
	return at + n;
}

uint64_t str_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

size_t str_utf8_valid(const char *s, size_t n)
{
	const unsigned char *b = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c, len, lo = 0x80, hi = 0xbf;
		uint64_t w;

		/* ASCII a word at a time: nearly every byte of every span's
		 * strings (the collector checks each one) */
		for (; n - i >= 8; i += 8) {
			memcpy(&w, b + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
		}
		if (i == n)
			break;
		if (n >= 8 && n - i < 8) { /* the tail: the last 8 bytes, overlapping */
			memcpy(&w, b + n - 8, 8);
			if (!(w & 0x8080808080808080ULL))
				break; /* from i (a boundary) to n: ASCII */
		}
		c = b[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		else
			return i;
		if (n - i < len || b[i + 1] < lo || b[i + 1] > hi)
			return i;
		for (unsigned k = 2; k < len; k++)
			if (b[i + k] < 0x80 || b[i + k] > 0xbf)
				return i;
		i += len;
	}
	return n;
}

size_t str_utf8_fix(char *s)
{
	return str_utf8_fix_n(s, strlen(s));
}

size_t str_utf8_fix_n(char *s, size_t n)
{
	const unsigned char *b = (const unsigned char *)s;
	uint64_t any = 0, w;
	size_t i = 0, fixed = 0;

	/* nearly every string is ASCII and short (a method, an address):
	 * one OR over its bytes, before the validator's byte-wise path */
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, b + i, 8);
		any |= w;
	}
	for (; i < n; i++)
		any |= b[i];
	if (!(any & 0x8080808080808080ULL))
		return 0;
	i = 0;
	while ((i += str_utf8_valid(s + i, n - i)) < n) {
		s[i++] = '?';
		fixed++;
	}
	return fixed;
}

size_t str_u64(char *dst, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		dst[i++] = tmp[--n];
	dst[i] = 0;
	return i;
}

int str_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

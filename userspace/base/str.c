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

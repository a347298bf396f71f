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

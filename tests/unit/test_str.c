/* Unit tests: bounded string copies (str.c) at every destination size. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "str.h"

static void test_copy_every_size(void **state)
{
	(void)state;
	const char *src = "GET /users/42";
	size_t len = strlen(src);

	for (size_t size = 1; size <= len + 3; size++) {
		char dst[32];
		memset(dst, 'x', sizeof(dst));
		size_t n = str_copy(dst, size, src);
		size_t want = size - 1 < len ? size - 1 : len;
		assert_int_equal(n, want);
		assert_int_equal(strlen(dst), want);
		assert_memory_equal(dst, src, want);
		assert_int_equal(dst[size], 'x'); /* nothing past the bound */
	}
}

static void test_append(void **state)
{
	(void)state;
	char url[17];
	size_t at = str_copy(url, sizeof(url), "http");

	at = str_append(url, sizeof(url), at, "://");
	at = str_append(url, sizeof(url), at, "127.0.0.1");
	assert_string_equal(url, "http://127.0.0.1");
	assert_int_equal(at, 16);
	at = str_append(url, sizeof(url), at, "/more"); /* full: stays terminated */
	assert_int_equal(at, 16);
	assert_string_equal(url, "http://127.0.0.1");
	assert_int_equal(str_copy(url, 1, "abc"), 0);
	assert_string_equal(url, "");
}

/* The published FNV-1a 64 test vectors; a continued hash equals one pass. */
static void test_fnv1a(void **state)
{
	(void)state;
	assert_true(str_fnv1a(STR_FNV1A_INIT, "", 0) == 0xcbf29ce484222325ULL);
	assert_true(str_fnv1a(STR_FNV1A_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(str_fnv1a(STR_FNV1A_INIT, "foobar", 6) == 0x85944171f73967e8ULL);
	assert_true(str_fnv1a(str_fnv1a(STR_FNV1A_INIT, "foo", 3), "bar", 3) ==
		    0x85944171f73967e8ULL);
}

static void test_u64(void **state)
{
	static const uint64_t v[] = {0, 7, 10, 200, 503, 65535, 18446744073709551615ULL};
	char got[24], want[24];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
		assert_int_equal(str_u64(got, v[i]), strlen(want));
		assert_string_equal(got, want);
	}
}

static void test_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *in, *fixed;
	} c[] = {
	    {"/plain/ascii", "/plain/ascii"},
	    {"/caf\xc3\xa9", "/caf\xc3\xa9"},				      /* é */
	    {"\xe2\x82\xac\xf0\x9f\x98\x80", "\xe2\x82\xac\xf0\x9f\x98\x80"}, /* € 😀 */
	    {"/a\xff"
	     "b",
	     "/a?b"},			    /* never in UTF-8 */
	    {"/\xc0\xaf", "/??"},	    /* overlong '/' */
	    {"/\xe0\x80\xaf", "/???"},	    /* overlong, 3 bytes */
	    {"/\xed\xa0\x80", "/???"},	    /* a surrogate */
	    {"/\xf4\x90\x80\x80", "/????"}, /* past U+10FFFF */
	    {"/\xc3", "/?"},		    /* cut short */
	    {"/\xe2\x82x", "/??x"},	    /* cut short, then ASCII */
	    {"\x80\x80", "??"},		    /* continuation bytes alone */
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		size_t n = strlen(c[i].in), bad = 0;

		for (size_t k = 0; k < n; k++)
			bad += c[i].in[k] != c[i].fixed[k];
		assert_int_equal(str_utf8_valid(c[i].in, n) == n, bad == 0);
		str_copy(buf, sizeof(buf), c[i].in);
		assert_int_equal(str_utf8_fix(buf), bad);
		assert_string_equal(buf, c[i].fixed);
		assert_int_equal(str_utf8_valid(buf, strlen(buf)), strlen(buf));
	}
}

/* The byte-at-a-time reading of RFC 3629's table: how far s is UTF-8. */
static size_t utf8_ref(const unsigned char *b, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = b[i], len, lo = 0x80, hi = 0xbf;
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

/* ASCII is read 8 bytes at a time: every byte value, and every 2- to
 * 4-byte sequence from a set of edge values, at every offset of a 40-byte
 * ASCII run, must stop where the plain reading stops. */
static void test_utf8_words(void **state)
{
	(void)state;
	static const unsigned char edge[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
					     0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
					     0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
	unsigned char buf[40];
	size_t ne = sizeof(edge);

	for (size_t at = 0; at < sizeof(buf); at++) {
		for (int v = 0; v < 256; v++) {
			memset(buf, 'a', sizeof(buf));
			buf[at] = (unsigned char)v;
			for (size_t n = at; n <= sizeof(buf); n += 7)
				assert_int_equal(str_utf8_valid((char *)buf, n), utf8_ref(buf, n));
		}
		for (size_t x = 0; x < ne * ne * ne; x++) {
			memset(buf, 'a', sizeof(buf));
			buf[at] = edge[x % ne];
			if (at + 1 < sizeof(buf))
				buf[at + 1] = edge[x / ne % ne];
			if (at + 2 < sizeof(buf))
				buf[at + 2] = edge[x / ne / ne];
			if (at + 3 < sizeof(buf))
				buf[at + 3] = 0x80;
			assert_int_equal(str_utf8_valid((char *)buf, sizeof(buf)),
					 utf8_ref(buf, sizeof(buf)));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_copy_every_size),
					   cmocka_unit_test(test_append),
					   cmocka_unit_test(test_fnv1a),
					   cmocka_unit_test(test_u64),
					   cmocka_unit_test(test_utf8),
					   cmocka_unit_test(test_utf8_words)};
	return cmocka_run_group_tests_name("str", tests, NULL, NULL);
}

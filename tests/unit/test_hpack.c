/*
 * Unit tests: HPACK (hpack.c). Every example of RFC 7541 Appendix C
 * (integers C.1, fields C.2, request sequences C.3/C.4, response sequences
 * C.5/C.6 with a 256-byte table, evictions included), the encoder pieces
 * against the same bytes, and malformed blocks: the decoder must refuse
 * them and stay refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hpack.h"

struct vec {
	const char *name;
	int reset; /* 1: new decoder, 2: new decoder with a 256-byte table */
	const char *bytes;
	size_t len;
};

/* RFC 7541 Appendix C, in order (checked with python3-hpack too). */
static const struct vec vectors[] = {
    {"C.2.1", 0,
     "\x40\x0a\x63\x75\x73\x74\x6f\x6d\x2d\x6b\x65\x79\x0d\x63\x75\x73\x74\x6f\x6d\x2d\x68\x65\x61"
     "\x64\x65\x72",
     26},
    {"C.2.2", 0, "\x04\x0c\x2f\x73\x61\x6d\x70\x6c\x65\x2f\x70\x61\x74\x68", 14},
    {"C.2.3", 0, "\x10\x08\x70\x61\x73\x73\x77\x6f\x72\x64\x06\x73\x65\x63\x72\x65\x74", 17},
    {"C.2.4", 0, "\x82", 1},
    {"C.3.1", 1, "\x82\x86\x84\x41\x0f\x77\x77\x77\x2e\x65\x78\x61\x6d\x70\x6c\x65\x2e\x63\x6f\x6d",
     20},
    {"C.3.2", 0, "\x82\x86\x84\xbe\x58\x08\x6e\x6f\x2d\x63\x61\x63\x68\x65", 14},
    {"C.3.3", 0,
     "\x82\x87\x85\xbf\x40\x0a\x63\x75\x73\x74\x6f\x6d\x2d\x6b\x65\x79\x0c\x63\x75\x73\x74\x6f\x6d"
     "\x2d\x76\x61\x6c\x75\x65",
     29},
    {"C.4.1", 1, "\x82\x86\x84\x41\x8c\xf1\xe3\xc2\xe5\xf2\x3a\x6b\xa0\xab\x90\xf4\xff", 17},
    {"C.4.2", 0, "\x82\x86\x84\xbe\x58\x86\xa8\xeb\x10\x64\x9c\xbf", 12},
    {"C.4.3", 0,
     "\x82\x87\x85\xbf\x40\x88\x25\xa8\x49\xe9\x5b\xa9\x7d\x7f\x89\x25\xa8\x49\xe9\x5b\xb8\xe8\xb4"
     "\xbf",
     24},
    {"C.5.1", 2,
     "\x48\x03\x33\x30\x32\x58\x07\x70\x72\x69\x76\x61\x74\x65\x61\x1d\x4d\x6f\x6e\x2c\x20\x32\x31"
     "\x20\x4f\x63\x74\x20\x32\x30\x31\x33\x20\x32\x30\x3a\x31\x33\x3a\x32\x31\x20\x47\x4d\x54\x6e"
     "\x17\x68\x74\x74\x70\x73\x3a\x2f\x2f\x77\x77\x77\x2e\x65\x78\x61\x6d\x70\x6c\x65\x2e\x63\x6f"
     "\x6d",
     70},
    {"C.5.2", 0, "\x48\x03\x33\x30\x37\xc1\xc0\xbf", 8},
    {"C.5.3", 0,
     "\x88\xc1\x61\x1d\x4d\x6f\x6e\x2c\x20\x32\x31\x20\x4f\x63\x74\x20\x32\x30\x31\x33\x20\x32\x30"
     "\x3a\x31\x33\x3a\x32\x32\x20\x47\x4d\x54\xc0\x5a\x04\x67\x7a\x69\x70\x77\x38\x66\x6f\x6f\x3d"
     "\x41\x53\x44\x4a\x4b\x48\x51\x4b\x42\x5a\x58\x4f\x51\x57\x45\x4f\x50\x49\x55\x41\x58\x51\x57"
     "\x45\x4f\x49\x55\x3b\x20\x6d\x61\x78\x2d\x61\x67\x65\x3d\x33\x36\x30\x30\x3b\x20\x76\x65\x72"
     "\x73\x69\x6f\x6e\x3d\x31",
     98},
    {"C.6.1", 2,
     "\x48\x82\x64\x02\x58\x85\xae\xc3\x77\x1a\x4b\x61\x96\xd0\x7a\xbe\x94\x10\x54\xd4\x44\xa8\x20"
     "\x05\x95\x04\x0b\x81\x66\xe0\x82\xa6\x2d\x1b\xff\x6e\x91\x9d\x29\xad\x17\x18\x63\xc7\x8f\x0b"
     "\x97\xc8\xe9\xae\x82\xae\x43\xd3",
     54},
    {"C.6.2", 0, "\x48\x83\x64\x0e\xff\xc1\xc0\xbf", 8},
    {"C.6.3", 0,
     "\x88\xc1\x61\x96\xd0\x7a\xbe\x94\x10\x54\xd4\x44\xa8\x20\x05\x95\x04\x0b\x81\x66\xe0\x84\xa6"
     "\x2d\x1b\xff\xc0\x5a\x83\x9b\xd9\xab\x77\xad\x94\xe7\x82\x1d\xd7\xf2\xe6\xc7\xb3\x35\xdf\xdf"
     "\xcd\x5b\x39\x60\xd5\xaf\x27\x08\x7f\x36\x72\xc1\xab\x27\x0f\xb5\x29\x1f\x95\x87\x31\x60\x65"
     "\xc0\x03\xed\x4e\xe5\xb1\x06\x3d\x50\x07",
     79},
};

/* Expected fields, "name: value" joined by '\n', and table size after:
 * C.3 and C.4 (and C.5 and C.6) carry the same fields, without and with
 * Huffman coding. */
#define REQ1 ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n"
#define REQ2 REQ1 "cache-control: no-cache\n"
#define REQ3                                                                                       \
	":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\n"          \
	"custom-key: custom-value\n"
#define RESP(status, date)                                                                         \
	":status: " status "\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:" date " GMT\n" \
	"location: https://www.example.com\n"
#define RESP3                                                                                      \
	RESP("200", "22")                                                                          \
	"content-encoding: gzip\n"                                                                 \
	"set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1\n"

static const struct {
	const char *fields;
	uint32_t table_size;
	uint32_t entries;
} expect[] = {
    {"custom-key: custom-header\n", 55, 1},
    {":path: /sample/path\n", 0, 0},
    {"password: secret\n", 0, 0},
    {":method: GET\n", 0, 0},
    {REQ1, 57, 1},
    {REQ2, 110, 2},
    {REQ3, 164, 3},
    {REQ1, 57, 1},
    {REQ2, 110, 2},
    {REQ3, 164, 3},
    {RESP("302", "21"), 222, 4},
    {RESP("307", "21"), 222, 4},
    {RESP3, 215, 3},
    {RESP("302", "21"), 222, 4},
    {RESP("307", "21"), 222, 4},
    {RESP3, 215, 3},
};

struct collect {
	char buf[2048];
	size_t len;
	int never;
};

static void on_field(void *arg, const char *name, size_t nlen, const char *value, size_t vlen,
		     int never_index)
{
	struct collect *c = arg;
	int n = snprintf(c->buf + c->len, sizeof(c->buf) - c->len, "%.*s: %.*s\n", (int)nlen, name,
			 (int)vlen, value);

	c->len += (size_t)n;
	c->never += never_index;
}

static struct hpack_dec *new_dec(uint32_t limit)
{
	struct hpack_dec *d = malloc(sizeof(*d));

	assert_non_null(d);
	hpack_dec_init(d, limit);
	return d;
}

static void test_appendix_c(void **state)
{
	struct hpack_dec *d = NULL;

	(void)state;
	assert_int_equal(sizeof(vectors) / sizeof(vectors[0]), sizeof(expect) / sizeof(expect[0]));
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vec *v = &vectors[i];
		struct collect c = {.len = 0};

		if (v->reset || !strncmp(v->name, "C.2", 3)) {
			free(d);
			d = new_dec(v->reset == 2 ? 256 : 4096);
			if (v->reset == 2) /* the table size the C.5/C.6 encoder uses */
				d->t.max_size = 256;
		}
		if (hpack_decode(d, (const uint8_t *)v->bytes, v->len, on_field, &c))
			fail_msg("%s: did not decode", v->name);
		c.buf[c.len] = 0;
		if (strcmp(c.buf, expect[i].fields))
			fail_msg("%s: got\n%s", v->name, c.buf);
		assert_int_equal(hpack_table_size(d), expect[i].table_size);
		assert_int_equal(hpack_table_count(d), expect[i].entries);
		if (!strcmp(v->name, "C.2.3"))
			assert_int_equal(c.never, 1);
	}
	/* C.6.3's table, newest first */
	char n[64], val[128];
	assert_int_equal(hpack_table_get(d, 1, n, sizeof(n), val, sizeof(val)), 0);
	assert_string_equal(n, "set-cookie");
	assert_int_equal(hpack_table_get(d, 3, n, sizeof(n), val, sizeof(val)), 0);
	assert_string_equal(n, "date");
	assert_string_equal(val, "Mon, 21 Oct 2013 20:13:22 GMT");
	assert_int_equal(hpack_table_get(d, 4, n, sizeof(n), val, sizeof(val)), -1);
	free(d);
}

static void test_integers(void **state)
{
	uint8_t b[8];

	(void)state;
	/* C.1.1-C.1.3 */
	assert_int_equal(hpack_put_int(b, sizeof(b), 10, 5, 0), 1);
	assert_int_equal(b[0], 0x0a);
	assert_int_equal(hpack_put_int(b, sizeof(b), 1337, 5, 0), 3);
	assert_memory_equal(b, "\x1f\x9a\x0a", 3);
	assert_int_equal(hpack_put_int(b, sizeof(b), 42, 8, 0), 1);
	assert_int_equal(b[0], 42);
	assert_int_equal(hpack_put_int(b, 2, 1337, 5, 0), 0); /* does not fit */
}

static void test_encoder(void **state)
{
	uint8_t b[64];
	size_t n;

	(void)state;
	/* C.2.2: literal without indexing, indexed name */
	n = hpack_put_literal(b, sizeof(b), 4, NULL, "/sample/path", 0, 0);
	assert_int_equal(n, 14);
	assert_memory_equal(b, vectors[1].bytes, 14);
	/* C.2.3: never indexed, literal name */
	n = hpack_put_literal(b, sizeof(b), 0, "password", "secret", 0, 1);
	assert_int_equal(n, 17);
	assert_memory_equal(b, vectors[2].bytes, 17);
	/* C.4.1's Huffman string */
	n = hpack_put_str(b, sizeof(b), "www.example.com", 15, 1);
	assert_int_equal(n, 13);
	assert_memory_equal(b, "\x8c\xf1\xe3\xc2\xe5\xf2\x3a\x6b\xa0\xab\x90\xf4\xff", 13);
	n = hpack_put_str(b, sizeof(b), "no-cache", 8, 1);
	assert_memory_equal(b, "\x86\xa8\xeb\x10\x64\x9c\xbf", 7);
	assert_int_equal(hpack_put_literal(b, 10, 0, "password", "secret", 0, 1), 0);
}

static void test_huffman_roundtrip(void **state)
{
	char s[300], out[600];
	uint8_t enc[1200];

	(void)state;
	srand(7);
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand() % 300), n;
		for (size_t i = 0; i < len; i++)
			s[i] = (char)(round & 1 ? rand() % 256 : 32 + rand() % 95);
		n = hpack_huff_encode(s, len, enc, sizeof(enc));
		assert_int_equal(n, hpack_huff_len(s, len));
		assert_int_equal(hpack_huff_decode(enc, n, out, sizeof(out)), (int)len);
		assert_memory_equal(out, s, len);
	}
	/* a literal field we encode decodes back, Huffman or not */
	for (int huff = 0; huff < 2; huff++) {
		struct hpack_dec *d = new_dec(4096);
		struct collect c = {.len = 0};
		size_t n = hpack_put_literal(
		    enc, sizeof(enc), 0, "traceparent",
		    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", huff, 0);
		assert_int_equal(hpack_decode(d, enc, n, on_field, &c), 0);
		c.buf[c.len] = 0;
		assert_string_equal(
		    c.buf,
		    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n");
		assert_int_equal(hpack_table_count(d), 0); /* no table change */
		free(d);
	}
}

/* Each malformed block is refused, and the decoder stays refused. */
static void expect_refused(const char *what, const char *bytes, size_t len)
{
	struct hpack_dec *d = new_dec(4096);
	struct collect c = {.len = 0};

	if (!hpack_decode(d, (const uint8_t *)bytes, len, on_field, &c))
		fail_msg("%s: accepted", what);
	assert_true(hpack_dec_broken(d));
	assert_int_equal(hpack_decode(d, (const uint8_t *)"\x82", 1, on_field, &c), -1);
	free(d);
}

static void test_malformed(void **state)
{
	char out[16];

	(void)state;
	expect_refused("index 0", "\x80", 1);
	expect_refused("index beyond the empty dynamic table", "\xbe", 1);
	expect_refused("index far out of range", "\xff\xff\xff\x7f", 4);
	expect_refused("name index out of range", "\x7f\x10\x01\x61", 4);
	expect_refused("size update above the limit", "\x3f\xe2\x1f", 3); /* 4097 */
	expect_refused("size update after a field", "\x82\x20", 2);
	expect_refused("truncated integer", "\x1f\x9a", 2);
	expect_refused("integer overflow", "\x1f\xff\xff\xff\xff\xff\x01", 7);
	expect_refused("string past the block", "\x00\x05\x61\x62", 4);
	expect_refused("missing value", "\x00\x01\x61", 3);
	/* Huffman: 'a' is 00011 (5 bits); pad with zeros instead of ones */
	expect_refused("bad Huffman padding", "\x00\x81\x18\x01\x61", 5);
	/* a full byte of ones (8 padding bits) after 'a' */
	expect_refused("padding longer than 7 bits", "\x00\x82\x1f\xff\x01\x61", 6);
	/* EOS (30 ones) inside a string */
	expect_refused("EOS in a string", "\x00\x84\xff\xff\xff\xff\x01\x61", 8);
	assert_int_equal(hpack_huff_decode((const uint8_t *)"\x1f", 1, out, sizeof(out)), 1);
	assert_int_equal(hpack_huff_decode((const uint8_t *)"\x18", 1, out, sizeof(out)), -1);
	assert_int_equal(hpack_huff_decode((const uint8_t *)"\xff", 1, out, sizeof(out)), -1);
}

/* Size updates: to 0 empties the table; entries larger than it are not added. */
static void test_table_sizes(void **state)
{
	struct hpack_dec *d = new_dec(4096);
	struct collect c = {.len = 0};

	(void)state;
	assert_int_equal(
	    hpack_decode(d, (const uint8_t *)vectors[0].bytes, vectors[0].len, on_field, &c), 0);
	assert_int_equal(hpack_table_count(d), 1);
	assert_int_equal(hpack_decode(d, (const uint8_t *)"\x20", 1, on_field, &c), 0);
	assert_int_equal(hpack_table_count(d), 0);
	assert_int_equal(hpack_decode(d, (const uint8_t *)"\x3f\x11", 2, on_field, &c), 0); /* 48 */
	assert_int_equal(
	    hpack_decode(d, (const uint8_t *)vectors[0].bytes, vectors[0].len, on_field, &c), 0);
	assert_int_equal(hpack_table_count(d), 0); /* 55 > 48: not kept, table empty */
	/* many entries wrap the byte ring and the entry ring */
	assert_int_equal(hpack_decode(d, (const uint8_t *)"\x3f\xe1\x1f", 3, on_field, &c), 0);
	for (int i = 0; i < 3000; i++) {
		uint8_t blk[64];
		char v[16];
		size_t n;
		snprintf(v, sizeof(v), "v%d", i);
		blk[0] = 0x40;
		n = 1 + hpack_put_str(blk + 1, sizeof(blk) - 1, "k", 1, i & 1);
		n += hpack_put_str(blk + n, sizeof(blk) - n, v, strlen(v), 0);
		c.len = 0;
		assert_int_equal(hpack_decode(d, blk, n, on_field, &c), 0);
		assert_true(hpack_table_size(d) <= 4096);
	}
	char nm[8], val[16];
	assert_int_equal(hpack_table_get(d, 1, nm, sizeof(nm), val, sizeof(val)), 0);
	assert_string_equal(val, "v2999");
	/* indexed reference to the newest dynamic entry: 62 */
	c.len = 0;
	assert_int_equal(hpack_decode(d, (const uint8_t *)"\xbe", 1, on_field, &c), 0);
	c.buf[c.len] = 0;
	assert_string_equal(c.buf, "k: v2999\n");
	free(d);
}

/* The read-only look for a field name, before the block is decoded. */
static void test_has_name(void **state)
{
	struct hpack_dec *d = new_dec(4096);
	struct collect c = {.len = 0};
	const struct vec *c31 = &vectors[4], *c32 = &vectors[5], *c43 = &vectors[9];
	uint8_t blk[128];
	size_t n;

	(void)state;
	assert_int_equal(hpack_block_has_name(d, (const uint8_t *)c31->bytes, c31->len, ":path"),
			 1);
	assert_int_equal(hpack_block_has_name(d, (const uint8_t *)c31->bytes, c31->len, "x"), 0);
	assert_int_equal(hpack_decode(d, (const uint8_t *)c31->bytes, c31->len, on_field, &c), 0);
	/* C.3.2 names :authority through the dynamic table (index 62) */
	assert_int_equal(
	    hpack_block_has_name(d, (const uint8_t *)c32->bytes, c32->len, ":authority"), 1);
	assert_int_equal(
	    hpack_block_has_name(d, (const uint8_t *)c32->bytes, c32->len, "cache-control"), 1);
	assert_int_equal(hpack_table_count(d), 1); /* looking changed nothing */
	/* C.4.3 refers to index 63, beyond this table: it does not parse */
	assert_int_equal(
	    hpack_block_has_name(d, (const uint8_t *)c43->bytes, c43->len, "custom-key"), -1);
	/* a Huffman-coded literal name */
	n = hpack_put_literal(blk, sizeof(blk), 0, "traceparent", "x", 1, 0);
	assert_int_equal(hpack_block_has_name(d, blk, n, "traceparent"), 1);
	assert_int_equal(hpack_block_has_name(d, blk, 4, "traceparent"), -1); /* truncated name */
	assert_int_equal(hpack_block_has_name(d, (const uint8_t *)"\x80", 1, "x"), -1);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_appendix_c), cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_encoder),    cmocka_unit_test(test_huffman_roundtrip),
	    cmocka_unit_test(test_malformed),  cmocka_unit_test(test_table_sizes),
	    cmocka_unit_test(test_has_name),
	};
	return cmocka_run_group_tests_name("hpack", tests, NULL, NULL);
}

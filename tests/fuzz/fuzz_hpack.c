/*
 * libFuzzer: the HPACK decoder and Huffman code. The input is a series of
 * header blocks (each prefixed by a length byte) decoded by one decoder,
 * as on a connection: it must never read or write out of bounds, keep its
 * table within the limit, and once broken refuse everything. The
 * read-only name lookup must agree with it on blocks that decode, and
 * anything Huffman-decodable must survive re-encoding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hpack.h"

struct seen {
	int traceparent;
	size_t fields;
};

static void on_field(void *arg, const char *name, size_t nlen, const char *value, size_t vlen,
		     int never_index)
{
	struct seen *s = arg;

	(void)value;
	(void)never_index;
	if (nlen > HPACK_STR_MAX || vlen > HPACK_STR_MAX)
		abort();
	s->fields++;
	if (nlen == 11 && !memcmp(name, "traceparent", 11))
		s->traceparent = 1;
}

static struct hpack_dec dec;
static char out[4096], back[4096];
static uint8_t enc[8192];

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	int hl = hpack_huff_decode(d, n, out, sizeof(out));

	if (hl >= 0) {
		size_t el = hpack_huff_encode(out, (size_t)hl, enc, sizeof(enc));
		if (el != hpack_huff_len(out, (size_t)hl) ||
		    hpack_huff_decode(enc, el, back, sizeof(back)) != hl ||
		    memcmp(out, back, (size_t)hl))
			abort();
	}
	hpack_dec_init(&dec, n && d[0] & 1 ? 256 : HPACK_DEFAULT_TABLE);
	while (n) {
		size_t len = d[0] < n - 1 ? d[0] : n - 1;
		const uint8_t *blk = d + 1;
		struct seen s = {0, 0};
		int has = hpack_block_has_name(&dec, blk, len, "traceparent"),
		    broken = hpack_dec_broken(&dec);
		int rc = hpack_decode(&dec, blk, len, on_field, &s);

		if (broken && rc == 0)
			abort(); /* a broken decoder decoded */
		if (rc == 0 && has >= 0 && has != s.traceparent && !s.traceparent)
			abort(); /* the look saw a name the decode did not */
		if (hpack_table_size(&dec) > HPACK_TABLE_MAX)
			abort();
		d += 1 + len;
		n -= 1 + len;
	}
	return 0;
}

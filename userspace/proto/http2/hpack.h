/*
 * hpack - HPACK header compression for HTTP/2 (RFC 7541): a decoder with
 * the static table, a bounded dynamic table (size updates honoured) and
 * Huffman decoding, and the few encoder pieces the shim needs to add a
 * header field (integers, string literals, literal fields that leave the
 * dynamic table alone). Pure: no I/O, no allocation.
 *
 * The shim keeps one decoder per connection direction, mirroring the
 * dynamic table of the app's peer exactly. When a block does not decode
 * (bad Huffman padding, index out of range, a table or string larger than
 * we keep) the decoder is unusable from then on: the caller stops
 * following that connection. It never changes the app's bytes.
 */
#ifndef OBS_HPACK_H
#define OBS_HPACK_H
#include <stddef.h>
#include <stdint.h>

#define HPACK_DEFAULT_TABLE  4096
#define HPACK_TABLE_MAX	     16384 /* a larger dynamic table is not followed */
#define HPACK_ENTRY_OVERHEAD 32
#define HPACK_STR_MAX	     16384 /* longest name or value we decode */
#define HPACK_ENTRIES_MAX    (HPACK_TABLE_MAX / HPACK_ENTRY_OVERHEAD)

struct hpack_entry {
	uint32_t off; /* into the byte ring: name then value */
	uint16_t nlen, vlen;
};

/* The dynamic table: entries in a ring, their bytes in a byte ring. */
struct hpack_table {
	uint32_t max_size;     /* current maximum (RFC 7541 4.2) */
	uint32_t limit;	       /* the largest maximum a size update may set */
	uint32_t size;	       /* sum of entry sizes */
	uint32_t first, count; /* entries: oldest at first, newest last */
	uint32_t bhead, btail; /* byte ring: next free byte, oldest byte */
	struct hpack_entry ent[HPACK_ENTRIES_MAX];
	char bytes[HPACK_TABLE_MAX];
};

struct hpack_dec {
	struct hpack_table t;
	uint8_t broken;
	char name[HPACK_STR_MAX];
	char value[HPACK_STR_MAX];
};

/* One decoded field. never_index: a literal the sender marked never-indexed. */
typedef void (*hpack_field_fn)(void *arg, const char *name, size_t nlen, const char *value,
			       size_t vlen, int never_index);

/* limit: the decoding endpoint's SETTINGS_HEADER_TABLE_SIZE (4096 by default). */
void hpack_dec_init(struct hpack_dec *d, uint32_t limit);
/* The decoding side announced a new SETTINGS_HEADER_TABLE_SIZE. */
void hpack_dec_set_limit(struct hpack_dec *d, uint32_t limit);
/*
 * Decode one complete header block, calling fn for each field in order.
 * Returns 0, or -1 if the block is malformed or exceeds our bounds; the
 * decoder is then broken (hpack_dec_broken) and refuses further blocks.
 */
int hpack_decode(struct hpack_dec *d, const uint8_t *block, size_t len, hpack_field_fn fn,
		 void *arg);
int hpack_dec_broken(const struct hpack_dec *d);

/* Dynamic table inspection (index 1 = newest), for tests. */
uint32_t hpack_table_size(const struct hpack_dec *d);
uint32_t hpack_table_count(const struct hpack_dec *d);
/* Copies entry i into name/value (NUL-terminated, truncated to cap); -1 if none. */
int hpack_table_get(const struct hpack_dec *d, uint32_t i, char *name, size_t ncap, char *value,
		    size_t vcap);

/*
 * Read-only look into a block not yet decoded: 1 if a field named `name`
 * (lowercase) is in it, 0 if not, -1 if the block does not parse or it
 * cannot tell: a dynamic-table index after the block itself inserted an
 * entry or resized the table (the table as it is now would name another
 * field).
 */
int hpack_block_has_name(struct hpack_dec *d, const uint8_t *block, size_t len, const char *name);

/* Huffman: decoded length, or -1 on bad code/padding/EOS or if it exceeds outcap. */
int hpack_huff_decode(const uint8_t *in, size_t len, char *out, size_t outcap);
size_t hpack_huff_len(const char *s, size_t len); /* encoded size in bytes */
/* Encodes s into out (outcap >= hpack_huff_len); returns bytes written or 0. */
size_t hpack_huff_encode(const char *s, size_t len, uint8_t *out, size_t outcap);

/*
 * Integer with an N-bit prefix (5.1); first holds the bits above the
 * prefix. Returns bytes written, 0 if it does not fit in outcap.
 */
size_t hpack_put_int(uint8_t *out, size_t outcap, uint64_t v, int prefix_bits, uint8_t first);
/* String literal (5.2), Huffman-coded when huffman and shorter. */
size_t hpack_put_str(uint8_t *out, size_t outcap, const char *s, size_t len, int huffman);
/*
 * A literal header field that changes no dynamic table (6.2.2, or 6.2.3
 * with never_index): name_index (static or dynamic) or, if 0, a literal
 * name. Returns bytes written, 0 if it does not fit.
 */
size_t hpack_put_literal(uint8_t *out, size_t outcap, uint32_t name_index, const char *name,
			 const char *value, int huffman, int never_index);

#endif

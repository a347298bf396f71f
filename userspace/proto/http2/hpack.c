#include <string.h>

#include "hpack.h"
#include "hpack_tables.h"

#define HPACK_STATIC_COUNT 61
#define HUFF_MAX_BITS	   30

/* ---- Huffman (RFC 7541 5.2, Appendix B) ------------------------------- */

int hpack_huff_decode(const uint8_t *in, size_t len, char *out, size_t outcap)
{
	uint32_t code = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		for (int b = 7; b >= 0; b--) {
			uint32_t k;

			code = code << 1 | ((in[i] >> b) & 1);
			bits++;
			k = code - hpack_huff_first[bits];
			if (k < hpack_huff_count[bits]) {
				uint16_t sym = hpack_huff_sym[hpack_huff_base[bits] + k];
				if (sym == 256 || n >= outcap)
					return -1; /* EOS inside a string is an error (5.2) */
				out[n++] = (char)sym;
				code = 0;
				bits = 0;
			} else if (bits >= HUFF_MAX_BITS) {
				return -1;
			}
		}
	}
	/* padding: fewer than 8 bits, all ones (the EOS prefix) */
	if (bits > 7 || code != (1u << bits) - 1)
		return -1;
	return (int)n;
}

size_t hpack_huff_len(const char *s, size_t len)
{
	uint64_t bits = 0;

	for (size_t i = 0; i < len; i++)
		bits += hpack_huff[(unsigned char)s[i]].len;
	return (size_t)((bits + 7) / 8);
}

size_t hpack_huff_encode(const char *s, size_t len, uint8_t *out, size_t outcap)
{
	uint64_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		const struct hpack_huff_code *h = &hpack_huff[(unsigned char)s[i]];
		acc = acc << h->len | h->code;
		bits += h->len;
		while (bits >= 8) {
			if (n >= outcap)
				return 0;
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits) {
		if (n >= outcap)
			return 0;
		out[n++] = (uint8_t)(acc << (8 - bits) | ((1u << (8 - bits)) - 1));
	}
	return n;
}

/* ---- encoder pieces --------------------------------------------------- */

size_t hpack_put_int(uint8_t *out, size_t outcap, uint64_t v, int prefix_bits, uint8_t first)
{
	uint64_t max = (1u << prefix_bits) - 1;
	size_t n = 0;

	if (!outcap)
		return 0;
	if (v < max) {
		out[0] = (uint8_t)(first | v);
		return 1;
	}
	out[n++] = (uint8_t)(first | max);
	v -= max;
	while (v >= 128) {
		if (n >= outcap)
			return 0;
		out[n++] = (uint8_t)(v % 128 + 128);
		v /= 128;
	}
	if (n >= outcap)
		return 0;
	out[n++] = (uint8_t)v;
	return n;
}

size_t hpack_put_str(uint8_t *out, size_t outcap, const char *s, size_t len, int huffman)
{
	size_t hl = huffman ? hpack_huff_len(s, len) : len, n;

	if (huffman && hl >= len)
		huffman = 0, hl = len;
	n = hpack_put_int(out, outcap, hl, 7, huffman ? 0x80 : 0);
	if (!n || outcap - n < hl)
		return 0;
	if (huffman)
		return hpack_huff_encode(s, len, out + n, outcap - n) == hl ? n + hl : 0;
	memcpy(out + n, s, len);
	return n + len;
}

size_t hpack_put_literal(uint8_t *out, size_t outcap, uint32_t name_index, const char *name,
			 const char *value, int huffman, int never_index)
{
	size_t n = hpack_put_int(out, outcap, name_index, 4, never_index ? 0x10 : 0x00), m;

	if (!n)
		return 0;
	if (!name_index) {
		m = hpack_put_str(out + n, outcap - n, name, strlen(name), huffman);
		if (!m)
			return 0;
		n += m;
	}
	m = hpack_put_str(out + n, outcap - n, value, strlen(value), huffman);
	return m ? n + m : 0;
}

/* ---- the dynamic table (RFC 7541 2.3.2, 4) ---------------------------- */

static void table_evict_one(struct hpack_table *t)
{
	struct hpack_entry *e = &t->ent[t->first];

	t->size -= e->nlen + e->vlen + HPACK_ENTRY_OVERHEAD;
	t->btail = (e->off + e->nlen + e->vlen) % HPACK_TABLE_MAX;
	t->first = (t->first + 1) % HPACK_ENTRIES_MAX;
	t->count--;
}

static void table_fit(struct hpack_table *t, uint32_t room)
{
	while (t->count && t->size + room > t->max_size)
		table_evict_one(t);
}

static void ring_write(struct hpack_table *t, const char *s, size_t len)
{
	size_t first = HPACK_TABLE_MAX - t->bhead;

	if (first > len)
		first = len;
	memcpy(t->bytes + t->bhead, s, first);
	memcpy(t->bytes, s + first, len - first);
	t->bhead = (uint32_t)((t->bhead + len) % HPACK_TABLE_MAX);
}

static void ring_read(const struct hpack_table *t, uint32_t off, size_t len, char *out)
{
	size_t first = HPACK_TABLE_MAX - off;

	if (first > len)
		first = len;
	memcpy(out, t->bytes + off, first);
	memcpy(out + first, t->bytes, len - first);
}

/* Names and values are at most HPACK_STR_MAX, so an entry always fits the
 * byte ring once the table has room for its size. */
static void table_add(struct hpack_table *t, const char *name, size_t nlen, const char *value,
		      size_t vlen)
{
	uint32_t esize = (uint32_t)(nlen + vlen + HPACK_ENTRY_OVERHEAD);
	struct hpack_entry *e;

	table_fit(t, esize);
	if (esize > t->max_size)
		return; /* larger than the table: it is now empty (4.4) */
	e = &t->ent[(t->first + t->count) % HPACK_ENTRIES_MAX];
	e->off = t->bhead;
	e->nlen = (uint16_t)nlen;
	e->vlen = (uint16_t)vlen;
	ring_write(t, name, nlen);
	ring_write(t, value, vlen);
	t->count++;
	t->size += esize;
}

void hpack_dec_init(struct hpack_dec *d, uint32_t limit)
{
	memset(&d->t, 0, offsetof(struct hpack_table, ent));
	d->broken = 0;
	d->t.limit = limit;
	d->t.max_size = limit < HPACK_DEFAULT_TABLE ? limit : HPACK_DEFAULT_TABLE;
}

/* The encoder moves to a new size only with a size update in a block; a
 * lower limit forces one (RFC 7541 4.2), which decode_field checks. */
void hpack_dec_set_limit(struct hpack_dec *d, uint32_t limit)
{
	d->t.limit = limit;
}

uint32_t hpack_table_size(const struct hpack_dec *d)
{
	return d->t.size;
}

uint32_t hpack_table_count(const struct hpack_dec *d)
{
	return d->t.count;
}

static const struct hpack_entry *table_at(const struct hpack_table *t, uint32_t i)
{
	if (i < 1 || i > t->count)
		return NULL;
	return &t->ent[(t->first + t->count - i) % HPACK_ENTRIES_MAX];
}

int hpack_table_get(const struct hpack_dec *d, uint32_t i, char *name, size_t ncap, char *value,
		    size_t vcap)
{
	const struct hpack_entry *e = table_at(&d->t, i);
	size_t n, v;

	if (!e || !ncap || !vcap)
		return -1;
	n = e->nlen < ncap - 1 ? e->nlen : ncap - 1;
	v = e->vlen < vcap - 1 ? e->vlen : vcap - 1;
	ring_read(&d->t, e->off, n, name);
	ring_read(&d->t, (e->off + e->nlen) % HPACK_TABLE_MAX, v, value);
	name[n] = 0;
	value[v] = 0;
	return 0;
}

/* ---- decoding (RFC 7541 6) -------------------------------------------- */

struct rd {
	const uint8_t *p, *end;
};

static int get_int(struct rd *r, int prefix_bits, uint32_t *out)
{
	uint32_t max = (1u << prefix_bits) - 1, v;
	int shift = 0;

	if (r->p >= r->end)
		return -1;
	v = *r->p++ & max;
	if (v < max) {
		*out = v;
		return 0;
	}
	for (;;) {
		uint8_t b;
		if (r->p >= r->end || shift > 21)
			return -1; /* truncated, or beyond any size we accept */
		b = *r->p++;
		v += (uint32_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	*out = v;
	return 0;
}

/* A string literal into buf (HPACK_STR_MAX); returns its length or -1. */
static int get_str(struct rd *r, char *buf)
{
	int huff = r->p < r->end && (*r->p & 0x80);
	uint32_t len;

	if (get_int(r, 7, &len) || len > (size_t)(r->end - r->p))
		return -1;
	if (huff) {
		int n = hpack_huff_decode(r->p, len, buf, HPACK_STR_MAX);
		r->p += len;
		return n;
	}
	if (len > HPACK_STR_MAX)
		return -1;
	memcpy(buf, r->p, len);
	r->p += len;
	return (int)len;
}

/*
 * Name (and value, if want_value) of index i: pointers into the static
 * table, the dynamic table's bytes, or (for an entry that wraps the byte
 * ring, or when copy is set) the decoder's buffers.
 */
static int get_indexed(struct hpack_dec *d, uint32_t i, int want_value, int copy, const char **np,
		       size_t *nlen, const char **vp, size_t *vlen)
{
	const struct hpack_entry *e;
	uint32_t voff;

	if (i >= 1 && i <= HPACK_STATIC_COUNT) {
		*np = hpack_static[i].name;
		*nlen = hpack_static[i].nlen;
		*vp = hpack_static[i].value;
		*vlen = hpack_static[i].vlen;
		return 0;
	}
	e = i > HPACK_STATIC_COUNT ? table_at(&d->t, i - HPACK_STATIC_COUNT) : NULL;
	if (!e)
		return -1; /* index 0 or out of range (2.3.3) */
	*nlen = e->nlen;
	if (!copy && e->off + e->nlen <= HPACK_TABLE_MAX) {
		*np = d->t.bytes + e->off;
	} else {
		ring_read(&d->t, e->off, e->nlen, d->name);
		*np = d->name;
	}
	if (!want_value)
		return 0;
	*vlen = e->vlen;
	voff = (e->off + e->nlen) % HPACK_TABLE_MAX;
	if (voff + e->vlen <= HPACK_TABLE_MAX) {
		*vp = d->t.bytes + voff;
	} else {
		ring_read(&d->t, voff, e->vlen, d->value);
		*vp = d->value;
	}
	return 0;
}

static int decode_field(struct hpack_dec *d, struct rd *r, int *fields, hpack_field_fn fn,
			void *arg)
{
	uint8_t b = *r->p;
	const char *np = NULL, *vp = NULL;
	size_t nlen = 0, vlen = 0;
	uint32_t idx;
	int prefix, n;

	if (b & 0x80) { /* indexed field (6.1) */
		if (get_int(r, 7, &idx) || get_indexed(d, idx, 1, 0, &np, &nlen, &vp, &vlen))
			return -1;
		(*fields)++;
		fn(arg, np, nlen, vp, vlen, 0);
		return 0;
	}
	if ((b & 0xe0) == 0x20) { /* dynamic table size update (6.3) */
		if (*fields || get_int(r, 5, &idx) || idx > d->t.limit || idx > HPACK_TABLE_MAX)
			return -1; /* at a block's start, within the limit and what we mirror */
		d->t.max_size = idx;
		table_fit(&d->t, 0);
		return 0;
	}
	prefix = (b & 0x40) ? 6 : 4; /* with incremental indexing (6.2.1), else 6.2.2/6.2.3 */
	if (get_int(r, prefix, &idx))
		return -1;
	if (idx) {
		/* a name that is about to be added again is copied first: adding
		 * may evict the entry it comes from (4.4) */
		if (get_indexed(d, idx, 0, prefix == 6, &np, &nlen, &vp, &vlen))
			return -1;
	} else {
		if ((n = get_str(r, d->name)) < 0)
			return -1;
		np = d->name;
		nlen = (size_t)n;
	}
	if ((n = get_str(r, d->value)) < 0)
		return -1;
	vp = d->value;
	vlen = (size_t)n;
	if (b & 0x40)
		table_add(&d->t, np, nlen, vp, vlen);
	(*fields)++;
	fn(arg, np, nlen, vp, vlen, prefix == 4 && (b & 0x10));
	return 0;
}

int hpack_decode(struct hpack_dec *d, const uint8_t *block, size_t len, hpack_field_fn fn,
		 void *arg)
{
	struct rd r = {block, block + len};
	int fields = 0;

	if (d->broken)
		return -1;
	while (r.p < r.end) {
		if (decode_field(d, &r, &fields, fn, arg)) {
			d->broken = 1;
			return -1;
		}
	}
	return 0;
}

/* Skip a string literal; with want, compare it (decoded) to want. */
static int peek_str(struct hpack_dec *d, struct rd *r, const char *want, int *match)
{
	int n = get_str(r, d->value);

	if (n < 0)
		return -1;
	if (want)
		*match = (size_t)n == strlen(want) && !memcmp(d->value, want, (size_t)n);
	return 0;
}

int hpack_block_has_name(struct hpack_dec *d, const uint8_t *block, size_t len, const char *name)
{
	struct rd r = {block, block + len};
	size_t nlen = strlen(name), got, unused;
	int moved = 0; /* the block changed the dynamic table before this field */

	if (d->broken)
		return -1;
	while (r.p < r.end) {
		uint8_t b = *r.p;
		uint32_t idx;
		int match = 0;

		if ((b & 0xe0) == 0x20) {
			if (get_int(&r, 5, &idx))
				return -1;
			moved = 1; /* a size update may evict */
			continue;
		}
		if (get_int(&r, (b & 0x80) ? 7 : (b & 0x40) ? 6 : 4, &idx))
			return -1;
		/* the table as it is now no longer says what a dynamic index
		 * means once the block inserted or resized: cannot tell */
		if (idx > HPACK_STATIC_COUNT && moved)
			return -1;
		if ((b & 0xc0) == 0x40)
			moved = 1; /* incremental indexing: this field is inserted */
		if (idx) {
			const char *np, *vp;
			/* get_indexed reads only: the decoder's state is unchanged */
			if (get_indexed(d, idx, 0, 0, &np, &got, &vp, &unused))
				return -1;
			match = got == nlen && !memcmp(np, name, nlen);
		} else if ((b & 0x80) || peek_str(d, &r, name, &match)) {
			return -1;
		}
		if (match)
			return 1;
		if (!(b & 0x80) && peek_str(d, &r, NULL, &match))
			return -1;
	}
	return 0;
}

int hpack_dec_broken(const struct hpack_dec *d)
{
	return d->broken;
}

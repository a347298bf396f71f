/*
 * pbwire - protobuf wire format, writing side: varints, tags, fixed64 and
 * length-delimited fields, and the sizes each takes. A message is written
 * forward, its length before it: the caller knows it from the sizes
 * (pbw_*_size), or leaves room for it and writes it after the message
 * (otlp_encode.c). Output is canonical: what protobuf-c's pack would
 * write for the same fields in field-number order. Pure, no allocation; defined
 * here, inline: each is a few instructions, called for every field of
 * every span.
 */
#ifndef OBS_PBWIRE_H
#define OBS_PBWIRE_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum pbw_type { PBW_VARINT = 0, PBW_I64 = 1, PBW_LEN = 2 };

/* A writer into a buffer with room enough (the caller's to know). */
struct pbw {
	uint8_t *p; /* next byte to write */
};

static inline size_t pbw_varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline size_t pbw_len_field_size(unsigned field, size_t len)
{
	return pbw_varint_size((uint64_t)field << 3) + pbw_varint_size(len) + len;
}

static inline size_t pbw_varint_field_size(unsigned field, uint64_t v)
{
	return pbw_varint_size((uint64_t)field << 3) + pbw_varint_size(v);
}

static inline void pbw_varint(struct pbw *w, uint64_t v)
{
	while (v >= 0x80) {
		*w->p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*w->p++ = (uint8_t)v;
}

static inline void pbw_raw(struct pbw *w, const void *b, size_t len)
{
	memcpy(w->p, b, len);
	w->p += len;
}

static inline void pbw_tag(struct pbw *w, unsigned field, enum pbw_type type)
{
	pbw_varint(w, (uint64_t)field << 3 | type);
}

static inline void pbw_open(struct pbw *w, unsigned field, size_t len)
{
	pbw_tag(w, field, PBW_LEN);
	pbw_varint(w, len);
}

static inline void pbw_bytes(struct pbw *w, unsigned field, const void *b, size_t len)
{
	pbw_open(w, field, len);
	pbw_raw(w, b, len);
}

static inline void pbw_uint(struct pbw *w, unsigned field, uint64_t v)
{
	pbw_tag(w, field, PBW_VARINT);
	pbw_varint(w, v);
}

static inline void pbw_fixed64(struct pbw *w, unsigned field, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i)); /* little-endian on the wire */
	pbw_tag(w, field, PBW_I64);
	pbw_raw(w, b, 8);
}

#endif

/*
 * h2 - a streaming HTTP/2 frame reader (RFC 9113) for one direction of a
 * connection. Pure: no I/O, no allocation. Shared by the shim, unit tests
 * and fuzzers.
 *
 * It is fed the bytes the app reads or writes, in whatever pieces, skips
 * the client connection preface, and reports what obs needs: complete
 * header blocks (HEADERS + CONTINUATION reassembled, padding and priority
 * removed; PUSH_PROMISE blocks too, since they change the HPACK table),
 * DATA payload pieces, END_STREAM, RST_STREAM, GOAWAY and SETTINGS. A
 * header block longer than H2_BLOCK_MAX, or a framing error, ends the
 * reader (H2_EV_ERROR): the caller stops following the connection. It
 * never changes the bytes.
 */
#ifndef OBS_H2_H
#define OBS_H2_H
#include <stddef.h>
#include <stdint.h>

#define H2_PREFACE	      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN	      24
#define H2_FRAME_HDR	      9
#define H2_BLOCK_MAX	      65536 /* a larger header block is not followed */
#define H2_DEFAULT_MAX_FRAME  16384
#define H2_DEFAULT_TABLE_SIZE 4096

enum h2_type {
	H2_DATA = 0,
	H2_HEADERS = 1,
	H2_PRIORITY = 2,
	H2_RST_STREAM = 3,
	H2_SETTINGS = 4,
	H2_PUSH_PROMISE = 5,
	H2_PING = 6,
	H2_GOAWAY = 7,
	H2_WINDOW_UPDATE = 8,
	H2_CONTINUATION = 9,
};

enum h2_flag {
	H2_F_END_STREAM = 0x1,
	H2_F_ACK = 0x1,
	H2_F_END_HEADERS = 0x4,
	H2_F_PADDED = 0x8,
	H2_F_PRIORITY = 0x20,
};

enum h2_settings_id { H2_S_HEADER_TABLE_SIZE = 1, H2_S_MAX_FRAME_SIZE = 5 };

enum h2_event {
	H2_NEED_MORE,
	H2_EV_HEADERS,	/* ev.data/len: a whole header block; ev.end_stream */
	H2_EV_DATA,	/* ev.data/len: payload bytes (may be 0 with end_stream) */
	H2_EV_RST,	/* ev.error_code */
	H2_EV_GOAWAY,	/* ev.last_stream, ev.error_code */
	H2_EV_SETTINGS, /* ev.header_table_size (if has_), ev.max_frame_size (0: absent) */
	H2_EV_ERROR,
};

struct h2_ev {
	uint32_t stream;
	uint8_t end_stream;
	uint8_t push; /* HEADERS event from a PUSH_PROMISE: decode, then ignore */
	const uint8_t *data;
	size_t len;
	uint32_t error_code;
	uint32_t last_stream;
	uint32_t header_table_size;
	uint32_t max_frame_size;
	uint8_t has_header_table_size; /* 0 is a real value */
};

struct h2_reader {
	uint8_t preface_left; /* client preface bytes still expected */
	uint8_t broken;
	uint8_t hlen; /* frame header bytes collected */
	uint8_t hdr[H2_FRAME_HDR];
	uint8_t type, flags;
	uint8_t pad;	 /* padding length of the current frame */
	uint8_t pre;	 /* bytes before the content (pad length, priority, promised id) */
	uint8_t ctl_len; /* control payload bytes kept in ctl */
	uint8_t ctl[8];	 /* RST_STREAM/GOAWAY head, one SETTINGS entry */
	uint32_t len;	 /* payload length */
	uint32_t got;	 /* payload bytes consumed */
	uint32_t stream;
	uint32_t settings_hts, settings_mfs;
	uint8_t settings_has_hts;
	/* header block reassembly */
	uint8_t in_block;
	uint8_t block_end_stream;
	uint8_t block_push;
	uint32_t block_stream;
	uint32_t block_len;
	uint8_t block[H2_BLOCK_MAX];
};

/* client_side: this direction starts with the client preface. */
void h2_init(struct h2_reader *r, int client_side);
/*
 * Consume bytes up to and including the next event; returns the count
 * consumed (feed the rest again after handling *e). ev's pointers are
 * valid until the next call.
 */
size_t h2_feed(struct h2_reader *r, const uint8_t *buf, size_t len, struct h2_ev *ev,
	       enum h2_event *e);
/* n bytes went by unseen: 0 (ev: a DATA event with data NULL) if they all
 * lie in the payload of the DATA frame being read, else -1 and the
 * reader is broken (nothing after them can be parsed). */
int h2_skip(struct h2_reader *r, uint64_t n, struct h2_ev *ev);
/*
 * Bytes from here to the next frame boundary (the end of the preface, of
 * the current frame): 0 at a boundary, -1 inside a frame header.
 */
long h2_to_boundary(const struct h2_reader *r);
/* 1 while a header block continues in CONTINUATION frames. */
int h2_in_block(const struct h2_reader *r);
/* 1 if buf starts like the client preface (at least its first bytes). */
int h2_is_preface(const uint8_t *buf, size_t len);

#endif

/*
 * mywire - the MySQL/MariaDB client/server protocol's packets read as a
 * stream: fed any split of the bytes, it says where each packet ends and
 * keeps its sequence number, its length and the first MYW_HEAD_MAX bytes of
 * its payload; the rest is counted, not kept (a 16 MB row costs a counter).
 * A payload of 0xffffff bytes goes on in the next packet: that packet is
 * marked a continuation (its first byte is no packet type). Every length
 * is valid, so the framing cannot fail; a protocol module judges what the
 * packets say. Pure, bounded.
 */
#ifndef OBS_MYWIRE_H
#define OBS_MYWIRE_H
#include <stddef.h>
#include <stdint.h>

#define MYW_HEAD_MAX 192      /* payload bytes kept per packet */
#define MYW_LEN_MAX  0xffffff /* a packet's payload; this long, another follows */

struct myw_pkt {
	uint32_t len; /* payload bytes */
	uint8_t seq;  /* its sequence number */
	uint8_t cont; /* it continues the payload of the packet before */
	uint16_t head_len;
	uint8_t head[MYW_HEAD_MAX]; /* the payload's first bytes */
};

struct myw_parser {
	uint8_t hdr_have;
	uint8_t hdr[4];
	uint8_t next_cont;  /* the last packet was MYW_LEN_MAX long */
	uint32_t left;	    /* payload bytes still to come */
	struct myw_pkt pkt; /* being gathered */
};

void myw_init(struct myw_parser *p);
/* Read at most n bytes, stopping after a whole packet: then *done is 1 and
 * pkt holds it. Returns the bytes read (n, or fewer when a packet ended). */
size_t myw_parse(struct myw_parser *p, const uint8_t *b, size_t n, struct myw_pkt *pkt, int *done);
/* n bytes nobody saw: read past them if they lie inside a packet's payload
 * past its kept head (0; *done and pkt as myw_parse's when they end it),
 * else -1 (a packet header went unseen). */
int myw_skip(struct myw_parser *p, uint64_t n, struct myw_pkt *pkt, int *done);
/* Between packets (nothing half read). */
int myw_idle(const struct myw_parser *p);

/* A length-encoded integer at *off in the kept head: 0 and *v (*off moves
 * past it), or -1 (NULL's 0xfb, the reserved 0xff, or past the head). */
int myw_lenenc(const struct myw_pkt *pkt, size_t *off, uint64_t *v);
/* Little-endian integers of 2 and 4 bytes at off in the kept head (0 when
 * past it). */
uint32_t myw_u16(const struct myw_pkt *pkt, size_t off);
uint32_t myw_u32(const struct myw_pkt *pkt, size_t off);
/* Do b's first bytes begin a server's greeting (a HandshakeV10 packet,
 * sequence 0, protocol 10, a version that starts with a digit)? */
int myw_is_greeting(const uint8_t *b, size_t n);

#endif

/*
 * pgwire - PostgreSQL's frontend/backend protocol (version 3) read as a
 * stream: fed any split of the bytes, it says where each message ends and
 * keeps its type, its length and the first PGW_HEAD_MAX bytes of its
 * payload. It keeps nothing else: a 1 GB DataRow costs one counter.
 * Bounded, pure.
 *
 * A frontend (the client's writes) begins with messages that have no type
 * byte: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest (told
 * apart by their code). A backend answers SSLRequest and GSSENCRequest
 * with one byte ('S', 'G' or 'N'), also without a type or length.
 */
#ifndef OBS_PGWIRE_H
#define OBS_PGWIRE_H
#include <stddef.h>
#include <stdint.h>

#define PGW_HEAD_MAX	160	    /* payload bytes kept per message */
#define PGW_LEN_MAX	0x40000000u /* PostgreSQL's own limit on a message: 1 GB */
#define PGW_STARTUP_MAX 10000u	    /* and on a startup packet */

#define PGW_PROTO_3	196608u	  /* StartupMessage: protocol 3.0 */
#define PGW_SSL_REQUEST 80877103u /* SSLRequest */
#define PGW_GSS_REQUEST 80877104u /* GSSENCRequest */
#define PGW_CANCEL	80877102u /* CancelRequest */

enum pgw_side { PGW_FRONTEND, PGW_BACKEND };

struct pgw_msg {
	char type;     /* 0: a startup-phase message (see code); else its type byte */
	uint32_t code; /* type 0: its code (PGW_PROTO_3, PGW_SSL_REQUEST, ...);
			* a backend's one-byte answer: that byte, type 0 too */
	uint32_t len;  /* payload bytes (type and length field not counted) */
	uint16_t head_len;
	uint8_t head[PGW_HEAD_MAX]; /* the payload's first bytes */
};

struct pgw_parser {
	uint8_t side;	  /* enum pgw_side */
	uint8_t startup;  /* frontend: the next message has no type byte */
	uint8_t one_byte; /* backend: the next message is one byte (SSL/GSS answer) */
	uint8_t broken;	  /* not this protocol: stays broken */
	uint8_t hdr_need; /* header bytes of the message being read */
	uint8_t hdr_have;
	uint8_t hdr[8];
	uint32_t left;	    /* payload bytes still to come */
	struct pgw_msg msg; /* being gathered */
};

void pgw_init(struct pgw_parser *p, enum pgw_side side);
/* Do b's first bytes begin what a client opens a connection with: a
 * StartupMessage of protocol 3.0 (9 to PGW_STARTUP_MAX bytes), or an
 * SSLRequest or GSSENCRequest (8 bytes)? */
int pgw_opens_connection(const uint8_t *b, size_t n);
/* Read at most n bytes, stopping after a whole message: then *done is 1
 * and m holds it. Returns the bytes read, or -1 when the stream is not
 * this protocol (an unknown type, a length out of bounds); the parser
 * then stays broken. */
long pgw_parse(struct pgw_parser *p, const uint8_t *b, size_t n, struct pgw_msg *m, int *done);
/* n bytes nobody saw: read past them if they are inside a message's
 * payload past its kept head (0; *done and m as pgw_parse's when they end
 * it), else -1. */
int pgw_skip(struct pgw_parser *p, uint64_t n, struct pgw_msg *m, int *done);
/* Backend: its next message is the one-byte answer to an SSLRequest or
 * GSSENCRequest the frontend sent. */
void pgw_expect_answer(struct pgw_parser *p);
/* Between messages (nothing half read). */
int pgw_idle(const struct pgw_parser *p);

/* The NUL-terminated string at *off in m's head, copied (cut) into out;
 * *off moves past it. -1 when the head ends first (out is then empty). */
int pgw_cstr(const struct pgw_msg *m, size_t *off, char *out, size_t outlen);
/* ErrorResponse / NoticeResponse: the field of this code ('C': SQLSTATE)
 * into out; -1 when not in the kept head. */
int pgw_error_field(const struct pgw_msg *m, char code, char *out, size_t outlen);

#endif

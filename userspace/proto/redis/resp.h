/*
 * resp - the Redis serialization protocol (RESP2 and RESP3), read as a
 * stream: fed any split of the bytes, it says where each top-level message
 * ends and keeps the few words obs reads (a command's name and first
 * argument, an error's prefix). It keeps no payload: a bulk string of
 * 512 MB costs one counter. Bounded (nesting, line lengths), pure.
 *
 * Commands are RESP arrays of bulk strings, or inline (a line of words,
 * as a person types it); replies are any RESP3 type. An attribute (`|`)
 * goes before a reply and is not one; a push (`>`) is out of band and is
 * said as such.
 */
#ifndef OBS_RESP_H
#define OBS_RESP_H
#include <stddef.h>
#include <stdint.h>

#define RESP_DEPTH_MAX 16 /* aggregates inside aggregates */
#define RESP_WORD_MAX  32 /* a kept word, NUL included */

enum resp_mode { RESP_COMMANDS, RESP_REPLIES };

/* One top-level message, whole. */
struct resp_msg {
	char type;		  /* its first byte; 0: an inline command */
	int push;		  /* a push message (out of band), not a reply */
	int empty;		  /* a command with no words: Redis does not answer it */
	char word[RESP_WORD_MAX]; /* a command's name (as sent), an error's prefix */
	char arg[RESP_WORD_MAX];  /* a command's first argument */
};

struct resp_parser {
	uint8_t mode;	/* enum resp_mode */
	uint8_t state;	/* where in an element */
	uint8_t depth;	/* open aggregates */
	char type;	/* the element being read */
	uint8_t neg;	/* its length line had a '-' */
	uint8_t digits; /* of its length line */
	uint8_t is_attr[RESP_DEPTH_MAX];
	int64_t num;			/* its length line, so far */
	int64_t left;			/* bulk payload bytes still to come */
	int64_t need[RESP_DEPTH_MAX];	/* elements still to come per open aggregate */
	uint32_t index[RESP_DEPTH_MAX]; /* the element being read, per open aggregate */
	uint32_t linelen;		/* of the line being read */
	uint8_t keep;			/* the element's first bytes are kept, into kept */
	uint8_t kept_len;
	char kept[RESP_WORD_MAX];
	struct resp_msg msg; /* being gathered */
};

void resp_init(struct resp_parser *p, enum resp_mode mode);
/* Read at most n bytes, stopping after a whole top-level message: then
 * *done is 1 and m holds it. Returns the bytes read, or -1 when the
 * stream is not RESP (or breaks a bound); the parser then stays broken. */
long resp_parse(struct resp_parser *p, const uint8_t *b, size_t n, struct resp_msg *m, int *done);
/* n bytes nobody saw: read past them if they are inside a bulk string's
 * payload (0), else -1. */
int resp_skip(struct resp_parser *p, uint64_t n);
/* Between messages (nothing half read). */
int resp_idle(const struct resp_parser *p);

#endif

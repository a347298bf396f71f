#include "resp.h"

#include <string.h>

/* Redis itself takes an inline command of at most 64 KiB (and a simple
 * string or error line no longer in practice); a length line is digits. */
#define RESP_LINE_MAX  (64 << 10)
#define RESP_DIGITS    18
#define RESP_BULK_MAX  (1LL << 40)
#define RESP_COUNT_MAX (1LL << 32)

enum resp_state {
	S_TYPE,	   /* an element's first byte */
	S_LINE,	   /* a simple element's line: its bytes, then CR LF */
	S_LINE_LF, /* ... its CR seen */
	S_LEN,	   /* a length line: [-]digits, then CR LF */
	S_LEN_LF,
	S_BULK,	   /* a bulk payload's bytes */
	S_BULK_CR, /* ... then its CR LF */
	S_BULK_LF,
	S_INLINE, /* an inline command, to its LF */
	S_BROKEN,
};

void resp_init(struct resp_parser *p, enum resp_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->mode = (uint8_t)mode;
}

int resp_idle(const struct resp_parser *p)
{
	return p->state == S_TYPE && p->depth == 0 && !p->msg.type;
}

static int is_agg(char t)
{
	return t == '*' || t == '%' || t == '~' || t == '>' || t == '|';
}

static int is_bulk(char t)
{
	return t == '$' || t == '!' || t == '=';
}

static int is_line(char t)
{
	return t == '+' || t == '-' || t == ':' || t == '_' || t == ',' || t == '#' || t == '(';
}

/* Keep the first bytes of the element starting now? Commands: the top
 * array's first two bulk strings (name, first argument); replies: a
 * top-level error's first word. */
static int want_kept(const struct resp_parser *p, char t)
{
	if (p->mode == RESP_COMMANDS)
		return p->depth == 1 && t == '$' && p->index[0] < 2;
	return p->depth == 0 && (t == '-' || t == '!');
}

static void keep_byte(struct resp_parser *p, uint8_t c)
{
	if (!p->keep)
		return;
	if (c == ' ' || c == '\r' || c == '\n' || p->kept_len + 1 >= RESP_WORD_MAX) {
		p->keep = 0; /* a word: to the first space, and bounded */
		return;
	}
	p->kept[p->kept_len++] = (char)c;
}

/* The element's kept word goes where it belongs in the message. */
static void file_kept(struct resp_parser *p)
{
	char *to;

	if (!p->kept_len && !p->keep)
		return;
	to = p->mode == RESP_REPLIES || p->index[0] == 0 ? p->msg.word : p->msg.arg;
	memcpy(to, p->kept, p->kept_len);
	to[p->kept_len] = 0;
	p->keep = 0;
	p->kept_len = 0;
}

/* An element ended: count it in the aggregates it closes. 1: a top-level
 * message is whole. */
static int element_done(struct resp_parser *p)
{
	file_kept(p);
	p->state = S_TYPE;
	for (;;) {
		unsigned d;

		if (p->depth == 0)
			return 1;
		d = p->depth - 1u;
		if (--p->need[d] > 0) {
			p->index[d]++;
			return 0;
		}
		p->depth--; /* the aggregate at d is whole */
		if (p->is_attr[d]) {
			/* an attribute goes before an element and is not one */
			p->is_attr[d] = 0;
			return 0;
		}
	}
}

static int inline_byte(struct resp_parser *p, uint8_t c);

/* A type byte: what the element is. -1: not RESP here. */
static int element_start(struct resp_parser *p, uint8_t c)
{
	char t = (char)c;

	if (p->mode == RESP_COMMANDS) {
		if (p->depth == 0 && t != '*') {
			p->state = S_INLINE;
			p->msg.type = 0;
			p->keep = 1;
			p->kept_len = 0;
			p->linelen = 0;
			return inline_byte(p, c);
		}
		if (p->depth > 0 && t != '$')
			return -1; /* a command is an array of bulk strings */
	} else if (!is_agg(t) && !is_bulk(t) && !is_line(t)) {
		return -1;
	}
	if (p->depth == 0 && t != '|') {
		p->msg.type = t;
		p->msg.push = t == '>';
	}
	p->type = t;
	p->keep = (uint8_t)want_kept(p, t);
	p->kept_len = 0;
	p->linelen = 0;
	p->num = 0;
	p->neg = 0;
	p->digits = 0;
	p->state = is_line(t) ? S_LINE : S_LEN;
	return 0;
}

/* A length line read whole: open the bulk or aggregate (or end a null). */
static int length_done(struct resp_parser *p)
{
	int64_t n = p->num;

	if (!p->digits || (p->neg && n != 1))
		return -1;
	if (p->neg || (is_agg(p->type) && n == 0)) {
		if (p->depth == 0 && p->mode == RESP_COMMANDS)
			p->msg.empty = 1;
		return element_done(p); /* null, or empty */
	}
	if (is_bulk(p->type)) {
		if (n > RESP_BULK_MAX)
			return -1;
		p->left = n;
		p->state = n ? S_BULK : S_BULK_CR;
		return 0;
	}
	if (n > RESP_COUNT_MAX || p->depth == RESP_DEPTH_MAX)
		return -1;
	p->keep = 0;
	p->need[p->depth] = p->type == '%' || p->type == '|' ? 2 * n : n;
	p->index[p->depth] = 0;
	p->is_attr[p->depth] = p->type == '|';
	p->depth++;
	p->state = S_TYPE;
	return 0;
}

/* The inline word just read goes to the name, then the argument. */
static void inline_word(struct resp_parser *p)
{
	char *to = !p->msg.word[0] ? p->msg.word : !p->msg.arg[0] ? p->msg.arg : NULL;

	if (to && p->kept_len) {
		memcpy(to, p->kept, p->kept_len);
		to[p->kept_len] = 0;
	}
	p->kept_len = 0;
	p->keep = !p->msg.arg[0];
}

/* One byte of an inline command line: its first two words kept. */
static int inline_byte(struct resp_parser *p, uint8_t c)
{
	if (c == '\n') {
		inline_word(p);
		p->msg.empty = !p->msg.word[0];
		p->keep = 0;
		p->state = S_TYPE;
		return 1;
	}
	if (++p->linelen > RESP_LINE_MAX)
		return -1;
	if (c == ' ' || c == '\t' || c == '\r')
		inline_word(p);
	else if (p->keep && p->kept_len + 1 < RESP_WORD_MAX)
		p->kept[p->kept_len++] = (char)c;
	return 0;
}

/* One byte; 1: a top-level message ended with it, -1: not RESP. */
static int step(struct resp_parser *p, uint8_t c)
{
	switch (p->state) {
	case S_TYPE:
		return element_start(p, c);
	case S_INLINE:
		return inline_byte(p, c);
	case S_LINE:
		if (c == '\r') {
			p->state = S_LINE_LF;
		} else if (c == '\n' || ++p->linelen > RESP_LINE_MAX) {
			return -1;
		} else {
			keep_byte(p, c);
		}
		return 0;
	case S_LINE_LF:
		return c == '\n' ? element_done(p) : -1;
	case S_LEN:
		if (c == '\r') {
			p->state = S_LEN_LF;
		} else if (c == '-' && !p->digits && !p->neg) {
			p->neg = 1;
		} else if (c >= '0' && c <= '9' && p->digits < RESP_DIGITS) {
			p->num = p->num * 10 + (c - '0');
			p->digits++;
		} else {
			return -1;
		}
		return 0;
	case S_LEN_LF:
		return c == '\n' ? length_done(p) : -1;
	case S_BULK_CR:
		p->state = S_BULK_LF;
		return c == '\r' ? 0 : -1;
	case S_BULK_LF:
		return c == '\n' ? element_done(p) : -1;
	default:
		return -1;
	}
}

long resp_parse(struct resp_parser *p, const uint8_t *b, size_t n, struct resp_msg *m, int *done)
{
	size_t i = 0;

	*done = 0;
	while (i < n) {
		int r;

		if (p->state == S_BULK) {
			/* a payload's bytes: only its first few are looked at */
			size_t take = (uint64_t)p->left < n - i ? (size_t)p->left : n - i;

			for (size_t k = 0; k < take && p->keep; k++)
				keep_byte(p, b[i + k]);
			p->left -= (int64_t)take;
			i += take;
			if (!p->left)
				p->state = S_BULK_CR;
			continue;
		}
		r = step(p, b[i++]);
		if (r < 0) {
			p->state = S_BROKEN;
			return -1;
		}
		if (r == 1) {
			*m = p->msg;
			memset(&p->msg, 0, sizeof(p->msg));
			*done = 1;
			return (long)i;
		}
	}
	return (long)i;
}

int resp_skip(struct resp_parser *p, uint64_t n)
{
	if (p->state != S_BULK || n > (uint64_t)p->left) {
		p->state = S_BROKEN;
		return -1;
	}
	p->keep = 0; /* its first bytes went unseen */
	p->left -= (int64_t)n;
	if (!p->left)
		p->state = S_BULK_CR;
	return 0;
}

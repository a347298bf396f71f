#include "pgwire.h"

#include <string.h>

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int known_type(enum pgw_side side, uint8_t t)
{
	/* PostgreSQL 16's message types, each side's own */
	static const char frontend[] = "BCDEFHPQSXcdfp";
	static const char backend[] = "RKSZTDCEN123nstIGHWdcAVv";

	return t && strchr(side == PGW_FRONTEND ? frontend : backend, t) != NULL;
}

void pgw_init(struct pgw_parser *p, enum pgw_side side)
{
	memset(p, 0, sizeof(*p));
	p->side = (uint8_t)side;
	p->startup = side == PGW_FRONTEND;
}

int pgw_opens_connection(const uint8_t *b, size_t n)
{
	uint32_t len, code;

	if (n < 8)
		return 0;
	len = be32(b);
	code = be32(b + 4);
	if (code == PGW_SSL_REQUEST || code == PGW_GSS_REQUEST)
		return len == 8;
	return code == PGW_PROTO_3 && len > 8 && len <= PGW_STARTUP_MAX;
}

void pgw_expect_answer(struct pgw_parser *p)
{
	p->one_byte = 1;
}

int pgw_idle(const struct pgw_parser *p)
{
	return !p->broken && !p->hdr_need;
}

static long broken(struct pgw_parser *p)
{
	p->broken = 1;
	return -1;
}

/* The header is whole: the message's type and length, checked. */
static int header_done(struct pgw_parser *p)
{
	struct pgw_msg *m = &p->msg;
	uint32_t len;

	m->head_len = 0;
	if (p->hdr_need == 8) { /* a startup-phase message */
		len = be32(p->hdr);
		m->type = 0;
		m->code = be32(p->hdr + 4);
		if (len < 8 || len > PGW_STARTUP_MAX)
			return -1;
		if (m->code >> 16 != 3 && m->code != PGW_SSL_REQUEST &&
		    m->code != PGW_GSS_REQUEST && m->code != PGW_CANCEL)
			return -1;
		if (m->code >> 16 == 3)
			p->startup = 0; /* typed messages from now on */
		m->len = len - 8;
	} else {
		len = be32(p->hdr + 1);
		m->type = (char)p->hdr[0];
		m->code = 0;
		if (len < 4 || len > PGW_LEN_MAX)
			return -1;
		m->len = len - 4;
	}
	p->left = m->len;
	return 0;
}

/* The message is whole: hand it out. */
static void finish(struct pgw_parser *p, struct pgw_msg *m, int *done)
{
	*m = p->msg;
	*done = 1;
	p->hdr_need = 0;
	p->hdr_have = 0;
}

long pgw_parse(struct pgw_parser *p, const uint8_t *b, size_t n, struct pgw_msg *m, int *done)
{
	size_t used = 0;

	*done = 0;
	if (p->broken)
		return -1;
	while (used < n) {
		if (!p->hdr_need) { /* a message begins */
			uint8_t c = b[used];

			if (p->one_byte) {
				p->one_byte = 0;
				if (c == 'S' || c == 'N' || c == 'G') {
					memset(&p->msg, 0, sizeof(p->msg));
					p->msg.code = c;
					used++;
					p->hdr_need = 1; /* (finish clears it) */
					finish(p, m, done);
					return (long)used;
				}
				/* an old server's ErrorResponse: a typed message */
			}
			if (p->side == PGW_FRONTEND && p->startup) {
				p->hdr_need = 8;
			} else {
				if (!known_type((enum pgw_side)p->side, c))
					return broken(p);
				p->hdr_need = 5;
			}
			p->hdr_have = 0;
		}
		if (p->hdr_have < p->hdr_need) {
			size_t k = p->hdr_need - p->hdr_have;

			if (k > n - used)
				k = n - used;
			memcpy(p->hdr + p->hdr_have, b + used, k);
			p->hdr_have = (uint8_t)(p->hdr_have + k);
			used += k;
			if (p->hdr_have < p->hdr_need)
				break;
			if (header_done(p))
				return broken(p);
			if (!p->left) {
				finish(p, m, done);
				return (long)used;
			}
			continue;
		}
		/* the payload: its head kept, the rest counted */
		size_t k = p->left < n - used ? p->left : n - used;
		size_t room = PGW_HEAD_MAX - p->msg.head_len;

		memcpy(p->msg.head + p->msg.head_len, b + used, k < room ? k : room);
		p->msg.head_len = (uint16_t)(p->msg.head_len + (k < room ? k : room));
		p->left -= (uint32_t)k;
		used += k;
		if (!p->left) {
			finish(p, m, done);
			return (long)used;
		}
	}
	return (long)used;
}

int pgw_skip(struct pgw_parser *p, uint64_t n, struct pgw_msg *m, int *done)
{
	uint32_t head_want;

	*done = 0;
	if (p->broken || !p->hdr_need || p->hdr_have < p->hdr_need || n > p->left)
		return -1;
	head_want = p->msg.len < PGW_HEAD_MAX ? p->msg.len : PGW_HEAD_MAX;
	if (p->msg.head_len < head_want)
		return -1; /* the kept head would have a hole */
	p->left -= (uint32_t)n;
	if (!p->left)
		finish(p, m, done);
	return 0;
}

int pgw_cstr(const struct pgw_msg *m, size_t *off, char *out, size_t outlen)
{
	const uint8_t *s = m->head + *off, *nul;
	size_t len;

	if (outlen)
		out[0] = 0;
	if (*off >= m->head_len)
		return -1;
	nul = memchr(s, 0, m->head_len - *off);
	if (!nul)
		return -1;
	len = (size_t)(nul - s);
	if (outlen) {
		size_t k = len < outlen - 1 ? len : outlen - 1;
		memcpy(out, s, k);
		out[k] = 0;
	}
	*off += len + 1;
	return 0;
}

int pgw_error_field(const struct pgw_msg *m, char code, char *out, size_t outlen)
{
	size_t off = 0;

	while (off < m->head_len && m->head[off]) {
		char f = (char)m->head[off++];

		if (f == code)
			return pgw_cstr(m, &off, out, outlen);
		if (pgw_cstr(m, &off, NULL, 0))
			break;
	}
	if (outlen)
		out[0] = 0;
	return -1;
}

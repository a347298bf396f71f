#include "tp.h"

#include <string.h>

/* A digit's value + 1, 0 for what is not lowercase hex (uppercase is
 * invalid in traceparent): one load per character on every request. */
#define D(c, v) [c] = (v) + 1
static const uint8_t hexv1[256] = {
    D('0', 0), D('1', 1), D('2', 2),  D('3', 3),  D('4', 4),  D('5', 5),  D('6', 6),  D('7', 7),
    D('8', 8), D('9', 9), D('a', 10), D('b', 11), D('c', 12), D('d', 13), D('e', 14), D('f', 15),
};
#undef D

static int unhex(const char *s, uint8_t *out, size_t n)
{
	unsigned bad = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned hi = hexv1[(uint8_t)s[2 * i]], lo = hexv1[(uint8_t)s[2 * i + 1]];

		bad |= !hi | !lo;
		out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
	}
	return bad ? -1 : 0;
}

static int all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* 8 lowercase hex digits at s to 4 bytes, a word at a time (the ids of
 * every traced request): in each byte, b + (0x80 - lo) sets bit 7 iff
 * b >= lo, with no carry into the next byte while b < 0x80. */
static int unhex8(const char *s, uint8_t out[4])
{
	uint64_t x, digit, alpha, v;

	memcpy(&x, s, 8);
	digit = (x + (0x80 - '0') * ONES) & ~(x + (0x80 - '9' - 1) * ONES) & HIGH;
	alpha = (x + (0x80 - 'a') * ONES) & ~(x + (0x80 - 'f' - 1) * ONES) & HIGH;
	if ((x & HIGH) || (digit | alpha) != HIGH)
		return -1;
	v = (x & 0x0f0f0f0f0f0f0f0fULL) + (alpha >> 7) * 9; /* digit values */
	v = ((v << 4) | (v >> 8)) & 0x00ff00ff00ff00ffULL;  /* pairs to bytes */
	v = (v | (v >> 8)) & 0x0000ffff0000ffffULL;
	v = (v | (v >> 16)) & 0xffffffffULL;
	memcpy(out, &v, 4);
	return 0;
}

/* 4 bytes to 8 lowercase hex digits. */
static void hex8(const uint8_t in[4], char *out)
{
	uint32_t w;
	uint64_t x, n;

	memcpy(&w, in, 4);
	x = w;
	x = (x | (x << 16)) & 0x0000ffff0000ffffULL;
	x = (x | (x << 8)) & 0x00ff00ff00ff00ffULL; /* byte 2j: in[j] */
	n = ((x >> 4) & 0x000f000f000f000fULL) | ((x & 0x000f000f000f000fULL) << 8);
	n += 0x3030303030303030ULL + (((n + 0x7676767676767676ULL) >> 7) & ONES) * ('a' - '0' - 10);
	memcpy(out, &n, 8);
}

static int unhex_ids(const char *s, uint8_t *out, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i += 4)
		bad |= unhex8(s + 2 * i, out + i);
	return bad ? -1 : 0;
}

static void hex_ids(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i += 4)
		hex8(b + i, out + 2 * i);
}
#else
static int unhex_ids(const char *s, uint8_t *out, size_t n)
{
	return unhex(s, out, n);
}

static void hex_ids(const uint8_t *b, size_t n, char *out)
{
	tp_hex(b, n, out);
}
#endif

static int ows(char c)
{
	return c == ' ' || c == '\t';
}

enum tp_result tp_parse(const char *s, size_t len, struct tp_ctx *out)
{
	struct tp_ctx c;

	while (len && ows(*s)) {
		s++;
		len--;
	}
	while (len && ows(s[len - 1]))
		len--;
	if (len < TP_LEN)
		return TP_ERR_LENGTH;
	if (unhex(s, &c.version, 1))
		return TP_ERR_FORMAT;
	if (c.version == 0xff)
		return TP_ERR_VERSION;
	/* Version 00 is exactly 55 characters; later versions may add fields
	 * after a '-'. */
	if (c.version == 0 ? len != TP_LEN : (len > TP_LEN && s[TP_LEN] != '-'))
		return TP_ERR_LENGTH;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-')
		return TP_ERR_FORMAT;
	if (unhex_ids(s + 3, c.trace_id, 16) || unhex_ids(s + 36, c.span_id, 8) ||
	    unhex(s + 53, &c.flags, 1))
		return TP_ERR_FORMAT;
	if (all_zero(c.trace_id, 16))
		return TP_ERR_TRACE_ID;
	if (all_zero(c.span_id, 8))
		return TP_ERR_SPAN_ID;
	*out = c;
	return TP_OK;
}

void tp_hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xf];
	}
	out[2 * n] = '\0';
}

void tp_format(const struct tp_ctx *c, char out[TP_LEN + 1])
{
	uint8_t flags = c->flags & (TP_FLAG_SAMPLED | TP_FLAG_RANDOM);

	memcpy(out, "00-", 3);
	hex_ids(c->trace_id, 16, out + 3);
	out[35] = '-';
	hex_ids(c->span_id, 8, out + 36);
	out[52] = '-';
	tp_hex(&flags, 1, out + 53);
}

void tp_new_root(struct tp_ctx *c, const uint8_t random[24], int sampled)
{
	memcpy(c->trace_id, random, 16);
	memcpy(c->span_id, random + 16, 8);
	if (all_zero(c->trace_id, 16))
		c->trace_id[15] = 1;
	if (all_zero(c->span_id, 8))
		c->span_id[7] = 1;
	c->version = 0;
	c->flags = TP_FLAG_RANDOM | (sampled ? TP_FLAG_SAMPLED : 0);
}

void tp_new_child(struct tp_ctx *child, const struct tp_ctx *parent, const uint8_t random[8])
{
	memcpy(child->trace_id, parent->trace_id, 16);
	memcpy(child->span_id, random, 8);
	if (all_zero(child->span_id, 8))
		child->span_id[7] = 1;
	child->version = 0;
	child->flags = parent->flags & (TP_FLAG_SAMPLED | TP_FLAG_RANDOM);
}

/* key = simple-key / multi-tenant-key
 * simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
 * multi-tenant-key = tenant-id "@" system-id
 * tenant-id = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
 * system-id = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" ) */
static int keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '*' || c == '/';
}

static int key_valid(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);

	for (size_t i = 0; i < n; i++)
		if (k + i != at && !keychar(k[i]))
			return 0;
	if (!at)
		return n >= 1 && n <= 256 && k[0] >= 'a' && k[0] <= 'z';
	{
		size_t t = (size_t)(at - k), sys = n - t - 1;

		return t >= 1 && t <= 241 && sys >= 1 && sys <= 14 && at[1] >= 'a' && at[1] <= 'z';
	}
}

/* value = 0*255(chr) nblk-chr ; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E ;
 * chr = %x20 / nblk-chr */
static int value_valid(const char *v, size_t n)
{
	if (n < 1 || n > 256)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
			return 0;
	}
	return v[n - 1] != ' ';
}

int tp_tracestate_valid(const char *s, size_t len)
{
	struct {
		const char *k;
		size_t n;
	} keys[TP_TRACESTATE_MEMBERS];
	size_t nkeys = 0, i = 0;

	while (i <= len) {
		size_t start = i, end, eq;

		while (i < len && s[i] != ',')
			i++;
		end = i++;
		/* OWS around list members; empty members are allowed. */
		while (start < end && ows(s[start]))
			start++;
		while (end > start && ows(s[end - 1]))
			end--;
		if (start == end)
			continue;
		for (eq = start; eq < end && s[eq] != '='; eq++)
			;
		if (eq == end || !key_valid(s + start, eq - start) ||
		    !value_valid(s + eq + 1, end - eq - 1))
			return -1;
		for (size_t k = 0; k < nkeys; k++)
			if (keys[k].n == eq - start && !memcmp(keys[k].k, s + start, keys[k].n))
				return -1; /* duplicate key */
		if (nkeys == TP_TRACESTATE_MEMBERS)
			return -1;
		keys[nkeys].k = s + start;
		keys[nkeys].n = eq - start;
		nkeys++;
	}
	return 0;
}

const char *tp_strerror(enum tp_result r)
{
	switch (r) {
	case TP_OK:
		return "ok";
	case TP_ERR_LENGTH:
		return "wrong length";
	case TP_ERR_FORMAT:
		return "not lowercase hex fields separated by '-'";
	case TP_ERR_VERSION:
		return "version ff is invalid";
	case TP_ERR_TRACE_ID:
		return "all-zero trace-id";
	case TP_ERR_SPAN_ID:
		return "all-zero parent-id";
	}
	return "unknown";
}

uint64_t tp_ratio_key(const uint8_t trace_id[16])
{
	uint64_t low = 0;

	for (int i = 8; i < 16; i++)
		low = low << 8 | trace_id[i];
	return low >> 11;
}

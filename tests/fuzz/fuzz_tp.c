/*
 * libFuzzer: traceparent / tracestate. Whatever parses must format to a
 * valid version-00 value that parses back to the same ids. tp_parse
 * decodes the ids a word at a time: a plain reading, one character at a
 * time, must give the same result and ids, and tp_format the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tp.h"

static int ref_hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int ref_unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = ref_hex(s[2 * i]), lo = ref_hex(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int ref_zero(const uint8_t *b, size_t n)
{
	while (n--)
		if (b[n])
			return 0;
	return 1;
}

static enum tp_result ref_parse(const char *s, size_t len, struct tp_ctx *c)
{
	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len < TP_LEN)
		return TP_ERR_LENGTH;
	if (ref_unhex(s, &c->version, 1))
		return TP_ERR_FORMAT;
	if (c->version == 0xff)
		return TP_ERR_VERSION;
	if (c->version == 0 ? len != TP_LEN : (len > TP_LEN && s[TP_LEN] != '-'))
		return TP_ERR_LENGTH;
	if (s[2] != '-' || s[35] != '-' || s[52] != '-' || ref_unhex(s + 3, c->trace_id, 16) ||
	    ref_unhex(s + 36, c->span_id, 8) || ref_unhex(s + 53, &c->flags, 1))
		return TP_ERR_FORMAT;
	if (ref_zero(c->trace_id, 16))
		return TP_ERR_TRACE_ID;
	return ref_zero(c->span_id, 8) ? TP_ERR_SPAN_ID : TP_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_ctx ref;
	char text[TP_LEN + 1];
	static const char digits[] = "0123456789abcdef";

	struct tp_ctx c, back;
	char out[TP_LEN + 1];

	tp_tracestate_valid((const char *)data, size);
	enum tp_result got = tp_parse((const char *)data, size, &c);
	if (got != ref_parse((const char *)data, size, &ref))
		abort();
	if (got != TP_OK)
		return 0;
	if (memcmp(c.trace_id, ref.trace_id, 16) || memcmp(c.span_id, ref.span_id, 8) ||
	    c.flags != ref.flags || c.version != ref.version)
		abort();
	tp_format(&c, out);
	/* the plain way to write it */
	memcpy(text, "00-", 3);
	for (int i = 0; i < 16; i++)
		text[3 + 2 * i] = digits[c.trace_id[i] >> 4],
			     text[4 + 2 * i] = digits[c.trace_id[i] & 15];
	text[35] = '-';
	for (int i = 0; i < 8; i++)
		text[36 + 2 * i] = digits[c.span_id[i] >> 4],
			      text[37 + 2 * i] = digits[c.span_id[i] & 15];
	text[52] = '-';
	text[53] = '0', text[54] = digits[c.flags & (TP_FLAG_SAMPLED | TP_FLAG_RANDOM)];
	text[55] = 0;
	if (strcmp(out, text))
		abort();
	if (strlen(out) != TP_LEN || tp_parse(out, TP_LEN, &back) != TP_OK)
		abort();
	if (memcmp(c.trace_id, back.trace_id, 16) || memcmp(c.span_id, back.span_id, 8) ||
	    back.version != 0 || (back.flags & ~(TP_FLAG_SAMPLED | TP_FLAG_RANDOM)) ||
	    (back.flags & TP_FLAG_SAMPLED) != (c.flags & TP_FLAG_SAMPLED))
		abort();
	return 0;
}

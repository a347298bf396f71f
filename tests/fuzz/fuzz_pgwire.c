/*
 * libFuzzer: PostgreSQL's protocol read as a stream (pgwire.h), frontend
 * and backend. Input is read whole and in pieces whose size comes from
 * the first byte (its high bit: the backend expects a one-byte TLS
 * answer first): every call must make progress or end a message,
 * splitting must not change the messages seen (their count, types,
 * codes, lengths and kept heads), heads are bounded, string reads stay
 * inside them, and once broken the parser stays broken.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgwire.h"

#define MSGS 64

struct seen {
	int n, broken;
	struct pgw_msg m[MSGS];
};

static void look(const struct pgw_msg *m)
{
	char s[16];
	size_t off = 0;

	if (m->head_len > PGW_HEAD_MAX || m->head_len > m->len)
		abort();
	while (!pgw_cstr(m, &off, s, sizeof(s)))
		if (off > m->head_len || strnlen(s, sizeof(s)) == sizeof(s))
			abort();
	pgw_error_field(m, 'C', s, sizeof(s));
	if (strnlen(s, sizeof(s)) == sizeof(s))
		abort();
}

static void run(enum pgw_side side, int answer, const uint8_t *d, size_t n, size_t step,
		struct seen *s)
{
	struct pgw_parser p;

	memset(s, 0, sizeof(*s));
	pgw_init(&p, side);
	if (answer)
		pgw_expect_answer(&p);
	while (n && !s->broken) {
		size_t take = step < n ? step : n, at = 0;
		while (at < take) {
			struct pgw_msg m;
			int done;
			long k = pgw_parse(&p, d + at, take - at, &m, &done);
			if (k < 0) {
				s->broken = 1;
				if (pgw_parse(&p, d, take, &m, &done) != -1)
					abort(); /* broken stays broken */
				return;
			}
			if ((k == 0 && !done) || (size_t)k > take - at)
				abort(); /* no progress, or past the input */
			at += (size_t)k;
			if (!done)
				continue;
			look(&m);
			if (s->n < MSGS)
				s->m[s->n] = m;
			s->n++;
		}
		d += take;
		n -= take;
	}
}

static int same(const struct pgw_msg *a, const struct pgw_msg *b)
{
	return a->type == b->type && a->code == b->code && a->len == b->len &&
	       a->head_len == b->head_len && !memcmp(a->head, b->head, a->head_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct seen a, b;
	size_t step;
	int answer;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	answer = data[0] >> 7;
	data++;
	size--;
	for (int side = 0; side < 2; side++) {
		run((enum pgw_side)side, answer, data, size, size ? size : 1, &a);
		run((enum pgw_side)side, answer, data, size, step, &b);
		if (a.n != b.n || a.broken != b.broken)
			abort();
		for (int i = 0; i < a.n && i < MSGS; i++)
			if (!same(&a.m[i], &b.m[i]))
				abort();
	}
	return 0;
}

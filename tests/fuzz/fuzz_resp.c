/*
 * libFuzzer: the RESP stream reader (resp.h), commands and replies. Input
 * is read whole and in pieces whose size comes from the first byte: every
 * call must make progress, splitting must not change the messages seen
 * (their count, types and kept words), kept words are bounded and
 * terminated, and once broken the parser stays broken.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define MSGS 64

struct seen {
	int n, broken;
	struct resp_msg m[MSGS];
};

static void run(enum resp_mode mode, const uint8_t *d, size_t n, size_t step, struct seen *s)
{
	struct resp_parser p;

	memset(s, 0, sizeof(*s));
	resp_init(&p, mode);
	while (n && !s->broken) {
		size_t take = step < n ? step : n, at = 0;
		while (at < take) {
			struct resp_msg m;
			int done;
			long k = resp_parse(&p, d + at, take - at, &m, &done);
			if (k < 0) {
				s->broken = 1;
				if (resp_parse(&p, d, take, &m, &done) != -1)
					abort(); /* broken stays broken */
				return;
			}
			if (k == 0 || (size_t)k > take - at)
				abort(); /* no progress, or past the input */
			at += (size_t)k;
			if (!done)
				continue;
			if (strnlen(m.word, RESP_WORD_MAX) == RESP_WORD_MAX ||
			    strnlen(m.arg, RESP_WORD_MAX) == RESP_WORD_MAX)
				abort();
			if (s->n < MSGS)
				s->m[s->n] = m;
			s->n++;
		}
		d += take;
		n -= take;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct seen a, b;
	size_t step;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	data++;
	size--;
	for (int mode = 0; mode < 2; mode++) {
		run((enum resp_mode)mode, data, size, size ? size : 1, &a);
		run((enum resp_mode)mode, data, size, step, &b);
		if (a.n != b.n || a.broken != b.broken)
			abort();
		for (int i = 0; i < a.n && i < MSGS; i++)
			if (a.m[i].type != b.m[i].type || a.m[i].push != b.m[i].push ||
			    a.m[i].empty != b.m[i].empty || strcmp(a.m[i].word, b.m[i].word) ||
			    strcmp(a.m[i].arg, b.m[i].arg))
				abort();
	}
	return 0;
}

/*
 * libFuzzer: MySQL/MariaDB packets read as a stream (mywire.h). Input is
 * read whole and in pieces whose size comes from the first byte: every
 * call must make progress or end a packet, splitting must not change the
 * packets seen (their count, lengths, sequence numbers, continuation
 * marks and kept heads), heads are bounded, and the integer readers stay
 * inside them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mywire.h"

#define PKTS 64

struct seen {
	int n;
	struct myw_pkt k[PKTS];
};

static void look(const struct myw_pkt *k)
{
	size_t off = 0;
	uint64_t v;

	if (k->head_len > MYW_HEAD_MAX || k->head_len > k->len || k->len > MYW_LEN_MAX)
		abort();
	while (!myw_lenenc(k, &off, &v))
		if (off > k->head_len)
			abort();
	(void)myw_u16(k, k->head_len - (k->head_len > 0));
	(void)myw_u32(k, k->head_len > 3 ? k->head_len - 4u : 0);
	(void)myw_is_greeting(k->head, k->head_len);
}

static void run(const uint8_t *d, size_t n, size_t step, struct seen *s)
{
	struct myw_parser p;

	memset(s, 0, sizeof(*s));
	myw_init(&p);
	while (n) {
		size_t take = step < n ? step : n, at = 0;
		while (at < take) {
			struct myw_pkt k;
			int done;
			size_t used = myw_parse(&p, d + at, take - at, &k, &done);
			if ((!used && !done) || used > take - at)
				abort(); /* no progress, or past the input */
			at += used;
			if (!done)
				continue;
			look(&k);
			if (s->n < PKTS)
				s->k[s->n] = k;
			s->n++;
		}
		d += take;
		n -= take;
	}
}

static int same(const struct myw_pkt *a, const struct myw_pkt *b)
{
	return a->len == b->len && a->seq == b->seq && a->cont == b->cont &&
	       a->head_len == b->head_len && !memcmp(a->head, b->head, a->head_len);
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
	run(data, size, size ? size : 1, &a);
	run(data, size, step, &b);
	if (a.n != b.n)
		abort();
	for (int i = 0; i < a.n && i < PKTS; i++)
		if (!same(&a.k[i], &b.k[i]))
			abort();
	return 0;
}

#include "rng.h"

#include <string.h>

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void rng_seed(struct rng *r, const uint64_t seed[4])
{
	memcpy(r->s, seed, sizeof(r->s));
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1;
}

uint64_t rng_next64(struct rng *r)
{
	uint64_t *s = r->s, v = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return v;
}

void rng_fill(struct rng *r, uint8_t *out, size_t n)
{
	uint64_t v;

	/* whole words with a fixed-size copy (a store, not a call) */
	for (; n >= 8; n -= 8, out += 8) {
		v = rng_next64(r);
		memcpy(out, &v, 8);
	}
	if (n) {
		v = rng_next64(r);
		memcpy(out, &v, n);
	}
}

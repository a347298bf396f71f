/*
 * rng - xoshiro256** (Blackman and Vigna): fast ids for spans and traces,
 * seeded from getrandom(2) by the caller. Not for secrets. Pure: the state
 * is the caller's (the shim keeps one per thread).
 */
#ifndef OBS_RNG_H
#define OBS_RNG_H
#include <stddef.h>
#include <stdint.h>

struct rng {
	uint64_t s[4]; /* never all zero */
};

/* Seed from 32 bytes (all zero: made non-zero). */
void rng_seed(struct rng *r, const uint64_t seed[4]);
uint64_t rng_next64(struct rng *r);
/* n random bytes. */
void rng_fill(struct rng *r, uint8_t *out, size_t n);

#endif

#include "region.h"

#include <string.h>

#include "str.h"

#define LOAD(p)	    __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define PROBE	    32 /* a full table is found full quickly */

static int pow2(uint32_t v)
{
	return v >= 2 && !(v & (v - 1));
}

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

/* The index has twice the series' entries: it stays at most half full,
 * so a probe is short. */
static size_t index_bytes(uint32_t nseries)
{
	return align64((size_t)nseries * 2 * sizeof(uint32_t));
}

size_t region_bytes(uint32_t nseries, uint32_t ring_cap)
{
	size_t series, ring;

	if (!pow2(nseries) || !pow2(ring_cap) || nseries > (1u << 20) || ring_cap > (1u << 20))
		return 0;
	series = (size_t)nseries * sizeof(struct region_series);
	ring = spanring_bytes(ring_cap);
	return align64(sizeof(struct region_hdr)) + index_bytes(nseries) + align64(series) +
	       align64(ring);
}

static void layout(struct region *r, void *mem, size_t len)
{
	r->hdr = mem;
	r->index = (uint32_t *)((char *)mem + r->hdr->index_off);
	r->series = (struct region_series *)((char *)mem + r->hdr->series_off);
	r->mask = r->hdr->nseries - 1;
	r->len = len;
}

int region_init(struct region *r, void *mem, size_t len, uint32_t nseries, uint32_t ring_cap,
		uint32_t pid, uint64_t pidns)
{
	struct region_hdr *h = mem;
	size_t need = region_bytes(nseries, ring_cap);

	if (!need || len < need)
		return -1;
	h->version = REGION_VERSION;
	h->hdr_size = sizeof(*h);
	h->size = len;
	h->nseries = nseries;
	h->ring_cap = ring_cap;
	h->index_off = align64(sizeof(*h));
	h->series_off = h->index_off + index_bytes(nseries);
	h->ring_off = h->series_off + align64((size_t)nseries * sizeof(struct region_series));
	h->pid = pid;
	h->pidns = pidns;
	layout(r, mem, len);
	if (spanring_init(&r->ring, (char *)mem + h->ring_off, ring_cap))
		return -1;
	STORE(&h->magic, REGION_MAGIC);
	return 0;
}

int region_attach(struct region *r, void *mem, size_t len)
{
	struct region_hdr *h = mem;
	size_t need, series_end;

	if (!mem || len < sizeof(*h) || len > REGION_MAX_BYTES || LOAD(&h->magic) != REGION_MAGIC ||
	    h->version != REGION_VERSION || h->hdr_size != sizeof(*h) || h->size != len)
		return -1;
	need = region_bytes(h->nseries, h->ring_cap);
	if (!need || need > len || h->index_off != align64(sizeof(*h)) ||
	    h->series_off != h->index_off + index_bytes(h->nseries) || h->series_off > len)
		return -1;
	/* the table and the ring lie where they must, inside len */
	if (h->nseries > (len - h->series_off) / sizeof(struct region_series))
		return -1;
	series_end = h->series_off + (size_t)h->nseries * sizeof(struct region_series);
	if (h->ring_off != align64(series_end) || h->ring_off > len)
		return -1;
	layout(r, mem, len);
	if (spanring_attach(&r->ring, (char *)mem + h->ring_off, len - h->ring_off) ||
	    r->ring.hdr->cap != h->ring_cap)
		return -1;
	return 0;
}

void region_count(struct region *r, enum region_counter c)
{
	if ((unsigned)c < REGION_COUNTERS)
		__atomic_fetch_add(&r->hdr->counter[c], 1, __ATOMIC_RELAXED);
}

uint64_t region_counter(const struct region *r, enum region_counter c)
{
	return (unsigned)c < REGION_COUNTERS
		   ? __atomic_load_n(&r->hdr->counter[c], __ATOMIC_RELAXED)
		   : 0;
}

static uint32_t key_hash(uint16_t family, const char *key, size_t n)
{
	uint64_t h = str_fnv1a(str_fnv1a(STR_FNV1A_INIT, &family, sizeof(family)), key, n);

	return (uint32_t)(h ^ h >> 32);
}

/* Hand out the next series entry, filled with this key and ready to
 * count; NULL when none is left for it. */
static struct region_series *claim(struct region *r, uint32_t h, uint16_t family, const char *key,
				   size_t keylen)
{
	uint32_t n = r->mask + 1, k;
	struct region_series *s;

	/* the last REGION_SPARE entries are the overflow series' */
	if (keylen && LOAD(&r->hdr->nclaimed) + REGION_SPARE >= n)
		return NULL;
	k = __atomic_fetch_add(&r->hdr->nclaimed, 1, __ATOMIC_RELAXED);
	if (k >= n)
		return NULL;
	s = &r->series[k];
	s->hash = h;
	s->family = family;
	s->keylen = (uint16_t)keylen;
	memcpy(s->key, key, keylen);
	STORE(&s->state, REGION_READY);
	return s;
}

struct region_series *region_series(struct region *r, uint16_t family, const char *key,
				    size_t keylen)
{
	uint32_t h, imask = 2 * (r->mask + 1) - 1;
	/* the overflow series may look through the whole index */
	uint32_t probe = keylen ? PROBE : imask + 1;
	struct region_series *mine = NULL;

	if (keylen > REGION_KEY_MAX)
		return NULL;
	h = key_hash(family, key, keylen);
	for (uint32_t i = 0; i < probe; i++) {
		uint32_t *slot = &r->index[(h + i) & imask];
		uint32_t e = LOAD(slot);

		if (!e) {
			/* not there: made here (entries are never removed, so a
			 * key is never found past an empty one) */
			if (!mine && !(mine = claim(r, h, family, key, keylen)))
				return NULL;
			e = (uint32_t)(mine - r->series) + 1;
			if (__atomic_compare_exchange_n(slot, &(uint32_t){0}, e, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				return mine;
			e = LOAD(slot); /* another thread's, just now: is it ours? */
		}
		if (e - 1 <= r->mask) {
			struct region_series *s = &r->series[e - 1];
			if (s->hash == h && s->family == family && s->keylen == keylen &&
			    !memcmp(s->key, key, keylen))
				return s; /* (mine, if any, stays a twin with no counts) */
		}
	}
	return mine; /* counted, though no other thread will find it */
}

static uint64_t dbits(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof(b));
	return b;
}

static double bitsd(uint64_t b)
{
	double v;

	memcpy(&v, &b, sizeof(v));
	return v;
}

void region_observe(struct region_series *s, unsigned b, double value)
{
	uint64_t old = __atomic_load_n(&s->sum_bits, __ATOMIC_RELAXED);

	if (b >= REGION_BUCKETS)
		b = REGION_BUCKETS - 1;
	__atomic_fetch_add(&s->buckets[b], 1, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&s->sum_bits, &old, dbits(bitsd(old) + value), 1,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void region_exemplar(struct region_series *s, unsigned b, const uint8_t trace_id[16],
		     const uint8_t span_id[8], double value, uint64_t end_ns)
{
	struct region_exemplar *e;
	uint32_t seq;

	if (b >= REGION_BUCKETS)
		return;
	e = &s->ex[b];
	seq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
	if ((seq & 1) || !__atomic_compare_exchange_n(&e->seq, &seq, seq + 1, 0, __ATOMIC_ACQUIRE,
						      __ATOMIC_RELAXED))
		return; /* being written: this one's newer anyway */
	memcpy(e->trace_id, trace_id, 16);
	memcpy(e->span_id, span_id, 8);
	e->value_bits = dbits(value);
	e->end_ns = end_ns;
	STORE(&e->seq, seq + 2);
}

uint32_t region_used(const struct region *r)
{
	uint32_t n = LOAD(&r->hdr->nclaimed);

	return n <= r->mask ? n : r->mask + 1;
}

int region_read(const struct region *r, uint32_t i, struct region_read *out)
{
	const struct region_series *s;
	uint64_t total = 0;

	if (i > r->mask)
		return -1;
	s = &r->series[i];
	if (LOAD(&s->state) != REGION_READY)
		return -1;
	out->family = s->family;
	out->keylen = s->keylen;
	if (out->keylen > REGION_KEY_MAX)
		return -1;
	memcpy(out->key, s->key, out->keylen);
	out->key[out->keylen] = 0;
	for (unsigned b = 0; b < REGION_BUCKETS; b++)
		total += out->buckets[b] = __atomic_load_n(&s->buckets[b], __ATOMIC_RELAXED);
	out->sum = bitsd(__atomic_load_n(&s->sum_bits, __ATOMIC_RELAXED));
	if (out->sum != out->sum || out->sum < 0 || !total)
		out->sum = 0; /* not a number a process could have added up */
	return 0;
}

int region_read_exemplar(const struct region *r, uint32_t i, unsigned b,
			 struct region_exemplar *out)
{
	const struct region_exemplar *e;
	uint32_t s1, s2;

	if (i > r->mask || b >= REGION_BUCKETS)
		return -1;
	e = &r->series[i].ex[b];
	s1 = LOAD(&e->seq);
	if (!s1 || (s1 & 1))
		return -1;
	memcpy(out, e, sizeof(*out));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s2 = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
	return s1 == s2 ? 0 : -1;
}

void region_set_routes(struct region *r, const struct route_table *t)
{
	struct region_hdr *h = r->hdr;
	uint32_t seq = __atomic_load_n(&h->routes_seq, __ATOMIC_RELAXED) | 1;

	STORE(&h->routes_seq, seq);
	h->nroutes = (uint32_t)(t->n < ROUTE_MAX_PATTERNS ? t->n : ROUTE_MAX_PATTERNS);
	memcpy(h->routes, t->pat, sizeof(h->routes));
	STORE(&h->routes_seq, seq + 1);
}

int region_get_routes(const struct region *r, uint32_t *seq, struct route_table *out)
{
	const struct region_hdr *h = r->hdr;
	uint32_t s1 = LOAD(&h->routes_seq), s2;

	if (s1 == *seq || (s1 & 1))
		return 0;
	out->n = h->nroutes < ROUTE_MAX_PATTERNS ? h->nroutes : ROUTE_MAX_PATTERNS;
	memcpy(out->pat, h->routes, sizeof(out->pat));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s2 = __atomic_load_n(&h->routes_seq, __ATOMIC_RELAXED);
	if (s1 != s2)
		return 0; /* changing: next time */
	for (size_t i = 0; i < out->n; i++)
		out->pat[i][ROUTE_MAX_LEN - 1] = 0; /* the collector's, but still a boundary */
	*seq = s1;
	return 1;
}

uint64_t region_sample_q53(enum spanring_sample mode, double ratio)
{
	if (mode == SPANRING_SAMPLE_PROCESS)
		return 1ULL << 53; /* (the program's own sampler: on, for obs's roots) */
	return ratio >= 1 ? 1ULL << 53 : ratio <= 0 ? 0 : (uint64_t)(ratio * (double)(1ULL << 53));
}

void region_set_export(struct region *r, int export_spans, enum spanring_sample mode, double ratio)
{
	uint64_t q = region_sample_q53(SPANRING_SAMPLE_CONFIG, ratio);

	/* threshold first: a reader that sees the new mode sees its ratio */
	STORE(&r->hdr->sample_q53, q);
	STORE(&r->hdr->sample_mode, (uint32_t)mode);
	STORE(&r->hdr->export_spans, (uint32_t) !!export_spans);
}

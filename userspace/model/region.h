/*
 * region - one traced process's shared memory with the collector: its RED
 * histograms (one series per label set, counted where the request
 * happens, lock-free, as a Prometheus client library keeps them), its
 * counters, and a ring for its sampled spans (spanring.h); the collector
 * reads the histograms at scrape time and drains the ring. The collector
 * writes the sampler, whether spans are exported, and the route patterns.
 *
 * The process creates the region (a sealed memfd: it can never shrink or
 * grow under either side) and hands it to the collector over a Unix
 * socket, which learns who wrote it from the kernel (SO_PEERCRED), never
 * from the region. Every reader treats the contents as untrusted: a
 * process can only ever spoil its own numbers. Sizes are checked with
 * division, never a multiplication that can wrap. Pure: no syscalls.
 */
#ifndef OBS_REGION_H
#define OBS_REGION_H
#include <stddef.h>
#include <stdint.h>

#include "route.h"
#include "spanring.h"

#define REGION_MAGIC   0x6f62737265673031ULL /* "obsreg01" */
#define REGION_VERSION 2
#define REGION_SERIES  1024 /* label sets per process */
#define REGION_RING                                                                                \
	8192		     /* cells of sampled spans waiting for the collector (1 MiB:           \
			      * ~2700 HTTP spans of 3 cells; see spanring.h) */
#define REGION_KEY_MAX	 384 /* a series' label values, NUL-separated */
#define REGION_BUCKETS	 17  /* bounds + 1 */
#define REGION_SPARE	 16  /* entries only overflow series may take */
#define REGION_MAX_BYTES (64ULL << 20)

enum region_counter {
	REGION_UNTRACKED,	/* connections not followed (table full) */
	REGION_PARSE_ERRORS,	/* connections given up (malformed, unsupported) */
	REGION_INJECTED,	/* traceparent added to an outgoing request */
	REGION_INJECT_SKIPPED,	/* an outgoing request sent without it */
	REGION_CTX_UNKNOWN,	/* outgoing requests whose parent cannot be known */
	REGION_SPANS_SAMPLED,	/* spans offered to the ring */
	REGION_SPANS_UNSAMPLED, /* spans not exported: the sampler said no */
	REGION_SPANS_NOEXPORT,	/* sampled, but nothing exports spans */
	REGION_SERIES_OVERFLOW, /* points in the overflow series (table full) */
	REGION_BAD_POINTS,	/* points with labels too long to keep */
	REGION_COUNTERS = 16,
};

enum region_state { REGION_FREE, REGION_READY }; /* an entry: READY once filled */

/* The newest sampled point of a bucket, with its trace. */
struct region_exemplar {
	uint32_t seq; /* odd while written */
	uint32_t reserved;
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint64_t value_bits; /* double */
	uint64_t end_ns;     /* CLOCK_MONOTONIC */
};

struct region_series {
	uint32_t state; /* enum region_state */
	uint32_t hash;
	uint16_t family; /* protocol id << 8 | index in its families */
	uint16_t keylen;
	uint32_t reserved;
	char key[REGION_KEY_MAX];
	uint64_t buckets[REGION_BUCKETS];
	uint64_t sum_bits; /* double, added with compare-and-swap */
	struct region_exemplar ex[REGION_BUCKETS];
};

struct region_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint64_t size;	   /* bytes of the whole region */
	uint32_t nseries;  /* series table entries, power of two */
	uint32_t ring_cap; /* span ring cells, power of two */
	uint64_t index_off, series_off, ring_off;
	uint32_t pid;	   /* as the process sees itself (informational) */
	uint32_t nclaimed; /* series entries handed out, in order: the collector
			    * reads only these (and touches only their pages) */
	uint64_t pidns;
	/* process -> collector */
	uint64_t counter[REGION_COUNTERS] __attribute__((aligned(64)));
	/* collector -> process */
	uint32_t export_spans __attribute__((aligned(64))); /* 0: keep no span */
	uint32_t sample_mode;				    /* enum spanring_sample */
	uint64_t sample_q53;
	uint32_t routes_seq; /* odd while written */
	uint32_t nroutes;
	char routes[ROUTE_MAX_PATTERNS][ROUTE_MAX_LEN];
};

struct region {
	struct region_hdr *hdr;
	uint32_t *index; /* 2 x nseries: hash -> series entry + 1 (the process's) */
	struct region_series *series;
	struct spanring ring;
	uint32_t mask;
	size_t len;
};

/* Bytes of a region of nseries series and ring_cap ring cells (both powers
 * of two), or 0 if out of bounds. */
size_t region_bytes(uint32_t nseries, uint32_t ring_cap);
/* Format zeroed memory of region_bytes(nseries, ring_cap) bytes. */
int region_init(struct region *r, void *mem, size_t len, uint32_t nseries, uint32_t ring_cap,
		uint32_t pid, uint64_t pidns);
/* Attach to a region someone else made: -1 unless every size and offset
 * holds together within len. */
int region_attach(struct region *r, void *mem, size_t len);

/* Process: count what happened. */
void region_count(struct region *r, enum region_counter c);
/* Process: the series of family with this key (label values,
 * NUL-separated, keylen bytes), made on first use; NULL when the table
 * is full (count it, and use the overflow series: key "", which always
 * finds one of the REGION_SPARE entries) or the key is too long. Never
 * waits for another thread: two threads making the same series at once
 * may make it twice, which the collector adds up as one. */
struct region_series *region_series(struct region *r, uint16_t family, const char *key,
				    size_t keylen);
/* Process: one point of value in bucket b. */
void region_observe(struct region_series *s, unsigned b, double value);
/* Process: bucket b's newest sampled point (skipped if another thread is
 * writing it at the same moment). */
void region_exemplar(struct region_series *s, unsigned b, const uint8_t trace_id[16],
		     const uint8_t span_id[8], double value, uint64_t end_ns);

/* Collector: how many series entries may be in use (read 0 .. n-1). */
uint32_t region_used(const struct region *r);
/* Collector: a consistent copy of series i, or -1 if it is not ready or
 * not well-formed. The count is the buckets' sum, so _count and +Inf
 * always agree; the sum may trail by the points in flight. */
struct region_read {
	uint16_t family;
	uint16_t keylen;
	char key[REGION_KEY_MAX + 1];
	uint64_t buckets[REGION_BUCKETS];
	double sum;
};
int region_read(const struct region *r, uint32_t i, struct region_read *out);
/* Collector: bucket b's exemplar of series i; -1 if none or changing. */
int region_read_exemplar(const struct region *r, uint32_t i, unsigned b,
			 struct region_exemplar *out);
uint64_t region_counter(const struct region *r, enum region_counter c);

/* Collector -> process: routes (the process copies them when routes_seq
 * changes), the sampler and whether spans are exported. */
void region_set_routes(struct region *r, const struct route_table *t);
void region_set_export(struct region *r, int export_spans, enum spanring_sample mode, double ratio);
/* The threshold a new trace is sampled below (tp_ratio_key) under mode and
 * ratio, as the region's sampler decides a root. */
uint64_t region_sample_q53(enum spanring_sample mode, double ratio);
/* Process: the routes, if they changed since *seq (returns 1 and updates
 * *seq), else 0. */
int region_get_routes(const struct region *r, uint32_t *seq, struct route_table *out);

#endif

/*
 * metrics - an in-memory metric registry (families of counters, gauges and
 * log2 histograms) and the cardinality guard that bounds it.
 *
 * A registry is built for one scrape and then encoded (exporters/prom.c).
 * The guard outlives registries: it remembers which label sets were
 * admitted, so a series never flaps in and out across scrapes. A label set
 * refused by the guard is folded into its family's overflow series
 * {otel_metric_overflow="true"} (the OpenTelemetry convention), so totals
 * stay right, and the refusal is counted.
 */
#ifndef OBS_METRICS_H
#define OBS_METRICS_H
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

#define METRICS_MAX_LABELS   10
#define METRICS_MAX_FAMILIES 64

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/* An OpenMetrics exemplar: one recent observation of a bucket, with the
 * trace it belongs to (links a latency bucket to a trace). */
struct metric_exemplar {
	char trace_id[33]; /* lowercase hex; "" = no exemplar */
	char span_id[17];
	double value;	  /* in the family's unit */
	double timestamp; /* Unix seconds */
};

struct metric_series {
	char *values[METRICS_MAX_LABELS]; /* owned copies */
	int overflow;			  /* the otel_metric_overflow series */
	double value;			  /* counter / gauge */
	__u64 slots[OBS_HIST_SLOTS];	  /* histogram, ns slots (hist.h) */
	double sum;			  /* histogram: sum of values, in the family's unit */
	struct metric_exemplar *ex;	  /* explicit buckets: nbounds + 1, or NULL */
	struct metric_series *hnext;
};

struct metric_family {
	char *name; /* counters carry the _total suffix here */
	char *help;
	char *unit; /* OpenMetrics UNIT, may be NULL */
	enum metric_type type;
	int unguarded; /* obs's own fixed-size families bypass the guard */
	size_t nlabels;
	char *labels[METRICS_MAX_LABELS];
	/* Explicit-bucket histogram (OTel style): slots[i] counts values in
	 * (bounds[i-1], bounds[i]], slots[nbounds] those above. NULL: log2 slots. */
	const double *bounds; /* not owned: static tables */
	size_t nbounds;
	struct metric_series **series; /* insertion order */
	size_t nseries, cap;
	struct metric_series **htab;
	size_t hsize;
};

struct card_guard;

struct metrics_registry {
	struct metric_family *fams[METRICS_MAX_FAMILIES];
	size_t nfams;
	struct card_guard *guard; /* not owned; may be NULL (unbounded) */
	int oom;		  /* an allocation failed: output is incomplete */
};

/* Guard: limit is the total number of exposed samples (a histogram label
 * set costs its buckets + _sum + _count, like Prometheus counts them). */
struct card_guard *card_guard_new(size_t limit);
void card_guard_free(struct card_guard *g);
size_t card_guard_used(const struct card_guard *g);
size_t card_guard_limit(const struct card_guard *g);
/* A new limit (SIGHUP). Series admitted before stay admitted; a lower
 * limit only refuses new ones. */
void card_guard_set_limit(struct card_guard *g, size_t limit);
/* Forget which series were admitted (some expired): the next render
 * admits what is still there, and the budget the rest held is free. The
 * overflow counts stay. */
void card_guard_reset(struct card_guard *g);
/* Label sets refused so far for a family name (0 if none). */
uint64_t card_guard_overflows(const struct card_guard *g, const char *family);
/* Iterate families with refusals: returns name or NULL past the end. */
const char *card_guard_overflow_at(const struct card_guard *g, size_t i, uint64_t *count);

void metrics_init(struct metrics_registry *r, struct card_guard *guard);
void metrics_free(struct metrics_registry *r);

/* Returns the family (created on first use) or NULL on bad args / OOM. */
struct metric_family *metrics_family(struct metrics_registry *r, const char *name, const char *help,
				     const char *unit, enum metric_type type,
				     const char *const *labels, size_t nlabels);

int metrics_counter_add(struct metrics_registry *r, struct metric_family *f,
			const char *const *values, double v);
int metrics_gauge_set(struct metrics_registry *r, struct metric_family *f,
		      const char *const *values, double v);
/* Add ns slots; sum_ns is the sum of the observed values in ns. */
int metrics_hist_add(struct metrics_registry *r, struct metric_family *f, const char *const *values,
		     const __u64 *slots, double sum_ns);

/* Make f an explicit-bucket histogram (bounds in the family's unit, at
 * most OBS_HIST_SLOTS - 1 of them). Call before adding series. */
int metrics_family_bounds(struct metric_family *f, const double *bounds, size_t n);
/* Add explicit-bucket counts (nbounds + 1 of them) and their sum (family
 * unit); ex (nbounds + 1 of them, or NULL) are exemplars per bucket: the
 * newest one of each bucket is kept. */
int metrics_hist_add_buckets(struct metrics_registry *r, struct metric_family *f,
			     const char *const *values, const __u64 *counts, double sum,
			     const struct metric_exemplar *ex);
/* Add counts that could not keep their labels (a traced process's series
 * table was full) to f's overflow series. */
int metrics_hist_add_overflow(struct metrics_registry *r, struct metric_family *f,
			      const __u64 *counts, double sum);

/* Samples one series of this family exposes. */
size_t metrics_series_cost(const struct metric_family *f);

#endif

/*
 * redagg - the collector's aggregation of metric points: each point a
 * protocol made of a span record (proto_obs: a family and its label
 * values) is counted into its family's buckets, per label set and per
 * process labels (service; container_id and pod_uid on a node), with the
 * newest sampled span of each bucket as its exemplar. At scrape time every
 * registered protocol's families are rendered, empty ones included.
 * Bounded: a point with a label set beyond the table's size is counted
 * as dropped, never silently lost. Not thread-safe: the caller locks.
 */
#ifndef OBS_REDAGG_H
#define OBS_REDAGG_H
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "proto.h"
#include "xspan.h"

struct redagg;

struct redagg *redagg_new(size_t max_sets);
void redagg_free(struct redagg *a);
/* Count point o of process labels svc/container_id/pod_uid. x: a sampled
 * span the point came from (its exemplar), or NULL. unix_off: Unix time
 * minus CLOCK_MONOTONIC. */
void redagg_observe(struct redagg *a, const struct proto_obs *o, const char *svc,
		    const char *container_id, const char *pod_uid, const struct xspan *x,
		    int64_t unix_off);
/* Add a whole series of f: its label values (f->nlabels of them), the
 * process labels, bucket counts (f->nbounds + 1), sum, and exemplars (one
 * per bucket, or NULL; the newest of each bucket is kept). */
void redagg_add(struct redagg *a, const struct proto_family *f, const char *const *labels,
		const char *svc, const char *container_id, const char *pod_uid,
		const uint64_t *counts, double sum, const struct metric_exemplar *ex);
/* Add counts of f that lost their labels (a process's series table was
 * full) to f's overflow series {otel_metric_overflow="true"}. */
void redagg_add_overflow(struct redagg *a, const struct proto_family *f, const uint64_t *counts,
			 double sum);
/* Add every row of from into a; agent: keep container_id and pod_uid. */
void redagg_merge(struct redagg *a, const struct redagg *from, int agent);
/*
 * Add every family of the handlers in table (NULL-terminated) to r, with
 * what was counted. service: the service label of every point (obs-run),
 * or NULL to use each point's own (node agent, which also labels
 * container_id and pod_uid).
 */
void redagg_render(const struct redagg *a, struct metrics_registry *r,
		   const struct proto_handler *const *table, const char *service);
/* Points not counted: more label sets than max_sets. */
uint64_t redagg_dropped(const struct redagg *a);
/* Each row: its family, label values (NULL: the family's overflow row),
 * per-bucket counts (nbounds + 1) and sum. */
typedef void (*redagg_row_fn)(void *arg, const struct proto_family *f, const char *const *labels,
			      const uint64_t *counts, double sum);
void redagg_each(const struct redagg *a, redagg_row_fn fn, void *arg);
/* Remove every series of this service (its process labels); how many. */
size_t redagg_forget(struct redagg *a, const char *svc, const char *container_id,
		     const char *pod_uid);

#endif

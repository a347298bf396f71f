/*
 * spans - the collector's end of the shim: owns the shared-memory span
 * ring, drains it on its own thread, turns each record into RED metric
 * points (http_server/client_request_duration_seconds, OTel buckets) and
 * hands sampled spans to the exporter.
 */
#ifndef OBS_SPANS_H
#define OBS_SPANS_H
#include <stddef.h>
#include <stdio.h>

#include "metrics.h"
#include "otlp.h"
#include "route.h"
#include "spanring.h"

struct spans_cfg {
	const char *service; /* the service label of every point */
	struct route_table routes;
	uint64_t ring_cap; /* records; power of two */
	struct otlp_cfg export;
	int export_spans; /* 0: metrics only */
	enum spanring_sample sample_mode;
	double sample_ratio;
};

struct spans;

/* Create the ring (a file in /dev/shm, path in s->path) and start draining. */
int spans_open(struct spans **out, const struct spans_cfg *cfg, char *err, size_t errlen);
/* The ring's path, for OBS_SPAN_RING in the traced program's environment. */
const char *spans_ring_path(const struct spans *s);
/* SIGHUP: new route patterns for requests drained from now on. */
void spans_set_routes(struct spans *s, const struct route_table *routes);
/* SIGHUP: the sampler for traces the traced processes start from now on. */
void spans_set_sampler(struct spans *s, enum spanring_sample mode, double ratio);
/* Add the HTTP families and obs_spans_* self-metrics to a scrape. */
void spans_render(struct spans *s, struct metrics_registry *r);
/* Final drain and export flush (at most timeout_ms); metrics stay
 * readable. Idempotent. */
void spans_finish(struct spans *s, long timeout_ms);
/* spans_finish, then unlink the ring and free. */
void spans_close(struct spans *s, long timeout_ms);
/* Totals for the exit summary. */
void spans_summary(struct spans *s, FILE *out);

#endif

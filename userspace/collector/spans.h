/*
 * spans - the collector's end of the shim: owns the shared-memory span
 * ring, drains it on its own thread, turns each record into RED metric
 * points (http_server/client_request_duration_seconds, OTel buckets) and
 * hands sampled spans to the exporter.
 */
#ifndef OBS_SPANS_H
#define OBS_SPANS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "metrics.h"
#include "otlp.h"
#include "route.h"
#include "spanring.h"

/* Who wrote a record, as obs sees it (node agent). */
struct spans_identity {
	uint32_t pid; /* in obs's pid namespace */
	char service[128];
	char container_id[72];
	char pod_uid[40];
};

struct spans_cfg {
	const char *service; /* the service label of every point (obs-run) */
	/* Node agent: resolve the process behind a record from the pid and
	 * pid namespace the shim wrote; 0, or -1 (unknown: the record keeps
	 * its own pid and the "unknown" service). Points and spans then carry
	 * that service, container_id and pod_uid. NULL: obs-run. */
	int (*identify)(void *ctx, uint32_t pid, uint64_t pidns, struct spans_identity *out);
	void *identify_ctx;
	const char *ring_path; /* NULL: /dev/shm/obs-spans-PID, removed at close */
	unsigned ring_mode;    /* file mode of a ring at ring_path (e.g. 0666) */
	struct route_table routes;
	uint64_t ring_cap; /* records; power of two */
	struct otlp_cfg export;
	int export_spans; /* 0: metrics only */
	enum spanring_sample sample_mode;
	double sample_ratio;
};

struct spans;

/* Create the ring (a file in /dev/shm, or cfg->ring_path: reused when
 * it is a valid ring of the same size, so processes that mapped it keep
 * writing across a restart of obs) and start draining. */
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

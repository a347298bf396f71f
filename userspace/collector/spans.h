/*
 * spans - the collector's end of the shim: the traced processes' regions
 * (regions.h) — their RED series read at scrape time, their counters, and
 * their sampled spans drained on a thread of its own, described by their
 * protocol and handed to the exporter.
 */
#ifndef OBS_SPANS_H
#define OBS_SPANS_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "metrics.h"
#include "otlp.h"
#include "regions.h"
#include "route.h"
#include "spanring.h"

struct spans_cfg {
	const char *service; /* obs-run: the service label of every point */
	int agent;	     /* node agent: each process's own labels, container and pod */
	const char *socket;  /* where processes hand their regions: "@name", or a file */
	unsigned socket_mode;
	/* May pid hand its region over, and who is it (regions.h)? */
	int (*accept)(void *ctx, pid_t pid, const char *key, struct regions_who *who);
	void *accept_ctx;
	struct route_table routes;
	struct otlp_cfg export;
	int export_spans; /* 0: metrics only, no span is kept */
	enum spanring_sample sample_mode;
	double sample_ratio;
};

struct spans;

/* Listen for the processes' regions and start draining. */
int spans_open(struct spans **out, const struct spans_cfg *cfg, char *err, size_t errlen);
/* Where processes hand their regions (OBS_SOCKET). */
const char *spans_socket(const struct spans *s);
/* 1 if it exports spans (its threads then yield to the app: bgthread.h). */
int spans_exporting(const struct spans *s);
/* SIGHUP: new route patterns for what the processes count from now on. */
void spans_set_routes(struct spans *s, const struct route_table *routes);
/* SIGHUP: the sampler for traces the traced processes start from now on. */
void spans_set_sampler(struct spans *s, enum spanring_sample mode, double ratio);
/* Add every protocol's families and obs_spans_* self-metrics to a scrape. */
void spans_render(struct spans *s, struct metrics_registry *r);
/* Forget the RED series exited processes of this service left (it
 * expired); how many. s may be NULL. */
size_t spans_forget(struct spans *s, const char *svc, const char *container_id,
		    const char *pod_uid);
/* regions_adopt, for kernel-side capture. -1 without regions. */
int spans_adopt(struct spans *s, int fd, int sock, const struct regions_who *who);
/* The agent named pid's service anew: its region (if it handed one
 * over) is labelled so from now on. 1 if it had one. s may be NULL. */
int spans_relabel(struct spans *s, pid_t pid, const char *svc, const char *container_id,
		  const char *pod_uid);
/* Final drain and export flush (at most timeout_ms); metrics stay
 * readable. Idempotent. */
void spans_finish(struct spans *s, long timeout_ms);
/* spans_finish, then let the regions go and free. */
void spans_close(struct spans *s, long timeout_ms);
/* Totals for the exit summary. */
void spans_summary(struct spans *s, FILE *out);
/* The exit summary's table of what the processes counted (redsum.h). */
void spans_red_summary(struct spans *s, FILE *out, unsigned top);

#endif

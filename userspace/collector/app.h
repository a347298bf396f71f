/*
 * app - the collector context: the one structure shared by the modules of
 * a running obs (run, agent, triage), the HTTP thread included. Its owner
 * (the subcommand's main function) creates and frees everything in it.
 */
#ifndef OBS_APP_H
#define OBS_APP_H
#include <pthread.h>
#include <stdint.h>

#include "cli.h"
#include "collector.h"
#include "config.h"
#include "otlp.h"
#include "metrics.h"
#include "slots.h"
#include "spanring.h"

struct http_server;
struct spans;

struct obs_app {
	const struct obs_opts *opts;
	struct obs_config *cfg;	  /* owned; main thread only (SIGHUP updates it) */
	uint64_t stall_ns;	  /* /readyz: longest allowed gap between drains */
	struct collector *col;	  /* NULL until BPF is loaded and attached */
	struct slots *slots;	  /* slot id -> labels */
	struct card_guard *guard; /* persistent cardinality guard */
	struct http_server *http;
	struct spans *spans;
	char service[128]; /* obs-run: CMD's service label */ /* obs-run with the shim: HTTP metrics
								 and span export */
	pthread_mutex_t lock;	    /* guards col (pointer), guard, render state */
	uint64_t start_ns;	    /* CLOCK_MONOTONIC at start */
	uint64_t ready_ns;	    /* when BPF got attached; 0 before */
	uint64_t last_drain_ns;	    /* last ring buffer drain */
	double last_scrape_seconds; /* duration of the previous /metrics render */
	uint64_t scrapes;
	uint64_t tls_sig;      /* tlsfiles_sig of the served pair's files */
	uint64_t tls_check_ns; /* next app_watch_tls look at them */
	uint64_t tls_check_every_ns;
	uint64_t tls_reloads[2]; /* changed pairs applied, refused (atomic) */
	uint64_t series_expired; /* agent: series removed with their service (atomic) */
};

/* How often app_watch_tls looks at the certificate files
 * ($OBS_DEBUG_TLS_CHECK_MS overrides it for tests). */
#define APP_TLS_CHECK_NS (10ULL * 1000000000ULL)

/* Build the settings (defaults, --config file, environment, flags) and
 * apply the logging ones; -1 with the message in err. cfg is owned by
 * the caller until app_init takes it. */
int app_config(struct obs_config **cfg, const struct obs_opts *o, char *err, size_t errlen);
/* Takes ownership of cfg (freed by app_free, even on failure). */
int app_init(struct obs_app *a, const struct obs_opts *o, struct obs_config *cfg,
	     int container_labels);
void app_free(struct obs_app *a);
/* Start the HTTP endpoint unless --no-metrics; logs the URL. */
int app_start_http(struct obs_app *a, char *err, size_t errlen);
/* Open the collector and publish it. */
int app_attach(struct obs_app *a, const struct collector_cfg *cfg, char *err, size_t errlen);
/* /readyz flips to ready: attached, privileges dropped, and (obs-run) CMD
 * started. */
void app_set_ready(struct obs_app *a);
/* SIGHUP: read the settings again and apply what can change while
 * running (logging, metrics credentials and TLS files, sampling, routes,
 * limits, health);
 * log what needs a restart. A bad file changes nothing. 0, or -1. */
int app_reload(struct obs_app *a);
/* How the shim samples new traces under these settings. */
enum spanring_sample app_sampler_mode(const struct obs_config *c);
/* After attach: keep only the capabilities in keep (1 << CAP_*; CAP_BPF
 * is kept too where the kernel needs it for map reads) in every thread,
 * and log which are kept and why. -1 with err if the drop failed. */
int app_drop_privileges(struct obs_app *a, uint64_t keep, const char *why, char *err,
			size_t errlen);
/* libobs_preload.so: $OBS_PRELOAD_LIB, next to the obs binary, or
 * PREFIX/lib/obs. 0, or -1 if none is readable. */
int app_find_preload(char *out, size_t len);
/* The span exporter's settings: the config's tracing section, then the
 * OTEL_* variables over it, and the resource (service, the variable
 * OTEL_RESOURCE_ATTRIBUTES, host name). Strings live in static buffers:
 * one exporter per process. */
/* Spans are exported only where they go somewhere the user chose: an
 * OTLP endpoint, or a file (--spans-file; "-" is stdout). Never by
 * default into the app's own stdout. */
int app_exports_spans(const struct otlp_cfg *x);
int app_export_cfg(const struct obs_config *c, const char *service, struct otlp_cfg *x, char *err,
		   size_t errlen);
/* Main loop, at least once a second: every APP_TLS_CHECK_NS, if the TLS
 * certificate or key file changed on disk (a renewal), serve the new
 * pair without waiting for a SIGHUP; a bad pair is logged and the
 * running one kept. */
void app_watch_tls(struct obs_app *a);
/* Drain process events for up to timeout_ms. */
void app_drain(struct obs_app *a, int timeout_ms);

#endif

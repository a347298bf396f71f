/*
 * otlp - the span exporter: a bounded queue, a batching thread, and one
 * of two sinks: OTLP/HTTP protobuf (libcurl, optional gzip) with the
 * specification's retry rules, or JSON lines to a file / stdout when no
 * endpoint is configured.
 *
 * Retry (OTLP spec, "OTLP/HTTP Response"): 429, 502, 503, 504 and network
 * errors are retried with exponential backoff (1 s doubling, jittered, at
 * most 32 s), honouring Retry-After; any other 4xx/5xx drops the batch. A
 * 200 with partial_success counts the rejected spans. The queue is bounded
 * (OTEL_BSP_MAX_QUEUE_SIZE, default 2048): when it is full new spans are
 * dropped and counted; the app is never slowed.
 */
#ifndef OBS_OTLP_H
#define OBS_OTLP_H
#include <stddef.h>
#include <stdint.h>

#include "otlp_encode.h"

#define OTLP_HEADERS_MAX 16

struct otlp_cfg {
	const char *endpoint;  /* full URL of /v1/traces; NULL: JSON lines */
	const char *json_path; /* "-" or NULL: stdout */
	int gzip;
	long timeout_ms;
	size_t queue_size, batch_size;
	long delay_ms; /* batch schedule delay */
	size_t nheaders;
	char *headers[OTLP_HEADERS_MAX]; /* "Name: value", owned by the cfg's creator */
	/* https: the CA file that verifies the endpoint (NULL: the system's),
	 * and a client certificate and key (PEM) to present */
	const char *ca_file, *cert_file, *key_file;
	struct otlp_resource res;
};

/* The defaults: no endpoint (JSON lines), no gzip, 10 s timeout, the
 * OpenTelemetry batch processor's queue and batch sizes. */
void otlp_cfg_init(struct otlp_cfg *c);
/* Override c with OTEL_EXPORTER_OTLP_* / OTEL_BSP_* / OBS_SPANS_FILE where
 * set (headers: the variable replaces the whole list). Strings live in
 * store (storelen bytes). -1 with err on a bad value. */
/* Then otlp_cfg_check_tls: the CA, certificate and key files readable, a
 * certificate and key set together, and only for an https:// endpoint;
 * -1 with err naming the setting otherwise. */
int otlp_cfg_check_tls(const struct otlp_cfg *c, char *err, size_t errlen);
/* 1 if an OTEL_EXPORTER_OTLP_* variable names a CA, certificate or key
 * file (read at every connection: obs keeps the right to read it). */
int otlp_cfg_env_tls(void);
int otlp_cfg_from_env(struct otlp_cfg *c, char *store, size_t storelen, char *err, size_t errlen);
/* The traces URL for the config file's tracing.endpoint: a collector's
 * base URL gets /v1/traces, a URL already ending in it is kept. */
void otlp_traces_url(const char *base, char *out, size_t len);
/* url as it may be logged: a user:password@ before the host is shown as
 * ***@ (credentials never reach a log). */
void otlp_url_shown(const char *url, char *out, size_t len);

struct otlp_stats {
	uint64_t queued, exported, retries;
	uint64_t dropped_queue_full, dropped_rejected, dropped_failed, dropped_partial;
	uint64_t requests_ok, requests_failed;
	uint64_t queue_bytes; /* the queue's ring now: it grows with the backlog (spanq.h) */
};

struct otlp_exporter;

int otlp_start(struct otlp_exporter **out, const struct otlp_cfg *cfg, char *err, size_t errlen);
/* CLOCK_REALTIME - CLOCK_MONOTONIC in ns: span times (monotonic, shared
 * with the BPF side) plus this are Unix times. */
int64_t otlp_unix_offset(void);
/*
 * The producer's side, from one thread: a span is described where it will
 * be exported, in the queue itself, and handed over a slice at a time.
 * otlp_slot: where to write the next span (never NULL: when the queue is
 * full, a spare that otlp_put counts as dropped, queue_full). otlp_put:
 * it is written. otlp_publish: hand what was put to the exporter. A lock
 * is taken once per slice, not per span.
 */
struct xspan *otlp_slot(struct otlp_exporter *e);
void otlp_put(struct otlp_exporter *e, const struct xspan *x);
void otlp_publish(struct otlp_exporter *e);
/* The producer's side: how many more spans the queue takes now. A
 * producer that can leave spans where they are (a process's ring) waits
 * rather than have them dropped. */
size_t otlp_room(struct otlp_exporter *e);
void otlp_get_stats(struct otlp_exporter *e, struct otlp_stats *st);
/* Export what is queued (waiting at most timeout_ms; the rest is counted
 * as export_failed) and stop the thread; stats stay readable. Idempotent. */
void otlp_flush(struct otlp_exporter *e, long timeout_ms);
/* otlp_flush, then free. */
void otlp_stop(struct otlp_exporter *e, long timeout_ms);

#endif

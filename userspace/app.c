#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "prom_http.h"
#include "spans.h"
#include "render.h"

uint64_t app_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int app_init(struct obs_app *a, const struct obs_opts *o, int container_labels)
{
	memset(a, 0, sizeof(*a));
	a->opts = o;
	a->start_ns = app_now_ns();
	pthread_mutex_init(&a->lock, NULL);
	a->slots = slots_new(container_labels);
	a->guard = card_guard_new(o->series_limit);
	if (!a->slots || !a->guard) {
		app_free(a);
		return -1;
	}
	return 0;
}

void app_free(struct obs_app *a)
{
	http_server_stop(a->http);
	a->http = NULL;
	spans_close(a->spans, 5000); /* after HTTP: no scrape reads it any more */
	a->spans = NULL;
	pthread_mutex_lock(&a->lock);
	collector_close(a->col);
	a->col = NULL;
	pthread_mutex_unlock(&a->lock);
	slots_free(a->slots);
	card_guard_free(a->guard);
	a->slots = NULL;
	a->guard = NULL;
	pthread_mutex_destroy(&a->lock);
}

int app_start_http(struct obs_app *a, char *err, size_t errlen)
{
	struct http_server_cfg cfg = {
	    .host = a->opts->metrics_host,
	    .port = a->opts->metrics_port,
	    .metrics = render_metrics,
	    .ready = render_ready,
	    .ctx = a,
	};
	const char *h = a->opts->metrics_host;

	if (a->opts->no_metrics)
		return 0;
	if (http_server_start(&cfg, &a->http, err, errlen))
		return -1;
	log_info("metrics at http://%s%s%s:%u/metrics", strchr(h, ':') ? "[" : "",
		 *h ? h : "0.0.0.0", strchr(h, ':') ? "]" : "", http_server_port(a->http));
	return 0;
}

int app_attach(struct obs_app *a, const struct collector_cfg *cfg, char *err, size_t errlen)
{
	struct collector *c;
	const char *delay = getenv("OBS_DEBUG_ATTACH_DELAY_MS");

	/* Debugging aid: hold readiness back to observe /readyz before attach. */
	if (delay)
		usleep((useconds_t)atoi(delay) * 1000);
	if (collector_open(cfg, &c, err, errlen))
		return -1;
	/* obs never measures itself. */
	collector_track(c, getpid(), OBS_SLOT_NONE);
	pthread_mutex_lock(&a->lock);
	a->col = c;
	pthread_mutex_unlock(&a->lock);
	__atomic_store_n(&a->last_drain_ns, app_now_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&a->ready_ns, app_now_ns(), __ATOMIC_RELEASE);
	log_debug("attached %d BPF programs in %.1f ms", collector_attached(c),
		  (double)(a->ready_ns - a->start_ns) / 1e6);
	return 0;
}

void app_drain(struct obs_app *a, int timeout_ms)
{
	if (a->col && collector_poll(a->col, timeout_ms) < 0)
		log_warn("ringbuf_poll_failed", "ring buffer poll failed");
	__atomic_store_n(&a->last_drain_ns, app_now_ns(), __ATOMIC_RELAXED);
}

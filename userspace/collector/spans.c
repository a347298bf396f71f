#include "spans.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bgthread.h"
#include "log.h"
#include "monotime.h"
#include "redagg.h"
#include "redsum.h"
#include "region.h"
#include "registry.h"
#include "str.h"

#define SLICE 256 /* spans taken per turn: the lock is let go between */
/*
 * When to look at the rings. A process wakes the collector (a byte on its
 * socket) when its ring is a quarter full (WAKE_AHEAD); besides that the
 * collector looks when it expects the rings half full at the rate spans
 * came last time (for its own ring, and a wake that raced its arming),
 * and at least every PACE_MAX_MS. Looking every millisecond while spans
 * flowed, as before, put a switch to the collector on a busy app's core
 * a thousand times a second: measured, twice the app's p99 at 10%
 * sampling, from that alone (bench/http-overhead, perf sched).
 */
#define WAKE_AHEAD  (REGION_RING / 4)	  /* cells */
#define PACE_AHEAD  (REGION_RING / 2 / 4) /* spans: half the cells, at 4 a span */
#define PACE_MIN_MS 1
#define PACE_MAX_MS 200
/* The export queue full: the spans wait in the rings (a 1 MiB ring holds
 * ~2700 HTTP spans, a tenth of a second of a busy server), looked at again
 * this soon; dropping them at the queue, as before, lost spans to a
 * 75 ms stall of the exporter with most of the rings empty. */
#define PACE_BLOCKED_MS 5
#define POLL_FDS	1024 /* the socket and the processes' */
/* Once behind, the span threads stay busy this long (bgthread.h): each
 * switch back to idle under a saturating load costs a ring's worth of
 * catching up. */
#define PACE_HOLD_MS  3000
#define PACE_STALE_NS (1000 * 1000000ULL)
/* the pace thread's wait for a wake, at least as long as its 10 ms look */
#define PACE_WAIT_MIN_MS 10
#define AGG_MAX		 65536

struct comm_cache {
	uint32_t pid;
	char comm[32];
};

struct spans {
	struct spans_cfg cfg;
	struct regions *rs;
	struct otlp_exporter *exp;
	pthread_t thread;
	int stop, finished;   /* finished: drained and flushed (spans_finish) */
	int pace_missed;      /* the pace thread found the lock held, looks in a row */
	uint64_t turn_ns;     /* when the drain thread last took a turn */
	int drain_wait_ms;    /* its last pace (pace_wait) */
	pthread_mutex_t lock; /* the regions, the routes, the counters */
	uint64_t received, bad_records, not_exported;
	struct comm_cache comms[64];
	unsigned comm_next;
	int64_t unix_off;
};

static void exe_name(struct spans *s, uint32_t pid, char *out, size_t len)
{
	char path[64], buf[32] = "";
	FILE *f;

	for (size_t i = 0; i < sizeof(s->comms) / sizeof(s->comms[0]); i++) {
		if (s->comms[i].pid == pid) {
			str_copy(out, len, s->comms[i].comm);
			return;
		}
	}
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
	struct comm_cache *c = &s->comms[s->comm_next++ % (sizeof(s->comms) / sizeof(s->comms[0]))];
	c->pid = pid;
	snprintf(c->comm, sizeof(c->comm), "%s", buf);
	snprintf(out, len, "%s", buf);
}

/* One sampled span (s->lock held): its protocol describes it; to the
 * exporter. Who wrote it is the kernel's word, not the record's. */
static void take(void *arg, struct span_rec *r, const struct regions_who *who)
{
	struct spans *s = arg;
	const struct proto_handler *h = proto_by_id(r->proto);
	struct proto_env env = {.routes = &s->cfg.routes};
	char exe[XSPAN_EXE_MAX];
	struct xspan *x;

	/* never trust the producer: bounded strings, lists and offsets */
	if (spanrec_check(r) || !h || !h->describe) {
		s->bad_records++;
		return;
	}
	if (!s->exp) {
		s->not_exported++; /* kept before the process heard spans are not exported */
		return;
	}
	s->received++;
	/* described where the exporter will read it: no copy */
	x = otlp_slot(s->exp);
	xspan_from_rec(x, r);
	x->pid = who->pid;
	x->labels_id = who->labels_id;
	if (s->cfg.agent)
		xspan_set_labels(x, who->service[0] ? who->service : "unknown", who->container_id,
				 who->pod_uid);
	exe_name(s, x->pid, exe, sizeof(exe));
	xspan_set_exe(x, exe); /* the labels first: they always have room */
	h->describe(r, &env, x);
	/* which request it was made for cannot be known: a new trace, said so */
	if (r->flags & SPAN_F_PARENT_UNKNOWN)
		xspan_put_str(x, "obs.parent", "unknown");
	otlp_put(s->exp, x);
}

/* The next wait: until the rings may be half full at the rate of the
 * last look (took spans in elapsed ns); doubling while nothing comes. */
static int pace_ms(size_t took, uint64_t elapsed, int prev)
{
	uint64_t ms;

	if (!took)
		return prev * 2 < PACE_MAX_MS ? prev * 2 : PACE_MAX_MS;
	ms = elapsed * PACE_AHEAD / took / 1000000;
	return ms < PACE_MIN_MS ? PACE_MIN_MS : ms > PACE_MAX_MS ? PACE_MAX_MS : (int)ms;
}

static void *drain_thread(void *arg)
{
	struct spans *s = arg;
	struct pollfd pfd[POLL_FDS];
	size_t got = 0, took = 0, room;
	uint64_t last = monotime_ns();
	int wait = PACE_MIN_MS;

	bgthread_background("obs-spans");
	for (;;) {
		int stop = __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE), n;

		pthread_mutex_lock(&s->lock);
		n = regions_pollfds(s->rs, pfd, POLL_FDS);
		pthread_mutex_unlock(&s->lock);
		/* a full slice: take the next one at once; else wait for a wake
		 * or the pace. Stopping: the same, without the wait (spans_finish) */
		if (poll(pfd, (nfds_t)n, got == SLICE || stop ? 0 : wait) > 0 || got < SLICE) {
			pthread_mutex_lock(&s->lock);
			regions_service(s->rs, take, s);
			pthread_mutex_unlock(&s->lock);
		}
		/* no more than the export queue takes now (stopping: all,
		 * dropped and counted if it must) */
		room = s->exp && !stop ? otlp_room(s->exp) : SLICE;
		pthread_mutex_lock(&s->lock);
		got = room ? regions_drain(s->rs, room < SLICE ? room : SLICE, take, s) : 0;
		took += got;
		if (room < SLICE && got == room) { /* the queue is full: the rest waits */
			wait = PACE_BLOCKED_MS;
			got = 0;
		} else if (got < SLICE) { /* drained: ask to be woken, and pace the next look */
			uint64_t t = monotime_ns();

			regions_arm(s->rs, WAKE_AHEAD);
			wait = pace_ms(took, t - last, wait);
			__atomic_store_n(&s->drain_wait_ms, wait, __ATOMIC_RELAXED);
			last = t;
			took = 0;
		}
		pthread_mutex_unlock(&s->lock);
		if (s->exp)
			otlp_publish(s->exp);
		__atomic_store_n(&s->turn_ns, monotime_ns(), __ATOMIC_RELAXED);
		if (stop && got < SLICE)
			break;
	}
	bgthread_done();
	return NULL;
}

/* For the pace thread (bgthread.c): the work falls behind when a ring is
 * past the quarter that wakes the drain (35%), or holds spans the drain
 * has not looked at for a second (it looks every PACE_MAX_MS at least: a
 * trickle of spans on a CPU kept busy would otherwise wait for the CPU to
 * be idle), or the lock has been held through three of its looks (30 ms:
 * a thread starved while holding it).
 * An exporter starved of CPU shows the same way: its queue full, the
 * spans wait in the rings. (The queue itself says little: a slow
 * receiver fills it with no CPU to give.) Never waits for the lock: the
 * thread holding it may be the one starved.
 * Keeping up, with every ring armed to wake the drain at a quarter full,
 * it need not look: that wake will say when (pace_wait). */
static enum bgthread_state behind(void *arg)
{
	struct spans *s = arg;
	int pct = -1, announced = 0;

	if (!pthread_mutex_trylock(&s->lock)) {
		pct = (int)regions_fill_max(s->rs);
		announced = regions_announced(s->rs);
		pthread_mutex_unlock(&s->lock);
	}
	s->pace_missed = pct < 0 ? s->pace_missed + 1 : 0;
	if (pct > 0 &&
	    monotime_ns() - __atomic_load_n(&s->turn_ns, __ATOMIC_RELAXED) > PACE_STALE_NS)
		return BGTHREAD_BEHIND;
	if (pct >= 35 || s->pace_missed >= 3)
		return BGTHREAD_BEHIND;
	if (announced)
		return BGTHREAD_ANNOUNCED;
	/* every ring empty (one span is 1%): it may look less often */
	return pct == 0 ? BGTHREAD_QUIET : BGTHREAD_KEEPING_UP;
}

/* The pace thread's wait while every ring is armed: for a wake on the
 * processes' sockets (the one that wakes the drain: if the drain is
 * starved, the pace thread sees the ring fill from there), or a new
 * process, up to half the drain's own wait (the time the rings take to
 * fill half way at the last rate; a drain starved in the middle of its
 * turn, after it took the wake, is seen by then), at most PACE_MAX_MS. */
static int pace_wait(void *arg, int stop_fd)
{
	struct spans *s = arg;
	struct pollfd pfd[POLL_FDS + 1];
	int n, ms = __atomic_load_n(&s->drain_wait_ms, __ATOMIC_RELAXED) / 2;

	if (pthread_mutex_trylock(&s->lock))
		return -1;
	n = regions_pollfds(s->rs, pfd, POLL_FDS);
	pthread_mutex_unlock(&s->lock);
	pfd[n++] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
	ms = ms < PACE_WAIT_MIN_MS ? PACE_WAIT_MIN_MS : ms > PACE_MAX_MS ? PACE_MAX_MS : ms;
	return poll(pfd, (nfds_t)n, ms) > 0;
}

int spans_open(struct spans **out, const struct spans_cfg *cfg, char *err, size_t errlen)
{
	struct spans *s = calloc(1, sizeof(*s));
	struct regions_cfg rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->cfg = *cfg;
	pthread_mutex_init(&s->lock, NULL);
	rc = (struct regions_cfg){.path = cfg->socket,
				  .mode = cfg->socket_mode,
				  .accept = cfg->accept,
				  .accept_ctx = cfg->accept_ctx};
	if (regions_open(&s->rs, &rc, err, errlen))
		goto fail;
	regions_set(s->rs, cfg->export_spans, cfg->sample_mode, cfg->sample_ratio, &cfg->routes);
	if (cfg->export_spans && otlp_start(&s->exp, &cfg->export, err, errlen))
		goto fail;
	s->unix_off = otlp_unix_offset();
	if (pthread_create(&s->thread, NULL, drain_thread, s)) {
		snprintf(err, errlen, "cannot start the span thread");
		goto fail;
	}
	if (s->exp &&
	    bgthread_pace_start(&(struct bgthread_pace_ops){behind, pace_wait}, s, PACE_HOLD_MS))
		log_warn("pace_thread_failed",
			 "no pace thread: obs's span threads stay at SCHED_BATCH");
	*out = s;
	return 0;
fail:
	if (s->exp)
		otlp_stop(s->exp, 0);
	regions_close(s->rs);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return -1;
}

const char *spans_socket(const struct spans *s)
{
	return s->cfg.socket;
}

int spans_exporting(const struct spans *s)
{
	return s && s->exp;
}

void spans_set_routes(struct spans *s, const struct route_table *routes)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->cfg.routes = *routes;
	regions_set(s->rs, s->cfg.export_spans, s->cfg.sample_mode, s->cfg.sample_ratio, routes);
	pthread_mutex_unlock(&s->lock);
}

void spans_set_sampler(struct spans *s, enum spanring_sample mode, double ratio)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->cfg.sample_mode = mode;
	s->cfg.sample_ratio = ratio;
	regions_set(s->rs, s->cfg.export_spans, mode, ratio, NULL);
	pthread_mutex_unlock(&s->lock);
}

static void counter(struct metrics_registry *r, const char *name, const char *help,
		    const char *label, const char *value, double v)
{
	const char *labels[1] = {label}, *values[1] = {value};
	struct metric_family *f =
	    metrics_family(r, name, help, NULL, METRIC_COUNTER, labels, label ? 1 : 0);

	if (f) {
		f->unguarded = 1;
		metrics_counter_add(r, f, values, v);
	}
}

struct unknown_arg {
	struct metrics_registry *r;
	int any;
};

static const char *const unknown_help =
    "Outgoing requests that could not be tied to the request they were made for (work "
    "deferred or handed to another thread, several requests in flight): new traces marked "
    "obs.parent=unknown, never a guessed parent.";

static void unknown_row(void *arg, const char *svc, uint64_t n)
{
	struct unknown_arg *u = arg;

	counter(u->r, "obs_context_unknown_total", unknown_help, "service", svc, (double)n);
	u->any = 1;
}

/* The counters, summed over every process (s->lock held). */
struct totals {
	uint64_t c[REGION_COUNTERS];
	uint64_t ring_full, stalled, received, bad, refused, noexp, held;
};

static void totals(struct spans *s, struct totals *t)
{
	regions_counters(s->rs, t->c);
	regions_ring_losses(s->rs, &t->ring_full, &t->stalled);
	t->received = s->received;
	t->bad = s->bad_records;
	t->noexp = s->not_exported;
	t->refused = regions_refused(s->rs);
	t->held = regions_held(s->rs);
}

size_t spans_forget(struct spans *s, const char *svc, const char *container_id, const char *pod_uid)
{
	size_t n;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	n = regions_forget(s->rs, svc, container_id, pod_uid);
	pthread_mutex_unlock(&s->lock);
	return n;
}

int spans_adopt(struct spans *s, int fd, int sock, const struct regions_who *who)
{
	int rc;

	if (!s || !s->rs)
		return -1;
	pthread_mutex_lock(&s->lock);
	rc = regions_adopt(s->rs, fd, sock, who);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int spans_relabel(struct spans *s, pid_t pid, const char *svc, const char *container_id,
		  const char *pod_uid)
{
	struct regions_who who = {.pid = (uint32_t)pid};
	int rc;

	if (!s || !s->rs)
		return 0;
	str_copy(who.service, sizeof(who.service), svc);
	str_copy(who.container_id, sizeof(who.container_id), container_id);
	str_copy(who.pod_uid, sizeof(who.pod_uid), pod_uid);
	pthread_mutex_lock(&s->lock);
	rc = regions_relabel(s->rs, pid, &who);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void spans_render(struct spans *s, struct metrics_registry *r)
{
	struct redagg *agg = redagg_new(AGG_MAX);
	struct unknown_arg u = {r, 0};
	struct otlp_stats st = {0};
	struct metric_family *f;
	struct totals t;

	pthread_mutex_lock(&s->lock);
	if (agg) {
		/* what every process counted: the RED families of every protocol */
		regions_merge(s->rs, agg, s->unix_off, s->cfg.agent);
		redagg_render(agg, r, proto_handlers, s->cfg.agent ? NULL : s->cfg.service);
	}
	regions_unknown(s->rs, unknown_row, &u);
	if (!u.any && !s->cfg.agent)
		counter(r, "obs_context_unknown_total", unknown_help, "service",
			s->cfg.service ? s->cfg.service : "", 0);
	totals(s, &t);
	pthread_mutex_unlock(&s->lock);
	if (s->exp)
		otlp_get_stats(s->exp, &st);

	counter(r, "obs_spans_received_total", "Sampled spans drained from the processes' rings.",
		NULL, NULL, (double)t.received);
	counter(r, "obs_spans_unsampled_total",
		"Spans counted in the metrics but not kept (the trace was not sampled, or no "
		"span is exported).",
		NULL, NULL, (double)(t.c[REGION_SPANS_UNSAMPLED] + t.c[REGION_SPANS_NOEXPORT]));
	counter(r, "obs_spans_exported_total", "Spans the exporter delivered.", NULL, NULL,
		(double)st.exported);
	counter(r, "obs_span_export_retries_total", "OTLP export attempts retried.", NULL, NULL,
		(double)st.retries);
	if (s->exp) {
		counter(r, "obs_span_threads_busy_seconds_total",
			"Time obs's span threads spent busy (SCHED_BATCH, nice +5: sharing the CPU "
			"with the app) because they fell behind; otherwise they run SCHED_IDLE and "
			"yield to the app at once.",
			NULL, NULL, (double)bgthread_busy_ns() / 1e9);
		counter(r, "obs_span_threads_mode_switches_total",
			"Switches of obs's span threads between idle and busy.", NULL, NULL,
			(double)bgthread_switches());
	}
	static const char *dn = "obs_spans_dropped_total",
			  *dh = "Spans lost, by reason (none is silent).";
	counter(r, dn, dh, "reason", "ring_full", (double)t.ring_full);
	counter(r, dn, dh, "reason", "producer_stalled", (double)t.stalled);
	counter(r, dn, dh, "reason", "bad_record", (double)t.bad);
	counter(r, dn, dh, "reason", "queue_full", (double)st.dropped_queue_full);
	counter(r, dn, dh, "reason", "export_rejected", (double)st.dropped_rejected);
	counter(r, dn, dh, "reason", "export_failed", (double)st.dropped_failed);
	counter(r, dn, dh, "reason", "partial_success", (double)st.dropped_partial);
	counter(r, "obs_http_metric_points_dropped_total",
		"HTTP and RPC metric points not counted in their own series: a process's table "
		"of label sets (1024) was full (counted in its overflow series), or the labels "
		"were too long.",
		NULL, NULL,
		(double)(t.c[REGION_SERIES_OVERFLOW] + t.c[REGION_BAD_POINTS] +
			 (agg ? redagg_dropped(agg) : 0)));
	f = metrics_family(r, "obs_shim_regions_held",
			   "Processes whose shim region obs holds now (each counts its own RED "
			   "metrics and writes its sampled spans there).",
			   NULL, METRIC_GAUGE, NULL, 0);
	if (f) {
		f->unguarded = 1;
		metrics_gauge_set(r, f, NULL, (double)t.held);
	}
	counter(r, "obs_shim_regions_refused_total",
		"Processes whose region was refused: not a process obs follows, not sealed "
		"against resizing, or not well formed.",
		NULL, NULL, (double)t.refused);
	counter(r, "obs_shim_connections_untracked_total",
		"Connections the shim could not follow (state table full).", NULL, NULL,
		(double)t.c[REGION_UNTRACKED]);
	counter(r, "obs_shim_parse_errors_total",
		"Connections whose HTTP the shim stopped following (malformed or unsupported).",
		NULL, NULL, (double)t.c[REGION_PARSE_ERRORS]);
	counter(r, "obs_shim_traceparent_injected_total",
		"Outgoing requests the shim added a traceparent header to.", NULL, NULL,
		(double)t.c[REGION_INJECTED]);
	counter(r, "obs_shim_traceparent_skipped_total",
		"Outgoing HTTP/2 requests sent without traceparent: the HEADERS frame was not "
		"whole in one write, or there was no room to grow it.",
		NULL, NULL, (double)t.c[REGION_INJECT_SKIPPED]);
	redagg_free(agg);
}

void spans_red_summary(struct spans *s, FILE *out, unsigned top)
{
	struct redagg *agg = redagg_new(AGG_MAX);

	if (!agg)
		return;
	pthread_mutex_lock(&s->lock);
	regions_merge(s->rs, agg, s->unix_off, 0);
	pthread_mutex_unlock(&s->lock);
	redsum_print(out, agg, top);
	redagg_free(agg);
}

void spans_summary(struct spans *s, FILE *out)
{
	struct otlp_stats st = {0};
	struct totals t;
	uint64_t lost, unsampled;

	if (s->exp)
		otlp_get_stats(s->exp, &st);
	pthread_mutex_lock(&s->lock);
	totals(s, &t);
	pthread_mutex_unlock(&s->lock);
	unsampled = t.c[REGION_SPANS_UNSAMPLED] + t.c[REGION_SPANS_NOEXPORT] + t.noexp;
	lost = t.ring_full + t.stalled + st.dropped_queue_full + st.dropped_rejected +
	       st.dropped_failed + st.dropped_partial;
	if (t.received || lost || unsampled)
		fprintf(out, "  spans: %llu (%llu exported, %llu unsampled, %llu dropped)\n",
			(unsigned long long)(t.received - t.noexp + unsampled),
			(unsigned long long)st.exported, (unsigned long long)unsampled,
			(unsigned long long)lost);
	if (t.c[REGION_INJECTED] || t.c[REGION_INJECT_SKIPPED])
		fprintf(out, "  traceparent: injected into %llu requests, %llu sent without\n",
			(unsigned long long)t.c[REGION_INJECTED],
			(unsigned long long)t.c[REGION_INJECT_SKIPPED]);
	if (t.c[REGION_CTX_UNKNOWN])
		fprintf(
		    out,
		    "  context: %llu outgoing requests could not be tied to the request they were "
		    "made for (new traces, obs.parent=unknown; docs/design.md, \"Context\")\n",
		    (unsigned long long)t.c[REGION_CTX_UNKNOWN]);
	if (lost)
		fprintf(out,
			"  spans dropped: ring full %llu, producer stalled %llu, export queue full "
			"%llu, rejected %llu, export failed %llu, partial success %llu\n",
			(unsigned long long)t.ring_full, (unsigned long long)t.stalled,
			(unsigned long long)st.dropped_queue_full,
			(unsigned long long)st.dropped_rejected,
			(unsigned long long)st.dropped_failed,
			(unsigned long long)st.dropped_partial);
}

void spans_finish(struct spans *s, long timeout_ms)
{
	if (!s || s->finished)
		return;
	bgthread_pace_stop(); /* first: draining at full pace */
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->thread, NULL);
	otlp_flush(s->exp, timeout_ms);
	s->finished = 1;
}

void spans_close(struct spans *s, long timeout_ms)
{
	if (!s)
		return;
	spans_finish(s, timeout_ms);
	otlp_stop(s->exp, 0);
	regions_close(s->rs);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

#include "spans.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "bgthread.h"
#include "config.h"
#include "log.h"
#include "redagg.h"
#include "registry.h"
#include "str.h"

#define DRAIN_EVERY_NS (10 * 1000000ULL) /* the shim never wakes us: poll */
#define STALL_NS       (1000 * 1000000ULL)
#define AGG_MAX	       16384
#define UNKNOWN_SVCS   256 /* services with their own obs_context_unknown_total */

struct comm_cache {
	uint32_t pid;
	char comm[32];
};

struct spans {
	struct spans_cfg cfg;
	char path[CONFIG_PATH_MAX];
	int unlink_at_close;
	void *mem;
	size_t memlen;
	struct spanring ring;
	struct otlp_exporter *exp;
	pthread_t thread;
	int stop, finished;   /* finished: drained and flushed (spans_finish) */
	pthread_mutex_t lock; /* guards the aggregation, the routes and the counters */
	struct redagg *agg;
	uint64_t received, unsampled, stalled, bad_records;
	struct comm_cache comms[64];
	unsigned comm_next;
	/* outgoing requests whose parent could not be known, by service */
	struct {
		char service[128];
		uint64_t n;
	} unknown[UNKNOWN_SVCS];
	size_t nunknown;
	uint64_t unknown_total;
};

/* With s->lock held: one more unknown parent for svc (the last row
 * gathers services beyond the table). */
static void count_unknown(struct spans *s, const char *svc)
{
	size_t i = 0;

	while (i < s->nunknown && strcmp(s->unknown[i].service, svc))
		i++;
	if (i == s->nunknown) {
		if (s->nunknown == UNKNOWN_SVCS)
			i = UNKNOWN_SVCS - 1;
		else
			str_copy(s->unknown[s->nunknown++].service, 128, svc);
	}
	s->unknown[i].n++;
	s->unknown_total++;
}

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

/* The node agent's view of who wrote the record; obs-run: nobody but CMD. */
static void identify(struct spans *s, struct span_rec *r, struct xspan *x)
{
	struct spans_identity id;

	if (!s->cfg.identify)
		return;
	if (s->cfg.identify(s->cfg.identify_ctx, r->pid, r->pidns, &id)) {
		str_copy(x->service, sizeof(x->service), "unknown");
		return;
	}
	x->pid = r->pid = id.pid;
	str_copy(x->service, sizeof(x->service), id.service[0] ? id.service : "unknown");
	str_copy(x->container_id, sizeof(x->container_id), id.container_id);
	str_copy(x->pod_uid, sizeof(x->pod_uid), id.pod_uid);
}

/* One record: its protocol describes it; the point is counted, a sampled
 * span goes to the exporter. */
static void take(struct spans *s, struct span_rec *r, int64_t unix_off)
{
	const struct proto_handler *h = proto_by_id(r->proto);
	struct proto_env env;
	struct proto_obs obs;
	struct xspan x;
	int sampled = r->trace_flags & TP_FLAG_SAMPLED;

	/* never trust the producer: bounded strings, lists and offsets */
	if (spanrec_check(r) || !h || !h->describe) {
		pthread_mutex_lock(&s->lock);
		s->bad_records++;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	xspan_from_rec(&x, r);
	identify(s, r, &x);
	obs.family = NULL;
	pthread_mutex_lock(&s->lock); /* routes change on SIGHUP */
	env.routes = &s->cfg.routes;
	h->describe(r, &env, &x, &obs);
	/* which request it was made for cannot be known: a new trace, said so */
	if (r->flags & SPAN_F_PARENT_UNKNOWN) {
		xspan_put_str(&x, "obs.parent", "unknown");
		count_unknown(s, s->cfg.identify  ? x.service
				 : s->cfg.service ? s->cfg.service
						  : "");
	}
	s->received++;
	if (obs.family)
		redagg_observe(s->agg, &obs, x.service, x.container_id, x.pod_uid,
			       sampled ? &x : NULL, unix_off);
	s->unsampled += !sampled;
	pthread_mutex_unlock(&s->lock);
	if (!sampled || !s->exp)
		return;
	exe_name(s, x.pid, x.exe, sizeof(x.exe));
	otlp_enqueue(s->exp, &x);
}

static void drain(struct spans *s)
{
	struct span_rec r;
	struct timespec ts;
	int64_t unix_off = otlp_unix_offset();

	for (;;) {
		uint64_t skipped = 0, now;
		int got;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		got = spanring_pop(&s->ring, &r, now, STALL_NS, &skipped);
		if (skipped) {
			pthread_mutex_lock(&s->lock);
			s->stalled += skipped;
			pthread_mutex_unlock(&s->lock);
		}
		if (!got)
			break;
		take(s, &r, unix_off);
	}
}

static void *drain_thread(void *arg)
{
	struct spans *s = arg;
	struct timespec ts = {0, (long)DRAIN_EVERY_NS};

	bgthread_background("obs-spans");
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		drain(s);
		nanosleep(&ts, NULL);
	}
	drain(s);
	return NULL;
}

/* A ring file left by an earlier obs at a fixed path, of the same size:
 * reuse it, so the processes that mapped it keep reaching us. */
static int ring_reuse(struct spans *s, int fd)
{
	struct stat st;

	if (fstat(fd, &st) || (size_t)st.st_size != s->memlen)
		return -1;
	s->mem = mmap(NULL, s->memlen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (s->mem == MAP_FAILED) {
		s->mem = NULL;
		return -1;
	}
	if (spanring_attach(&s->ring, s->mem, s->memlen) || s->ring.hdr->cap != s->cfg.ring_cap) {
		munmap(s->mem, s->memlen);
		s->mem = NULL;
		return -1;
	}
	return 0;
}

static int ring_create(struct spans *s, char *err, size_t errlen)
{
	int fd = -1;

	if (s->cfg.ring_path) {
		fd = open(s->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 && !ring_reuse(s, fd)) {
			close(fd);
			log_info("spans: reusing the ring %s", s->path);
			return 0;
		}
		if (fd >= 0)
			close(fd);
	}
	fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		unlink(s->path); /* left by an obs that was killed, or a stale size */
		fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0 || ftruncate(fd, (off_t)s->memlen) ||
	    (s->cfg.ring_mode && fchmod(fd, s->cfg.ring_mode))) {
		snprintf(err, errlen, "cannot create the span ring %s: %s", s->path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	s->mem = mmap(NULL, s->memlen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (s->mem == MAP_FAILED) {
		s->mem = NULL;
		snprintf(err, errlen, "cannot map the span ring: %s", strerror(errno));
		return -1;
	}
	if (spanring_init(&s->ring, s->mem, s->cfg.ring_cap)) {
		snprintf(err, errlen, "span ring size %llu is not a power of two",
			 (unsigned long long)s->cfg.ring_cap);
		return -1;
	}
	return 0;
}

int spans_open(struct spans **out, const struct spans_cfg *cfg, char *err, size_t errlen)
{
	struct spans *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->cfg = *cfg;
	pthread_mutex_init(&s->lock, NULL);
	if (cfg->ring_path) {
		str_copy(s->path, sizeof(s->path), cfg->ring_path);
	} else {
		snprintf(s->path, sizeof(s->path), "/dev/shm/obs-spans-%d", (int)getpid());
		s->unlink_at_close = 1;
	}
	if (!(s->agg = redagg_new(AGG_MAX))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	s->memlen = spanring_bytes(cfg->ring_cap);
	if (ring_create(s, err, errlen))
		goto fail;
	spanring_set_sampler(s->ring.hdr, cfg->sample_mode, cfg->sample_ratio);
	if (cfg->export_spans && otlp_start(&s->exp, &cfg->export, err, errlen))
		goto fail;
	if (pthread_create(&s->thread, NULL, drain_thread, s)) {
		snprintf(err, errlen, "cannot start the span thread");
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->exp)
		otlp_stop(s->exp, 0);
	if (s->mem)
		munmap(s->mem, s->memlen);
	if (s->unlink_at_close)
		unlink(s->path);
	redagg_free(s->agg);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return -1;
}

void spans_set_routes(struct spans *s, const struct route_table *routes)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->cfg.routes = *routes;
	pthread_mutex_unlock(&s->lock);
}

void spans_set_sampler(struct spans *s, enum spanring_sample mode, double ratio)
{
	if (s)
		spanring_set_sampler(s->ring.hdr, mode, ratio);
}

const char *spans_ring_path(const struct spans *s)
{
	return s->path;
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

void spans_render(struct spans *s, struct metrics_registry *r)
{
	struct spanring_hdr *h = s->ring.hdr;
	struct otlp_stats st = {0};

	pthread_mutex_lock(&s->lock);
	/* every protocol's families; the node agent labels each point's process */
	redagg_render(s->agg, r, proto_handlers, s->cfg.identify ? NULL : s->cfg.service);
	uint64_t received = s->received, unsampled = s->unsampled, aggd = redagg_dropped(s->agg),
		 stalled = s->stalled, bad = s->bad_records;
	pthread_mutex_unlock(&s->lock);
	if (s->exp)
		otlp_get_stats(s->exp, &st);

	static const char *un = "obs_context_unknown_total",
			  *uh =
			      "Outgoing requests that could not be tied to the request they were "
			      "made for (work deferred or handed to another thread, several "
			      "requests in flight): new traces marked obs.parent=unknown, never a "
			      "guessed parent.";
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nunknown; i++)
		counter(r, un, uh, "service", s->unknown[i].service, (double)s->unknown[i].n);
	if (!s->nunknown && !s->cfg.identify)
		counter(r, un, uh, "service", s->cfg.service ? s->cfg.service : "", 0);
	pthread_mutex_unlock(&s->lock);
	counter(r, "obs_spans_received_total", "Span records drained from the shim's ring.", NULL,
		NULL, (double)received);
	counter(r, "obs_spans_unsampled_total",
		"Spans counted in metrics but not exported (trace not sampled).", NULL, NULL,
		(double)unsampled);
	counter(r, "obs_spans_exported_total", "Spans the exporter delivered.", NULL, NULL,
		(double)st.exported);
	counter(r, "obs_span_export_retries_total", "OTLP export attempts retried.", NULL, NULL,
		(double)st.retries);
	static const char *dn = "obs_spans_dropped_total",
			  *dh = "Spans lost, by reason (none is silent).";
	counter(r, dn, dh, "reason", "ring_full",
		(double)__atomic_load_n(&h->dropped, __ATOMIC_RELAXED));
	counter(r, dn, dh, "reason", "producer_stalled", (double)stalled);
	counter(r, dn, dh, "reason", "bad_record", (double)bad);
	counter(r, dn, dh, "reason", "queue_full", (double)st.dropped_queue_full);
	counter(r, dn, dh, "reason", "export_rejected", (double)st.dropped_rejected);
	counter(r, dn, dh, "reason", "export_failed", (double)st.dropped_failed);
	counter(r, dn, dh, "reason", "partial_success", (double)st.dropped_partial);
	counter(r, "obs_http_metric_points_dropped_total",
		"HTTP and RPC metric points not aggregated (more than 16384 label sets).", NULL,
		NULL, (double)aggd);
	counter(r, "obs_shim_connections_untracked_total",
		"Connections the shim could not follow (state table full).", NULL, NULL,
		(double)__atomic_load_n(&h->untracked, __ATOMIC_RELAXED));
	counter(r, "obs_shim_parse_errors_total",
		"Connections whose HTTP/1 the shim stopped following (malformed or unsupported).",
		NULL, NULL, (double)__atomic_load_n(&h->parse_errors, __ATOMIC_RELAXED));
	counter(r, "obs_shim_traceparent_injected_total",
		"Outgoing requests the shim added a traceparent header to.", NULL, NULL,
		(double)__atomic_load_n(&h->injected, __ATOMIC_RELAXED));
	counter(r, "obs_shim_traceparent_skipped_total",
		"Outgoing HTTP/2 requests sent without traceparent: the HEADERS frame was not "
		"whole in one write, or there was no room to grow it.",
		NULL, NULL, (double)__atomic_load_n(&h->inject_skipped, __ATOMIC_RELAXED));
}

void spans_summary(struct spans *s, FILE *out)
{
	struct otlp_stats st = {0};
	uint64_t ring_full = __atomic_load_n(&s->ring.hdr->dropped, __ATOMIC_RELAXED), lost;

	if (s->exp)
		otlp_get_stats(s->exp, &st);
	pthread_mutex_lock(&s->lock);
	lost = ring_full + s->stalled + st.dropped_queue_full + st.dropped_rejected +
	       st.dropped_failed + st.dropped_partial;
	if (s->received || lost)
		fprintf(out, "  spans: %llu (%llu exported, %llu unsampled, %llu dropped)\n",
			(unsigned long long)s->received, (unsigned long long)st.exported,
			(unsigned long long)s->unsampled, (unsigned long long)lost);
	uint64_t inj = __atomic_load_n(&s->ring.hdr->injected, __ATOMIC_RELAXED),
		 skip = __atomic_load_n(&s->ring.hdr->inject_skipped, __ATOMIC_RELAXED);
	if (inj || skip)
		fprintf(out, "  traceparent: injected into %llu requests, %llu sent without\n",
			(unsigned long long)inj, (unsigned long long)skip);
	if (s->unknown_total)
		fprintf(
		    out,
		    "  context: %llu outgoing requests could not be tied to the request they were "
		    "made for (new traces, obs.parent=unknown; docs/design.md, \"Context\")\n",
		    (unsigned long long)s->unknown_total);
	if (lost)
		fprintf(out,
			"  spans dropped: ring full %llu, producer stalled %llu, export queue full "
			"%llu,"
			" rejected %llu, export failed %llu, partial success %llu\n",
			(unsigned long long)ring_full, (unsigned long long)s->stalled,
			(unsigned long long)st.dropped_queue_full,
			(unsigned long long)st.dropped_rejected,
			(unsigned long long)st.dropped_failed,
			(unsigned long long)st.dropped_partial);
	pthread_mutex_unlock(&s->lock);
}

void spans_finish(struct spans *s, long timeout_ms)
{
	if (!s || s->finished)
		return;
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
	redagg_free(s->agg);
	munmap(s->mem, s->memlen);
	/* a ring at a fixed path stays for the next obs: processes keep it mapped */
	if (s->unlink_at_close)
		unlink(s->path);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

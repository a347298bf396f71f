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
#include "str.h"

#define DRAIN_EVERY_NS	  (10 * 1000000ULL) /* the shim never wakes us: poll */
#define STALL_NS	  (1000 * 1000000ULL)
#define AGG_MAX		  16384
#define OTEL_HTTP_BUCKETS 14

/* OpenTelemetry's recommended boundaries for http.*.request.duration (s). */
static const double http_bounds[OTEL_HTTP_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
						      0.5,   0.75, 1,	  2.5,	5,     7.5, 10};

#define RPC_NO_STATUS 0xffff

struct agg {
	uint8_t kind;
	uint8_t rpc;		   /* a gRPC call: rpc_* metrics */
	uint16_t status;	   /* HTTP status, or gRPC status (RPC_NO_STATUS: none) */
	char method[RPC_NAME_MAX]; /* HTTP method, or rpc.method */
	char where[ROUTE_MAX_LEN]; /* route (server), server.address (client), or rpc.service */
	char service[128];	   /* node agent: the process's labels; obs-run: "" */
	char container_id[72];
	char pod_uid[40];
	__u64 counts[OTEL_HTTP_BUCKETS + 1];
	double sum;
	struct metric_exemplar *ex; /* per bucket, the newest sampled request; lazily */
	struct agg *next;
};

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
	pthread_mutex_t lock; /* guards the aggregation table and counters */
	struct agg *htab[4096];
	size_t nagg;
	uint64_t received, unsampled, agg_dropped, stalled;
	struct comm_cache comms[64];
	unsigned comm_next;
};

/* FNV-1a over a string, continuing from h. */
static unsigned fnv_str(unsigned h, const char *p)
{
	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

static unsigned agg_hash(const struct agg *k)
{
	unsigned h = 2166136261u ^ k->kind ^ (unsigned)k->rpc << 3 ^ (unsigned)k->status << 8;

	h = fnv_str(h, k->method);
	h = fnv_str(h, k->where);
	h = fnv_str(h, k->service);
	h = fnv_str(h, k->container_id);
	return h & 4095;
}

static void observe(struct spans *s, const struct xspan *x, int64_t unix_off)
{
	struct agg key = {.kind = x->r.kind, .status = x->r.status}, *a;
	double secs = (double)(x->r.end_ns - x->r.start_ns) / 1e9;
	unsigned h;
	size_t b = 0;

	if (x->rpc_service[0]) {
		key.rpc = 1;
		key.status = (x->r.flags & SPAN_F_RPC_STATUS) ? x->r.rpc_status : RPC_NO_STATUS;
		str_copy(key.method, sizeof(key.method), x->rpc_method);
		str_copy(key.where, sizeof(key.where), x->rpc_service);
	} else if (x->r.kind == SPAN_SERVER) {
		str_copy(key.method, sizeof(key.method), route_method(x->r.method));
		str_copy(key.where, sizeof(key.where), x->route);
	} else {
		unsigned port;
		str_copy(key.method, sizeof(key.method), route_method(x->r.method));
		route_host(x->r.host, key.where, sizeof(key.where), &port);
		if (!key.where[0])
			str_copy(key.where, sizeof(key.where), x->r.peer);
	}
	str_copy(key.service, sizeof(key.service), x->service);
	str_copy(key.container_id, sizeof(key.container_id), x->container_id);
	str_copy(key.pod_uid, sizeof(key.pod_uid), x->pod_uid);
	h = agg_hash(&key);
	for (a = s->htab[h]; a; a = a->next)
		if (a->kind == key.kind && a->rpc == key.rpc && a->status == key.status &&
		    !strcmp(a->method, key.method) && !strcmp(a->where, key.where) &&
		    !strcmp(a->service, key.service) &&
		    !strcmp(a->container_id, key.container_id) && !strcmp(a->pod_uid, key.pod_uid))
			break;
	if (!a) {
		if (s->nagg >= AGG_MAX || !(a = malloc(sizeof(*a)))) {
			s->agg_dropped++;
			return;
		}
		*a = key;
		a->next = s->htab[h];
		s->htab[h] = a;
		s->nagg++;
	}
	while (b < OTEL_HTTP_BUCKETS && secs > http_bounds[b])
		b++;
	a->counts[b]++;
	a->sum += secs;
	/* exemplars link a bucket to a trace the backend has: sampled only */
	if (!(x->r.trace_flags & TP_FLAG_SAMPLED))
		return;
	if (!a->ex && !(a->ex = calloc(OTEL_HTTP_BUCKETS + 1, sizeof(*a->ex))))
		return;
	tp_hex(x->r.trace_id, 16, a->ex[b].trace_id);
	tp_hex(x->r.span_id, 8, a->ex[b].span_id);
	a->ex[b].value = secs;
	a->ex[b].timestamp = (double)((int64_t)x->r.end_ns + unix_off) / 1e9;
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
static void identify(struct spans *s, struct xspan *x)
{
	struct spans_identity id;

	x->service[0] = x->container_id[0] = x->pod_uid[0] = 0;
	if (!s->cfg.identify)
		return;
	if (s->cfg.identify(s->cfg.identify_ctx, x->r.pid, x->r.pidns, &id)) {
		str_copy(x->service, sizeof(x->service), "unknown");
		return;
	}
	x->r.pid = id.pid;
	str_copy(x->service, sizeof(x->service), id.service[0] ? id.service : "unknown");
	str_copy(x->container_id, sizeof(x->container_id), id.container_id);
	str_copy(x->pod_uid, sizeof(x->pod_uid), id.pod_uid);
}

static void drain(struct spans *s)
{
	struct xspan x;
	uint64_t now;
	struct timespec ts;
	int64_t unix_off = otlp_unix_offset();

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		uint64_t skipped = 0;
		int got = spanring_pop(&s->ring, &x.r, now, STALL_NS, &skipped);
		if (skipped) {
			pthread_mutex_lock(&s->lock);
			s->stalled += skipped;
			pthread_mutex_unlock(&s->lock);
		}
		if (!got)
			break;
		/* never trust the producer's strings: terminate them */
		x.r.method[sizeof(x.r.method) - 1] = 0;
		x.r.path[sizeof(x.r.path) - 1] = 0;
		x.r.host[sizeof(x.r.host) - 1] = 0;
		x.r.peer[sizeof(x.r.peer) - 1] = 0;
		if (x.r.tracestate_len > TP_TRACESTATE_MAX)
			x.r.tracestate_len = 0;
		x.r.tracestate[x.r.tracestate_len] = 0;
		if (x.r.end_ns < x.r.start_ns)
			x.r.end_ns = x.r.start_ns;
		identify(s, &x);
		route_path(x.r.path, x.path, sizeof(x.path));
		x.rpc_service[0] = x.rpc_method[0] = 0;
		if (x.r.proto == SPAN_PROTO_GRPC)
			rpc_split_path(x.path, x.rpc_service, sizeof(x.rpc_service), x.rpc_method,
				       sizeof(x.rpc_method));
		/* the query string never leaves obs: drop it from the record too */
		pthread_mutex_lock(&s->lock); /* routes change on SIGHUP */
		if (x.r.kind == SPAN_SERVER)
			route_template(&s->cfg.routes, x.r.path, x.route, sizeof(x.route));
		else
			x.route[0] = 0;
		memcpy(x.r.path, x.path, sizeof(x.path));
		s->received++;
		observe(s, &x, unix_off);
		pthread_mutex_unlock(&s->lock);
		if (!(x.r.trace_flags & TP_FLAG_SAMPLED) || !s->exp) {
			pthread_mutex_lock(&s->lock);
			s->unsampled += !(x.r.trace_flags & TP_FLAG_SAMPLED);
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		exe_name(s, x.r.pid, x.exe, sizeof(x.exe));
		otlp_enqueue(s->exp, &x);
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

/* A request-duration histogram with OpenTelemetry's recommended buckets. */
static struct metric_family *duration_family(struct metrics_registry *r, const char *name,
					     const char *help, const char *const *labels,
					     size_t nlabels)
{
	struct metric_family *f =
	    metrics_family(r, name, help, "seconds", METRIC_HISTOGRAM, labels, nlabels);

	metrics_family_bounds(f, http_bounds, OTEL_HTTP_BUCKETS);
	return f;
}

void spans_render(struct spans *s, struct metrics_registry *r)
{
	/* the node agent adds the container labels its kernel metrics have */
	static const char *const l_srv[] = {
	    "http_request_method", "http_route", "http_response_status_code", "service",
	    "container_id",	   "pod_uid"};
	static const char *const l_cli[] = {
	    "http_request_method", "server_address", "http_response_status_code", "service",
	    "container_id",	   "pod_uid"};
	static const char *const l_rpc[] = {
	    "rpc_system", "rpc_service",  "rpc_method", "rpc_grpc_status_code",
	    "service",	  "container_id", "pod_uid"};
	size_t extra = s->cfg.identify ? 2 : 0;
	struct metric_family *fs = duration_family(
	    r, "http_server_request_duration_seconds",
	    "Duration of HTTP server requests (OpenTelemetry http.server.request.duration), "
	    "from the request's first byte read to the response's last byte written.",
	    l_srv, 4 + extra);
	struct metric_family *fc = duration_family(
	    r, "http_client_request_duration_seconds",
	    "Duration of HTTP client requests (OpenTelemetry http.client.request.duration), "
	    "from the request's first byte written to the response's last byte read.",
	    l_cli, 4 + extra);
	struct metric_family *rs = duration_family(
	    r, "rpc_server_call_duration_seconds",
	    "Duration of gRPC calls served (OpenTelemetry rpc.server.call.duration), from the "
	    "request HEADERS read to the response's end of stream written.",
	    l_rpc, 5 + extra);
	struct metric_family *rc = duration_family(
	    r, "rpc_client_call_duration_seconds",
	    "Duration of gRPC calls made (OpenTelemetry rpc.client.call.duration), from the "
	    "request HEADERS written to the response's end of stream read.",
	    l_rpc, 5 + extra);
	struct spanring_hdr *h = s->ring.hdr;
	struct otlp_stats st = {0};
	char code[8];

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < 4096; i++) {
		for (struct agg *a = s->htab[i]; a; a = a->next) {
			const char *svc = s->cfg.identify ? a->service : s->cfg.service;
			const char *v[6] = {a->method, a->where,	code,
					    svc,       a->container_id, a->pod_uid};
			const char *rv[7] = {"grpc", a->where,	      a->method, code,
					     svc,    a->container_id, a->pod_uid};
			if (a->rpc ? a->status != RPC_NO_STATUS : a->status != 0)
				snprintf(code, sizeof(code), "%u", a->status);
			else
				code[0] = 0; /* no response: the label is absent (empty) */
			if (a->rpc)
				metrics_hist_add_buckets(r, a->kind == SPAN_SERVER ? rs : rc, rv,
							 a->counts, a->sum, a->ex);
			else
				metrics_hist_add_buckets(r, a->kind == SPAN_SERVER ? fs : fc, v,
							 a->counts, a->sum, a->ex);
		}
	}
	uint64_t received = s->received, unsampled = s->unsampled, aggd = s->agg_dropped,
		 stalled = s->stalled;
	pthread_mutex_unlock(&s->lock);
	if (s->exp)
		otlp_get_stats(s->exp, &st);

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
	counter(r, dn, dh, "reason", "queue_full", (double)st.dropped_queue_full);
	counter(r, dn, dh, "reason", "export_rejected", (double)st.dropped_rejected);
	counter(r, dn, dh, "reason", "export_failed", (double)st.dropped_failed);
	counter(r, dn, dh, "reason", "partial_success", (double)st.dropped_partial);
	counter(r, "obs_http_metric_points_dropped_total",
		"HTTP metric points not aggregated (more than 16384 label sets).", NULL, NULL,
		(double)aggd);
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
	for (size_t i = 0; i < 4096; i++) {
		struct agg *a = s->htab[i];
		while (a) {
			struct agg *n = a->next;
			free(a->ex);
			free(a);
			a = n;
		}
	}
	munmap(s->mem, s->memlen);
	/* a ring at a fixed path stays for the next obs: processes keep it mapped */
	if (s->unlink_at_close)
		unlink(s->path);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

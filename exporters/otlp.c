#include "otlp.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bgthread.h"
#include "log.h"
#include "monotime.h"
#include "otlp_body.h"
#include "spanq.h"
#include "tp.h"
#include "version.h"

#define BACKOFF_START_MS 1000
#define BACKOFF_MAX_MS	 32000
#define MAX_ATTEMPTS	 6
#define RESP_MAX	 (64 << 10)

struct otlp_exporter {
	struct otlp_cfg cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* queue grew / stop requested */
	/* spans as long as they are, in a ring that grows with the backlog
	 * (spanq.h); its consumer's side and growth under the lock */
	struct spanq q;
	const struct xspan **batch; /* the export thread's: a batch's spans */
	struct xspan spare;	    /* takes a span when the queue is full */
	int stop, joined;	    /* joined: the thread is gone (otlp_flush ran) */
	struct timespec deadline;   /* when stopping: give up retries after it */
	struct otlp_stats st;
	FILE *json;
	CURL *curl;
	struct curl_slist *hdrs;
	uint64_t last_drop_log_ns;	/* queue-full warnings: at most one per 10 s */
	char shown[512];		/* the endpoint as logged (otlp_url_shown) */
	char curl_err[CURL_ERROR_SIZE]; /* libcurl's word on the last failure */
	char why[CURL_ERROR_SIZE + 64]; /* the last failed attempt's, as logged */
};

/* ---- HTTP ------------------------------------------------------------------- */

struct resp {
	uint8_t buf[RESP_MAX];
	size_t len;
	long retry_after_s; /* -1: none */
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = sz * n, take = len;

	if (take > RESP_MAX - r->len)
		take = RESP_MAX - r->len;
	memcpy(r->buf + r->len, p, take);
	r->len += take;
	return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = sz * n;

	if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
		char v[128];
		size_t vl = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
		memcpy(v, p + 12, vl);
		v[vl] = 0;
		char *s = v;
		while (*s == ' ')
			s++;
		s[strcspn(s, "\r\n")] = 0;
		char *e;
		long secs = strtol(s, &e, 10);
		if (e != s && !*e && secs >= 0) {
			r->retry_after_s = secs;
		} else {
			time_t t = curl_getdate(s, NULL); /* HTTP-date form */
			if (t > 0)
				r->retry_after_s = t > time(NULL) ? (long)(t - time(NULL)) : 0;
		}
	}
	return len;
}

enum send_result { SEND_OK, SEND_RETRY, SEND_DROP, SEND_TLS };

static enum send_result post(struct otlp_exporter *e, const uint8_t *body, size_t len,
			     struct resp *r, long *code)
{
	CURLcode cc;

	r->len = 0;
	r->retry_after_s = -1;
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e->curl, CURLOPT_HEADERDATA, r);
	e->curl_err[0] = 0;
	cc = curl_easy_perform(e->curl);
	*code = 0;
	if (cc != CURLE_OK) {
		/* said when the batch is given up: a refused certificate
		 * reads differently from a connection refused */
		snprintf(e->why, sizeof(e->why), "%s",
			 *e->curl_err ? e->curl_err : curl_easy_strerror(cc));
		log_debug("OTLP export to %s: %s", e->shown, e->why);
		/* a certificate refused (theirs or ours) will be refused
		 * again: no retry, said at once */
		if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
		    cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_ISSUER_ERROR ||
		    cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || cc == CURLE_SSL_CRL_BADFILE)
			return SEND_TLS;
		return SEND_RETRY; /* network errors are transient */
	}
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, code);
	snprintf(e->why, sizeof(e->why), "HTTP %ld", *code);
	if (*code >= 200 && *code < 300)
		return SEND_OK;
	if (*code == 429 || *code == 502 || *code == 503 || *code == 504)
		return SEND_RETRY;
	return SEND_DROP;
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static int past_deadline(struct otlp_exporter *e)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return e->stop && !ts_before(&now, &e->deadline);
}

/* Sleep ms (a backoff); -1 if obs is stopping and its flush deadline passed. */
static int wait_or_stop(struct otlp_exporter *e, long ms)
{
	struct timespec ts;
	int expired;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_sec++, ts.tv_nsec -= 1000000000L;
	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct timespec until = ts;
		if (e->stop && ts_before(&e->deadline, &until))
			until = e->deadline;
		if (pthread_cond_timedwait(&e->cond, &e->lock, &until) == ETIMEDOUT)
			break;
	}
	expired = past_deadline(e);
	pthread_mutex_unlock(&e->lock);
	return expired ? -1 : 0;
}

static void count(struct otlp_exporter *e, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&e->lock);
	*field += n;
	pthread_mutex_unlock(&e->lock);
}

/* A warning about spans lost: names the first one, so that its trace can
 * be looked up (and its log line joined to it). */
static void warn_spans(const char *code, const struct xspan *first, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn_spans(const char *code, const struct xspan *first, const char *fmt, ...)
{
	char msg[512], tid[33], sid[17];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tp_hex(first->trace_id, 16, tid);
	tp_hex(first->span_id, 8, sid);
	log_emit(LOG_WARN, code, tid, sid, "%s", msg);
}

static void send_otlp(struct otlp_exporter *e, struct otlp_body *bb, const struct xspan *const *b,
		      size_t n, int64_t off)
{
	static struct resp r;
	const uint8_t *body, *gz;
	size_t len, glen;
	long backoff = BACKOFF_START_MS, code = 0;
	enum send_result sr = SEND_DROP;

	if (otlp_body_encode(bb, &e->cfg.res, b, n, off, &body, &len)) {
		log_warn("otlp_encode_failed", "OTLP: out of memory encoding %zu spans: dropped",
			 n);
		count(e, &e->st.dropped_failed, n);
		return;
	}
	if (e->cfg.gzip && !otlp_body_gzip(bb, body, len, &gz, &glen)) {
		body = gz;
		len = glen;
	}
	for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
		sr = post(e, body, len, &r, &code);
		if (sr != SEND_RETRY)
			break;
		count(e, &e->st.requests_failed, 1);
		if (attempt == MAX_ATTEMPTS)
			break;
		long wait = backoff / 2 + rand() % (backoff / 2 + 1); /* jitter */
		if (r.retry_after_s >= 0)
			wait = r.retry_after_s * 1000 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
								       : r.retry_after_s * 1000;
		log_debug("OTLP: %s (HTTP %ld), retrying in %ld ms", e->shown, code, wait);
		count(e, &e->st.retries, 1);
		if (wait_or_stop(e, wait)) {
			sr = SEND_RETRY;
			break; /* shutting down and out of time */
		}
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	if (sr == SEND_OK) {
		int64_t rejected = 0;
		char msg[256];
		count(e, &e->st.requests_ok, 1);
		if (otlp_decode_response(r.buf, r.len, &rejected, msg, sizeof(msg)))
			log_debug("OTLP: response body is not an ExportTraceServiceResponse");
		if (rejected > 0) {
			if ((size_t)rejected > n)
				rejected = (int64_t)n;
			warn_spans("otlp_partial_success", b[0],
				   "OTLP: receiver rejected %lld of %zu spans: %s",
				   (long long)rejected, n, *msg ? msg : "(no message)");
			count(e, &e->st.dropped_partial, (uint64_t)rejected);
		} else if (*msg) {
			log_warn("otlp_receiver_message", "OTLP: receiver says: %s", msg);
		}
		count(e, &e->st.exported, n - (size_t)rejected);
	} else if (sr == SEND_TLS) {
		count(e, &e->st.requests_failed, 1);
		warn_spans("otlp_tls_failed", b[0],
			   "OTLP: %s: TLS refused (%s): %zu spans dropped (not retryable)",
			   e->shown, e->why, n);
		count(e, &e->st.dropped_failed, n);
	} else if (sr == SEND_DROP) {
		count(e, &e->st.requests_failed, 1);
		warn_spans("otlp_rejected", b[0],
			   "OTLP: %s answered HTTP %ld: %zu spans dropped (not retryable)",
			   e->shown, code, n);
		count(e, &e->st.dropped_rejected, n);
	} else {
		warn_spans("otlp_unreachable", b[0],
			   "OTLP: %s unreachable or busy after %d attempts (%s): %zu spans dropped",
			   e->shown, MAX_ATTEMPTS, e->why, n);
		count(e, &e->st.dropped_failed, n);
	}
}

int64_t otlp_unix_offset(void)
{
	struct timespec rt, mt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	return ((int64_t)rt.tv_sec - mt.tv_sec) * 1000000000LL + (rt.tv_nsec - mt.tv_nsec);
}

static void *export_thread(void *arg)
{
	struct otlp_exporter *e = arg;
	struct otlp_body bb = {0};
	int cut = 0; /* the last batch stopped at the ring's wrap: the rest goes now */

	bgthread_background("obs-otlp");
	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += e->cfg.delay_ms / 1000;
		ts.tv_nsec += (e->cfg.delay_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		while (!e->stop && !cut && e->q.len < e->cfg.batch_size)
			if (pthread_cond_timedwait(&e->cond, &e->lock, &ts))
				break;
		if (!e->q.len) {
			cut = 0; /* a cut batch leaves spans behind: never here; never a spin */
			if (e->stop)
				break;
			continue;
		}
		if (past_deadline(e)) {
			log_warn("otlp_flush_timeout",
				 "OTLP: flush deadline passed: %zu queued spans dropped", e->q.len);
			e->st.dropped_failed += spanq_drop(&e->q);
			break;
		}
		/* encoded where they lie, no copy: the producer appends after
		 * them, so they are ours until released */
		const struct xspan *const *batch = e->batch;
		size_t n = spanq_batch(&e->q, e->batch, e->cfg.batch_size, &cut);
		pthread_mutex_unlock(&e->lock);
		if (e->json)
			otlp_write_json(e->json, &e->cfg.res, batch, n, otlp_unix_offset());
		else
			send_otlp(e, &bb, batch, n, otlp_unix_offset());
		pthread_mutex_lock(&e->lock);
		spanq_release(&e->q, batch, n);
		if (e->json)
			e->st.exported += n;
	}
	pthread_mutex_unlock(&e->lock);
	otlp_body_free(&bb);
	bgthread_done();
	return NULL;
}

/* The ring's first size: queue_size halved while it stays a whole number
 * of at least two batches (2048 and 512: 1024), so that doubling comes
 * back to queue_size exactly. */
static size_t first_cap(size_t queue_size, size_t batch_size)
{
	size_t cap = queue_size;

	while (cap % 2 == 0 && cap / 2 >= 2 * batch_size)
		cap /= 2;
	return cap;
}

int otlp_start(struct otlp_exporter **out, const struct otlp_cfg *cfg, char *err, size_t errlen)
{
	struct otlp_exporter *e = calloc(1, sizeof(*e));
	char ua[64];

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	e->cfg = *cfg;
	e->batch = malloc(cfg->batch_size * sizeof(*e->batch));
	if (!e->batch ||
	    spanq_init(&e->q, cfg->queue_size, first_cap(cfg->queue_size, cfg->batch_size))) {
		spanq_free(&e->q);
		free(e->batch);
		free(e);
		snprintf(err, errlen, "out of memory (span queue of %zu)", cfg->queue_size);
		return -1;
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	otlp_url_shown(cfg->endpoint, e->shown, sizeof(e->shown));
	if (!cfg->endpoint) {
		if (!cfg->json_path || !strcmp(cfg->json_path, "-")) {
			e->json = stdout;
		} else {
			/* spans carry request paths and peers: 0600, whatever the
			 * umask, and never through a symlink planted in its place */
			int fd = open(cfg->json_path,
				      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);

			e->json = fd >= 0 ? fdopen(fd, "a") : NULL;
			if (fd >= 0 && !e->json)
				close(fd);
			if (!e->json) {
				snprintf(err, errlen, "cannot open span file %s: %s",
					 cfg->json_path, strerror(errno));
				goto fail;
			}
		}
	} else {
		e->curl = curl_easy_init();
		if (!e->curl) {
			snprintf(err, errlen, "cannot initialise libcurl");
			goto fail;
		}
		e->hdrs = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
		/* no "Expect: 100-continue" (libcurl's for a body over 1 MiB): a
		 * round trip more per batch, and a second lost to a receiver or
		 * proxy that never answers it */
		e->hdrs = curl_slist_append(e->hdrs, "Expect:");
		if (cfg->gzip)
			e->hdrs = curl_slist_append(e->hdrs, "Content-Encoding: gzip");
		for (size_t i = 0; i < cfg->nheaders; i++)
			e->hdrs = curl_slist_append(e->hdrs, cfg->headers[i]);
		snprintf(ua, sizeof(ua), "obs/%s", OBS_VERSION);
		curl_easy_setopt(e->curl, CURLOPT_URL, cfg->endpoint);
		/* OTLP/HTTP only (and libssh2 is never started: curl_nossh.c) */
		curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, e->curl_err);
		if (cfg->ca_file)
			curl_easy_setopt(e->curl, CURLOPT_CAINFO, cfg->ca_file);
		if (cfg->cert_file) {
			curl_easy_setopt(e->curl, CURLOPT_SSLCERT, cfg->cert_file);
			curl_easy_setopt(e->curl, CURLOPT_SSLKEY, cfg->key_file);
		}
		curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->hdrs);
		curl_easy_setopt(e->curl, CURLOPT_USERAGENT, ua);
		curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
		curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e->curl, CURLOPT_HEADERFUNCTION, on_header);
	}
	if (pthread_create(&e->thread, NULL, export_thread, e)) {
		snprintf(err, errlen, "cannot start the export thread");
		goto fail;
	}
	*out = e;
	return 0;
fail:
	if (e->json && e->json != stdout)
		fclose(e->json);
	if (e->curl)
		curl_easy_cleanup(e->curl);
	curl_slist_free_all(e->hdrs);
	spanq_free(&e->q);
	free(e->batch);
	free(e);
	return -1;
}

struct xspan *otlp_slot(struct otlp_exporter *e)
{
	struct xspan *x = spanq_slot(&e->q);
	int full;

	if (x)
		return x;
	pthread_mutex_lock(&e->lock);
	full = spanq_reserve(&e->q);
	pthread_mutex_unlock(&e->lock);
	return full ? &e->spare : spanq_slot(&e->q);
}

void otlp_put(struct otlp_exporter *e, const struct xspan *x)
{
	uint64_t ns;

	if (x != &e->spare) {
		spanq_put(&e->q, x);
		return;
	}
	pthread_mutex_lock(&e->lock);
	e->st.dropped_queue_full++;
	ns = monotime_ns();
	if (!e->last_drop_log_ns || ns - e->last_drop_log_ns > 10000000000ULL) {
		e->last_drop_log_ns = ns;
		warn_spans("otlp_queue_full", x,
			   "OTLP: export queue full (%zu spans): dropping spans, %llu so far "
			   "(obs_spans_dropped_total{reason=\"queue_full\"})",
			   e->cfg.queue_size, (unsigned long long)e->st.dropped_queue_full);
	}
	pthread_mutex_unlock(&e->lock);
}

void otlp_publish(struct otlp_exporter *e)
{
	if (!e->q.pending)
		return;
	pthread_mutex_lock(&e->lock);
	e->st.queued += spanq_publish(&e->q);
	if (e->q.len >= e->cfg.batch_size)
		pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

size_t otlp_room(struct otlp_exporter *e)
{
	size_t used;

	pthread_mutex_lock(&e->lock);
	used = e->q.len + e->q.pending;
	pthread_mutex_unlock(&e->lock);
	return used < e->q.spans ? e->q.spans - used : 0;
}

void otlp_get_stats(struct otlp_exporter *e, struct otlp_stats *st)
{
	pthread_mutex_lock(&e->lock);
	*st = e->st;
	st->queue_bytes = e->q.cap;
	pthread_mutex_unlock(&e->lock);
}

void otlp_flush(struct otlp_exporter *e, long timeout_ms)
{
	if (!e || e->joined)
		return;
	pthread_mutex_lock(&e->lock);
	clock_gettime(CLOCK_REALTIME, &e->deadline);
	e->deadline.tv_sec += timeout_ms / 1000;
	e->deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (e->deadline.tv_nsec >= 1000000000L)
		e->deadline.tv_sec++, e->deadline.tv_nsec -= 1000000000L;
	e->stop = 1;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	pthread_join(e->thread, NULL);
	e->joined = 1;
	if (e->q.len) {
		log_warn("otlp_flush_timeout", "OTLP: %zu spans still queued at exit: dropped",
			 e->q.len);
		pthread_mutex_lock(&e->lock);
		e->st.dropped_failed += spanq_drop(&e->q);
		pthread_mutex_unlock(&e->lock);
	}
	if (e->json)
		fflush(e->json);
}

void otlp_stop(struct otlp_exporter *e, long timeout_ms)
{
	if (!e)
		return;
	otlp_flush(e, timeout_ms);
	if (e->json && e->json != stdout)
		fclose(e->json);
	if (e->curl)
		curl_easy_cleanup(e->curl);
	curl_slist_free_all(e->hdrs);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	spanq_free(&e->q);
	free(e->batch);
	free(e);
}

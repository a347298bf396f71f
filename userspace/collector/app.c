#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "log.h"
#include "monotime.h"
#include "privs.h"
#include "prom_http.h"
#include "spans.h"
#include "render.h"
#include "str.h"
#include "tlsfiles.h"

int app_config(struct obs_config **out, const struct obs_opts *o, char *err, size_t errlen)
{
	struct obs_config *c = malloc(sizeof(*c));

	*out = NULL;
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (config_build(c, o, err, errlen)) {
		free(c);
		return -1;
	}
	log_configure(c->log_level, c->log_format);
	*out = c;
	return 0;
}

int app_init(struct obs_app *a, const struct obs_opts *o, struct obs_config *cfg,
	     int container_labels)
{
	memset(a, 0, sizeof(*a));
	a->opts = o;
	a->cfg = cfg;
	a->stall_ns = (uint64_t)(cfg->stall_timeout_s * 1e9);
	a->start_ns = monotime_ns();
	pthread_mutex_init(&a->lock, NULL);
	a->slots = slots_new(container_labels);
	a->guard = card_guard_new(cfg->max_series);
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
	__atomic_store_n(&a->col, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&a->lock);
	slots_free(a->slots);
	card_guard_free(a->guard);
	a->slots = NULL;
	a->guard = NULL;
	pthread_mutex_destroy(&a->lock);
	free(a->cfg);
	a->cfg = NULL;
}

int app_start_http(struct obs_app *a, char *err, size_t errlen)
{
	const struct obs_config *c = a->cfg;
	struct http_server_cfg cfg = {
	    .host = c->metrics_host,
	    .port = c->metrics_port,
	    .path = c->metrics_path,
	    .metrics = render_metrics,
	    .ready = render_ready,
	    .ctx = a,
	};
	struct auth_creds *auth = NULL;
	char *cert = NULL, *key = NULL;
	const char *h = c->metrics_host;
	int rc = -1;

	if (!c->metrics_enabled)
		return 0;
	if (!(auth = malloc(sizeof(*auth)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (auth_load(auth, c->bearer_token_file, c->basic_username, c->basic_password_file, err,
		      errlen))
		goto out;
	if (tlsfiles_read(c, &cert, &key, err, errlen))
		goto out;
	cfg.auth = auth;
	cfg.tls_cert_pem = cert;
	cfg.tls_key_pem = key;
	if (http_server_start(&cfg, &a->http, err, errlen))
		goto out;
	log_info("metrics at http%s://%s%s%s:%u%s%s", cert ? "s" : "", strchr(h, ':') ? "[" : "",
		 *h ? h : "0.0.0.0", strchr(h, ':') ? "]" : "", http_server_port(a->http),
		 c->metrics_path,
		 auth->bearer_set && auth->basic_set ? " (bearer token or basic auth)"
		 : auth->bearer_set		     ? " (bearer token)"
		 : auth->basic_set		     ? " (basic auth)"
						     : "");
	if (cert) {
		const char *ms = getenv("OBS_DEBUG_TLS_CHECK_MS");
		char desc[256];

		http_server_tls_describe(a->http, desc, sizeof(desc));
		log_info("TLS certificate: %s", desc);
		a->tls_sig = tlsfiles_sig(c);
		a->tls_check_every_ns =
		    ms && atoll(ms) > 0 ? (uint64_t)atoll(ms) * 1000000ULL : APP_TLS_CHECK_NS;
		a->tls_check_ns = monotime_ns() + a->tls_check_every_ns;
	}
	if (!auth_required(auth) && strncmp(h, "127.", 4) && strcmp(h, "::1") &&
	    strcmp(h, "localhost"))
		log_warn("metrics_unauthenticated",
			 "metrics on %s need no credentials: anyone who can reach the port can "
			 "read them (set metrics.auth in the config file)",
			 *h ? h : "every interface");
	rc = 0;
out:
	tlsfiles_free(cert, key);
	auth_clear(auth);
	free(auth);
	return rc;
}

/* obs_tls_reloads_total: a tlsfiles_serve result (0, unchanged, is none) */
static void count_tls_reload(struct obs_app *a, int rc)
{
	if (rc)
		__atomic_fetch_add(&a->tls_reloads[rc < 0], 1, __ATOMIC_RELAXED);
}

/* SIGHUP: serve the certificate and key files of next if they differ
 * from the running pair (" metrics.tls" appended to applied). 0 also if
 * nothing changed; -1 if they do not load (the running pair stays). */
static int reload_tls(struct obs_app *a, const struct obs_config *next, char *applied,
		      size_t appliedlen)
{
	char err[512], desc[256];
	int rc;

	/* on/off needs a restart (config_diff reports it); a plain endpoint
	 * has no certificate to replace */
	if (!*a->cfg->tls_cert_file || !*next->tls_cert_file)
		return 0;
	rc = tlsfiles_serve(a->http, next, desc, sizeof(desc), err, sizeof(err));
	count_tls_reload(a, rc);
	if (rc < 0) {
		log_error("config_invalid", "reload: %s (%s, %s); keeping the running settings",
			  err, next->tls_cert_file, next->tls_key_file);
		return -1;
	}
	a->tls_sig = tlsfiles_sig(next);
	if (rc > 0) {
		str_append(applied, appliedlen, strlen(applied), " metrics.tls");
		log_info("TLS certificate: now serving %s", desc);
	}
	return 0;
}

void app_watch_tls(struct obs_app *a)
{
	char err[512], desc[256];
	uint64_t now = monotime_ns(), sig;
	int rc;

	if (!a->http || !*a->cfg->tls_cert_file || now < a->tls_check_ns)
		return;
	a->tls_check_ns = now + a->tls_check_every_ns;
	sig = tlsfiles_sig(a->cfg);
	if (sig == a->tls_sig)
		return;
	/* one attempt per change: a pair caught half-written is reported
	 * once, and tried again when the other file lands */
	a->tls_sig = sig;
	rc = tlsfiles_serve(a->http, a->cfg, desc, sizeof(desc), err, sizeof(err));
	count_tls_reload(a, rc);
	if (rc < 0)
		log_error("tls_reload_failed",
			  "TLS certificate: %s or %s changed, but %s; still serving the running "
			  "certificate",
			  a->cfg->tls_cert_file, a->cfg->tls_key_file, err);
	else if (rc > 0)
		log_info("TLS certificate: the files changed; now serving %s", desc);
}

int app_reload(struct obs_app *a)
{
	struct obs_config *next = malloc(sizeof(*next));
	struct auth_creds *auth = NULL;
	char err[1024], fixed[512], applied[256] = "";
	unsigned changed;

	if (!next) {
		log_error("out_of_memory", "reload: out of memory; keeping the running settings");
		return -1;
	}
	if (config_build(next, a->opts, err, sizeof(err))) {
		log_error("config_invalid", "reload: %s; keeping the running settings", err);
		free(next);
		return -1;
	}
	changed = config_diff(a->cfg, next, fixed, sizeof(fixed));
	/* Credentials and certificates are read again even under unchanged
	 * file names (a rotated token or renewed certificate is written over
	 * the old file). Both are checked before anything applies: a file
	 * that does not load changes nothing. */
	if (a->http) {
		if (!(auth = malloc(sizeof(*auth))) ||
		    auth_load(auth, next->bearer_token_file, next->basic_username,
			      next->basic_password_file, err, sizeof(err))) {
			log_error("config_invalid", "reload: %s; keeping the running settings",
				  auth ? err : "out of memory");
			free(auth);
			free(next);
			return -1;
		}
		if (reload_tls(a, next, applied, sizeof(applied))) {
			auth_clear(auth);
			free(auth);
			free(next);
			return -1;
		}
	}
	if (changed & CONFIG_RELOAD_LOGGING) {
		log_configure(next->log_level, next->log_format);
		str_append(applied, sizeof(applied), strlen(applied), " logging");
	}
	if (auth) {
		http_server_set_auth(a->http, auth);
		auth_clear(auth);
		free(auth);
		str_append(applied, sizeof(applied), strlen(applied), " metrics.auth");
	}
	if (changed & CONFIG_RELOAD_SAMPLING) {
		spans_set_sampler(a->spans, app_sampler_mode(next), next->sampling_ratio);
		str_append(applied, sizeof(applied), strlen(applied), " tracing.sampling_ratio");
	}
	if (changed & CONFIG_RELOAD_ROUTES) {
		spans_set_routes(a->spans, &next->routes);
		str_append(applied, sizeof(applied), strlen(applied), " routes");
	}
	if (changed & CONFIG_RELOAD_LIMITS) {
		pthread_mutex_lock(&a->lock);
		card_guard_set_limit(a->guard, next->max_series);
		pthread_mutex_unlock(&a->lock);
		str_append(applied, sizeof(applied), strlen(applied), " cardinality.max_series");
	}
	if (changed & CONFIG_RELOAD_SERVICES) /* read by the agent as it names processes */
		str_append(applied, sizeof(applied), strlen(applied), " services");
	if (changed & CONFIG_RELOAD_HEALTH) {
		__atomic_store_n(&a->stall_ns, (uint64_t)(next->stall_timeout_s * 1e9),
				 __ATOMIC_RELAXED);
		str_append(applied, sizeof(applied), strlen(applied), " health");
	}
	config_take_reloadable(a->cfg, next);
	free(next);
	log_info("reloaded %s: applied%s", *a->cfg->file ? a->cfg->file : "the settings",
		 *applied ? applied : " nothing (no change)");
	if (*fixed)
		log_warn("config_restart_needed",
			 "reload: %s changed but cannot change while obs runs: restart obs to "
			 "apply it",
			 fixed);
	return 0;
}

enum spanring_sample app_sampler_mode(const struct obs_config *c)
{
	if (c->sampling_origin == CONFIG_FLAG)
		return SPANRING_SAMPLE_FORCE;
	/* OTEL_TRACES_SAMPLER, or no ratio at all: the shim reads the
	 * process's own variables (OpenTelemetry's default: always on) */
	if (c->sampling_origin == CONFIG_ENV || c->sampling_ratio < 0)
		return SPANRING_SAMPLE_PROCESS;
	return SPANRING_SAMPLE_CONFIG;
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
	__atomic_store_n(&a->col, c,
			 __ATOMIC_RELEASE); /* (agent_accept reads it without the lock) */
	pthread_mutex_unlock(&a->lock);
	__atomic_store_n(&a->last_drain_ns, monotime_ns(), __ATOMIC_RELAXED);
	log_debug("attached %d BPF programs in %.1f ms", collector_attached(c),
		  (double)(monotime_ns() - a->start_ns) / 1e6);
	return 0;
}

void app_set_ready(struct obs_app *a)
{
	__atomic_store_n(&a->last_drain_ns, monotime_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&a->ready_ns, monotime_ns(), __ATOMIC_RELEASE);
}

int app_drop_privileges(struct obs_app *a, uint64_t keep, const char *why, char *err, size_t errlen)
{
	const struct obs_config *c = a->cfg;
	char kept[256], user[64] = "", whybuf[256];
	uid_t uid = 0;
	gid_t gid = 0;

	if (privs_bpf_needs_cap()) {
		keep |= 1ULL << 39; /* CAP_BPF: map reads need it before Linux 6.5 */
		why = "CAP_BPF for BPF map reads on this kernel; the rest as said";
	}
	if (privs_target_user(&uid, &gid, user, sizeof(user)) && c &&
	    (c->file[0] || c->bearer_token_file[0] || c->basic_password_file[0] ||
	     c->tls_cert_file[0] || c->tracing_ca_file[0] || c->tracing_cert_file[0] ||
	     otlp_cfg_env_tls()) &&
	    !(keep & (1ULL << CAP_DAC_READ_SEARCH))) {
		/* root's files (the config, 0400 secrets, a renewed key, the
		 * OTLP client's certificate and key, which libcurl reads at
		 * every connection) stay readable to SIGHUP and the certificate
		 * check once obs is no longer their owner */
		keep |= 1ULL << CAP_DAC_READ_SEARCH;
	}
	if (spans_exporting(a->spans) && privs_has_cap(CAP_SYS_NICE)) {
		/* the span threads run SCHED_IDLE, so that the app preempts
		 * them at once, and must be able to come back when behind */
		snprintf(whybuf, sizeof(whybuf),
			 "%s%sCAP_SYS_NICE for its span threads' SCHED_IDLE", keep ? why : "",
			 keep ? "; " : "");
		why = whybuf;
		keep |= 1ULL << CAP_SYS_NICE;
	}
	if (privs_drop(keep, uid, gid, kept, sizeof(kept), err, errlen))
		return -1;
	if (keep)
		log_info("capabilities: dropped all but %s (%s)%s%s", kept, why,
			 uid ? "; running as " : "", user);
	else
		log_info("capabilities: all dropped%s%s", uid ? "; running as " : "", user);
	return 0;
}

void app_drain(struct obs_app *a, int timeout_ms)
{
	if (a->col && collector_poll(a->col, timeout_ms) < 0)
		log_warn("ringbuf_poll_failed", "ring buffer poll failed");
	__atomic_store_n(&a->last_drain_ns, monotime_ns(), __ATOMIC_RELAXED);
}

/* libobs_preload.so: $OBS_PRELOAD_LIB, next to the obs binary, or PREFIX/lib/obs. */
int app_find_preload(char *out, size_t len)
{
	const char *env = getenv("OBS_PRELOAD_LIB");
	char exe[2048];
	ssize_t n;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return access(out, R_OK);
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(out, len, "%s/libobs_preload.so", exe);
			if (!access(out, R_OK))
				return 0;
			snprintf(out, len, "%s/../lib/obs/libobs_preload.so", exe);
			char *real = realpath(out, NULL); /* no ".." in the program's LD_PRELOAD */
			if (real) {
				snprintf(out, len, "%s", real);
				free(real);
				return 0;
			}
		}
	}
	return -1;
}

int app_exports_spans(const struct otlp_cfg *x)
{
	return x->endpoint || x->json_path;
}

/* The exporter's settings: the config file's tracing section, then the
 * OTEL_* variables over it; the resource: service, OTEL_RESOURCE_ATTRIBUTES,
 * host name. Strings live in store and static buffers (one exporter per
 * process). */
int app_export_cfg(const struct obs_config *c, const char *service, struct otlp_cfg *x, char *err,
		   size_t errlen)
{
	static char store[16384], resbuf[4096], host[256];
	static char endpoint[1100], headers[CONFIG_HEADERS_MAX][1200];

	otlp_cfg_init(x);
	if (*c->tracing_endpoint) {
		otlp_traces_url(c->tracing_endpoint, endpoint, sizeof(endpoint));
		x->endpoint = endpoint;
	}
	for (size_t i = 0; i < c->nheaders && i < OTLP_HEADERS_MAX; i++) {
		snprintf(headers[i], sizeof(headers[i]), "%s: %s", c->headers[i].name,
			 c->headers[i].value);
		x->headers[x->nheaders++] = headers[i];
	}
	if (c->compression >= 0)
		x->gzip = c->compression;
	if (c->tracing_timeout_ms > 0)
		x->timeout_ms = c->tracing_timeout_ms;
	x->ca_file = *c->tracing_ca_file ? c->tracing_ca_file : NULL;
	x->cert_file = *c->tracing_cert_file ? c->tracing_cert_file : NULL;
	x->key_file = *c->tracing_key_file ? c->tracing_key_file : NULL;
	if (otlp_cfg_from_env(x, store, sizeof(store), err, errlen) ||
	    otlp_cfg_check_tls(x, err, errlen) ||
	    otlp_parse_resource_attrs(getenv("OTEL_RESOURCE_ATTRIBUTES"), &x->res, resbuf,
				      sizeof(resbuf), err, errlen))
		return -1;
	/* --spans-file and the file's spans_file over OBS_SPANS_FILE's */
	if (*c->spans_file && !x->endpoint)
		x->json_path = c->spans_file;
	x->res.service = service;
	if (gethostname(host, sizeof(host) - 1))
		host[0] = 0;
	x->res.host = host;
	return 0;
}

/*
 * config_layers - the config module's other half (config.h): the
 * environment and the command line over the file, the checks of what the
 * settings refer to, and what a reload compares and shows. config.c reads
 * the file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- environment and command line ----------------------------------- */

static const char *env_get(const char *name)
{
	return getenv(name);
}

int config_apply_env(struct obs_config *c, const char *(*get)(const char *), char *err,
		     size_t errlen)
{
	const char *v;
	double d;
	char *end;

	if (!get)
		get = env_get;
	if ((v = get("OTEL_SERVICE_NAME")) && *v)
		snprintf(c->service, sizeof(c->service), "%s", v);
	if ((v = get("OBS_METRICS_ADDR")) && *v &&
	    cli_parse_addr(v, c->metrics_host, sizeof(c->metrics_host), &c->metrics_port)) {
		snprintf(err, errlen,
			 "OBS_METRICS_ADDR=%s: expected HOST:PORT, :PORT or [IPv6]:PORT", v);
		return -1;
	}
	if ((v = get("OBS_LOG")) && *v && logfmt_parse_level(v, &c->log_level)) {
		snprintf(err, errlen, "OBS_LOG=%s: expected error, warn, info, debug or trace", v);
		return -1;
	}
	if ((v = get("OBS_LOG_FORMAT")) && *v && logfmt_parse_format(v, &c->log_format)) {
		snprintf(err, errlen, "OBS_LOG_FORMAT=%s: expected json or text", v);
		return -1;
	}
	if ((v = get("OBS_MAX_SERIES")) && *v && cli_parse_series(v, &c->max_series)) {
		snprintf(err, errlen, "OBS_MAX_SERIES=%s: expected an integer >= 100", v);
		return -1;
	}
	if ((v = get("OBS_PROBES")) && *v && cli_parse_probes(v, &c->probes)) {
		snprintf(err, errlen, "OBS_PROBES=%s: expected syscall, disk, tcp, runq or all", v);
		return -1;
	}
	if ((v = get("OBS_HTTP_ROUTES")) && *v) {
		char rerr[256];
		route_table_init(&c->routes);
		if (route_table_add_list(&c->routes, v, rerr, sizeof(rerr))) {
			snprintf(err, errlen, "%s (in OBS_HTTP_ROUTES)", rerr);
			return -1;
		}
	}
	if ((v = get("OBS_SPANS_FILE")) && *v)
		snprintf(c->spans_file, sizeof(c->spans_file), "%s", v);
	/* The standard sampler variables win over the file's ratio (the shim
	 * reads them itself); an unknown sampler is the spec's default. */
	if ((v = get("OTEL_TRACES_SAMPLER")) && *v) {
		c->sampling_origin = CONFIG_ENV;
		if (!strcmp(v, "parentbased_traceidratio") || !strcmp(v, "traceidratio")) {
			const char *arg = get("OTEL_TRACES_SAMPLER_ARG");
			d = 1.0;
			if (arg && *arg) {
				d = strtod(arg, &end);
				if (*end || !(d >= 0 && d <= 1))
					d = 1.0;
			}
			c->sampling_ratio = d;
		} else if (strstr(v, "always_off")) {
			c->sampling_ratio = 0;
		} else {
			c->sampling_ratio = 1;
		}
	}
	return 0;
}

int config_apply_opts(struct obs_config *c, const struct obs_opts *o, char *err, size_t errlen)
{
	if (o->given & CLI_GIVEN(O_METRICS_ADDR)) {
		snprintf(c->metrics_host, sizeof(c->metrics_host), "%s", o->metrics_host);
		c->metrics_port = o->metrics_port;
	}
	if (o->given & CLI_GIVEN(O_NO_METRICS))
		c->metrics_enabled = 0;
	if (o->given & CLI_GIVEN(O_SERVICE))
		snprintf(c->service, sizeof(c->service), "%s", o->service);
	if (o->given & CLI_GIVEN(O_PROBES))
		c->probes = o->probes;
	if (o->given & CLI_GIVEN(O_MAX_SERIES))
		c->max_series = o->series_limit;
	if (o->given & CLI_GIVEN(O_ROUTE)) {
		route_table_init(&c->routes);
		for (size_t i = 0; i < o->nroutes; i++) {
			if (route_table_add(&c->routes, o->routes[i], err, errlen)) {
				size_t l = strlen(err);
				snprintf(err + l, errlen - l, " (in --route)");
				return -1;
			}
		}
	}
	if (o->given & CLI_GIVEN(O_SPANS_FILE))
		snprintf(c->spans_file, sizeof(c->spans_file), "%s", o->spans_file);
	if (o->given & CLI_GIVEN(O_NO_SPANS))
		c->tracing_enabled = 0;
	if (o->given & CLI_GIVEN(O_SAMPLE_RATIO)) {
		c->sampling_ratio = o->sample_ratio;
		c->sampling_origin = CONFIG_FLAG;
	}
	if (o->given & CLI_GIVEN(O_LOG_LEVEL))
		c->log_level = (enum log_level)o->log_level;
	if (o->given & CLI_GIVEN(O_LOG_FORMAT))
		c->log_format = (enum log_format)o->log_format;
	return 0;
}

/* "FILE:LINE: " when the file set key, else "". */
static const char *where(const struct obs_config *c, const char *key, char *buf, size_t len)
{
	int line = config_line(c, key);

	buf[0] = 0;
	if (line)
		snprintf(buf, len, "%s:%d: ", c->file, line);
	return buf;
}

static int readable(const struct obs_config *c, const char *key, const char *path, char *err,
		    size_t errlen)
{
	char at[CONFIG_PATH_MAX + 32];
	int fd;

	if (!*path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s%s: cannot read %s: %s", where(c, key, at, sizeof(at)),
			 key, path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* Two keys that only make sense together. */
static int paired(const struct obs_config *c, const char *ka, const char *va, const char *kb,
		  const char *vb, const char *why, char *err, size_t errlen)
{
	char at[CONFIG_PATH_MAX + 32];

	if (!*va == !*vb)
		return 0;
	snprintf(err, errlen, "%s%s: set without %s%s", where(c, *va ? ka : kb, at, sizeof(at)),
		 *va ? ka : kb, *va ? kb : ka, why);
	return -1;
}

int config_check_files(const struct obs_config *c, char *err, size_t errlen)
{
	if (paired(c, "metrics.tls.cert_file", c->tls_cert_file, "metrics.tls.key_file",
		   c->tls_key_file, ": TLS needs both", err, errlen) ||
	    paired(c, "metrics.auth.basic_auth.username", c->basic_username,
		   "metrics.auth.basic_auth.password_file", c->basic_password_file, "", err,
		   errlen))
		return -1;
	if (readable(c, "metrics.auth.bearer_token_file", c->bearer_token_file, err, errlen) ||
	    readable(c, "metrics.auth.basic_auth.password_file", c->basic_password_file, err,
		     errlen) ||
	    readable(c, "metrics.tls.cert_file", c->tls_cert_file, err, errlen) ||
	    readable(c, "metrics.tls.key_file", c->tls_key_file, err, errlen))
		return -1;
	return 0;
}

int config_build(struct obs_config *c, const struct obs_opts *o, char *err, size_t errlen)
{
	config_defaults(c, o->cmd);
	if (o->config_file && config_load_file(c, o->config_file, err, errlen))
		return -1;
	if (config_apply_env(c, NULL, err, errlen))
		return -1;
	if (config_apply_opts(c, o, err, errlen))
		return -1;
	return config_check_files(c, err, errlen);
}

/* ---- reload ------------------------------------------------------------ */

static void add_fixed(char *out, size_t len, const char *key)
{
	size_t l = strlen(out);

	snprintf(out + l, len - l, "%s%s", l ? ", " : "", key);
}

static int routes_equal(const struct route_table *a, const struct route_table *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->pat[i], b->pat[i]))
			return 0;
	return 1;
}

static int headers_equal(const struct obs_config *a, const struct obs_config *b)
{
	if (a->nheaders != b->nheaders)
		return 0;
	for (size_t i = 0; i < a->nheaders; i++)
		if (strcmp(a->headers[i].name, b->headers[i].name) ||
		    strcmp(a->headers[i].value, b->headers[i].value))
			return 0;
	return 1;
}

unsigned config_diff(const struct obs_config *a, const struct obs_config *b, char *fixed,
		     size_t fixedlen)
{
	unsigned changed = 0;

	fixed[0] = 0;
	if (a->log_level != b->log_level || a->log_format != b->log_format)
		changed |= CONFIG_RELOAD_LOGGING;
	if (strcmp(a->bearer_token_file, b->bearer_token_file) ||
	    strcmp(a->basic_username, b->basic_username) ||
	    strcmp(a->basic_password_file, b->basic_password_file))
		changed |= CONFIG_RELOAD_AUTH;
	if (a->sampling_ratio != b->sampling_ratio)
		changed |= CONFIG_RELOAD_SAMPLING;
	if (!routes_equal(&a->routes, &b->routes))
		changed |= CONFIG_RELOAD_ROUTES;
	if (a->max_series != b->max_series || a->series_stale_s != b->series_stale_s)
		changed |= CONFIG_RELOAD_LIMITS;
	if (a->stall_timeout_s != b->stall_timeout_s)
		changed |= CONFIG_RELOAD_HEALTH;
	if (!svcid_rules_equal(&a->services, &b->services))
		changed |= CONFIG_RELOAD_SERVICES;

	if (strcmp(a->service, b->service))
		add_fixed(fixed, fixedlen, "service");
	if (a->metrics_enabled != b->metrics_enabled)
		add_fixed(fixed, fixedlen, "metrics.enabled");
	if (strcmp(a->metrics_host, b->metrics_host) || a->metrics_port != b->metrics_port)
		add_fixed(fixed, fixedlen, "metrics.listen");
	if (strcmp(a->metrics_path, b->metrics_path))
		add_fixed(fixed, fixedlen, "metrics.path");
	/* new files for a TLS endpoint apply; turning TLS on or off does not */
	if (!*a->tls_cert_file != !*b->tls_cert_file)
		add_fixed(fixed, fixedlen, "metrics.tls");
	else if (strcmp(a->tls_cert_file, b->tls_cert_file) ||
		 strcmp(a->tls_key_file, b->tls_key_file))
		changed |= CONFIG_RELOAD_TLS;
	if (a->tracing_enabled != b->tracing_enabled)
		add_fixed(fixed, fixedlen, "tracing.enabled");
	if (strcmp(a->tracing_endpoint, b->tracing_endpoint))
		add_fixed(fixed, fixedlen, "tracing.endpoint");
	if (!headers_equal(a, b))
		add_fixed(fixed, fixedlen, "tracing.headers");
	if (a->compression != b->compression)
		add_fixed(fixed, fixedlen, "tracing.compression");
	if (a->tracing_timeout_ms != b->tracing_timeout_ms)
		add_fixed(fixed, fixedlen, "tracing.timeout");
	if (strcmp(a->spans_file, b->spans_file))
		add_fixed(fixed, fixedlen, "tracing.spans_file");
	if (strcmp(a->tracing_ca_file, b->tracing_ca_file))
		add_fixed(fixed, fixedlen, "tracing.certificate");
	if (strcmp(a->tracing_cert_file, b->tracing_cert_file) ||
	    strcmp(a->tracing_key_file, b->tracing_key_file))
		add_fixed(fixed, fixedlen, "tracing.client_certificate");
	if (strcmp(a->shim_dir, b->shim_dir))
		add_fixed(fixed, fixedlen, "tracing.shim_dir");
	if (a->probes != b->probes)
		add_fixed(fixed, fixedlen, "probes");
	return changed;
}

void config_take_reloadable(struct obs_config *cur, const struct obs_config *next)
{
	cur->log_level = next->log_level;
	cur->log_format = next->log_format;
	memcpy(cur->bearer_token_file, next->bearer_token_file, sizeof(cur->bearer_token_file));
	memcpy(cur->basic_username, next->basic_username, sizeof(cur->basic_username));
	memcpy(cur->basic_password_file, next->basic_password_file,
	       sizeof(cur->basic_password_file));
	if (!*cur->tls_cert_file == !*next->tls_cert_file) {
		memcpy(cur->tls_cert_file, next->tls_cert_file, sizeof(cur->tls_cert_file));
		memcpy(cur->tls_key_file, next->tls_key_file, sizeof(cur->tls_key_file));
	}
	cur->sampling_ratio = next->sampling_ratio;
	cur->sampling_origin = next->sampling_origin;
	cur->routes = next->routes;
	cur->max_series = next->max_series;
	cur->series_stale_s = next->series_stale_s;
	cur->stall_timeout_s = next->stall_timeout_s;
	cur->services = next->services;
	memcpy(cur->lines, next->lines, sizeof(cur->lines));
	cur->nlines = next->nlines;
}

static void put_kv(struct sbuf *b, const char *key, const char *val, const struct obs_config *c,
		   enum config_origin fallback)
{
	int line = config_line(c, key);

	sbuf_printf(b, "  %-40s %s", key, *val ? val : "(none)");
	if (line)
		sbuf_printf(b, "   # line %d\n", line);
	else
		sbuf_puts(b, fallback == CONFIG_DEFAULT ? "\n" : "   # environment or flag\n");
}

void config_describe(const struct obs_config *c, struct sbuf *b)
{
	char v[1200];

	put_kv(b, "service", c->service, c, CONFIG_DEFAULT);
	put_kv(b, "metrics.enabled", c->metrics_enabled ? "true" : "false", c, CONFIG_DEFAULT);
	snprintf(v, sizeof(v), "%s%s%s:%u", strchr(c->metrics_host, ':') ? "[" : "",
		 c->metrics_host, strchr(c->metrics_host, ':') ? "]" : "", c->metrics_port);
	put_kv(b, "metrics.listen", v, c, CONFIG_DEFAULT);
	put_kv(b, "metrics.path", c->metrics_path, c, CONFIG_DEFAULT);
	/* secrets: only where they are kept */
	put_kv(b, "metrics.auth.bearer_token_file", c->bearer_token_file, c, CONFIG_DEFAULT);
	put_kv(b, "metrics.auth.basic_auth.username", c->basic_username, c, CONFIG_DEFAULT);
	put_kv(b, "metrics.auth.basic_auth.password_file", c->basic_password_file, c,
	       CONFIG_DEFAULT);
	put_kv(b, "metrics.tls.cert_file", c->tls_cert_file, c, CONFIG_DEFAULT);
	put_kv(b, "metrics.tls.key_file", c->tls_key_file, c, CONFIG_DEFAULT);
	put_kv(b, "tracing.enabled", c->tracing_enabled ? "true" : "false", c, CONFIG_DEFAULT);
	put_kv(b, "tracing.endpoint", c->tracing_endpoint, c, CONFIG_DEFAULT);
	v[0] = 0;
	for (size_t i = 0; i < c->nheaders; i++) /* names only: values are often secrets */
		snprintf(v + strlen(v), sizeof(v) - strlen(v), "%s%s: ***", i ? ", " : "",
			 c->headers[i].name);
	put_kv(b, "tracing.headers", v, c, CONFIG_DEFAULT);
	put_kv(b, "tracing.compression",
	       c->compression < 0 ? ""
	       : c->compression	  ? "gzip"
				  : "none",
	       c, CONFIG_DEFAULT);
	if (c->tracing_timeout_ms > 0)
		snprintf(v, sizeof(v), "%ldms", c->tracing_timeout_ms);
	else
		v[0] = 0;
	put_kv(b, "tracing.timeout", v, c, CONFIG_DEFAULT);
	if (c->sampling_ratio >= 0)
		snprintf(v, sizeof(v), "%g", c->sampling_ratio);
	else
		snprintf(v, sizeof(v), "(OTEL_TRACES_SAMPLER of each process, else 1)");
	put_kv(b, "tracing.sampling_ratio", v, c, c->sampling_origin);
	put_kv(b, "tracing.spans_file", c->spans_file, c, CONFIG_DEFAULT);
	put_kv(b, "tracing.certificate", c->tracing_ca_file, c, CONFIG_DEFAULT);
	put_kv(b, "tracing.client_certificate", c->tracing_cert_file, c, CONFIG_DEFAULT);
	put_kv(b, "tracing.client_key", c->tracing_key_file, c, CONFIG_DEFAULT);
	put_kv(b, "tracing.shim_dir", c->shim_dir, c, CONFIG_DEFAULT);
	put_kv(b, "logging.level", logfmt_level_name(c->log_level), c, CONFIG_DEFAULT);
	put_kv(b, "logging.format", c->log_format == LOG_FORMAT_JSON ? "json" : "text", c,
	       CONFIG_DEFAULT);
	snprintf(v, sizeof(v), "%gs", c->stall_timeout_s);
	put_kv(b, "health.stall_timeout", v, c, CONFIG_DEFAULT);
	snprintf(v, sizeof(v), "%zu", c->max_series);
	put_kv(b, "cardinality.max_series", v, c, CONFIG_DEFAULT);
	snprintf(v, sizeof(v), "%gs", c->series_stale_s);
	put_kv(b, "cardinality.stale_after", v, c, CONFIG_DEFAULT);
	snprintf(v, sizeof(v), "%gs", c->services.short_lived_s);
	put_kv(b, "services.short_lived", v, c, CONFIG_DEFAULT);
	put_kv(b, "services.pod_logs", c->services.pod_logs, c, CONFIG_DEFAULT);
	for (int what = SVCID_BY_CGROUP; what <= SVCID_BY_EXE; what++) {
		v[0] = 0;
		for (size_t i = 0; i < c->services.n; i++)
			if (c->services.r[i].what == (enum svcid_match)what)
				snprintf(v + strlen(v), sizeof(v) - strlen(v), "%s%s=%s",
					 *v ? ", " : "", c->services.r[i].pattern,
					 c->services.r[i].service);
		put_kv(b, what == SVCID_BY_CGROUP ? "services.by_cgroup" : "services.by_exe", v, c,
		       CONFIG_DEFAULT);
	}
	v[0] = 0;
	for (size_t i = 0; i < c->routes.n; i++)
		snprintf(v + strlen(v), sizeof(v) - strlen(v), "%s%s", i ? ", " : "",
			 c->routes.pat[i]);
	put_kv(b, "routes", v, c, CONFIG_DEFAULT);
	v[0] = 0;
	for (unsigned i = 0; i < 4; i++)
		if (c->probes & (1u << i))
			snprintf(v + strlen(v), sizeof(v) - strlen(v), "%s%s", *v ? ", " : "",
				 (const char *const[]){"syscall", "disk", "tcp", "runq"}[i]);
	put_kv(b, "probes", v, c, CONFIG_DEFAULT);
}

/*
 * otlp_cfg - the exporter's settings: defaults, and the OpenTelemetry
 * environment variables (OTEL_EXPORTER_OTLP_*, OTEL_BSP_*) over them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otlp.h"

/* The CA, the client's certificate and its key for an https:// endpoint:
 * the spec's names, the signal's own first (otlp_cfg_from_env reads them,
 * otlp_cfg_env_tls says whether any is set). */
static const char *const tls_env[3][2] = {
    {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE"},
    {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"},
    {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "OTEL_EXPORTER_OTLP_CLIENT_KEY"}};

static const char *env2(const char *specific, const char *general)
{
	const char *v = getenv(specific);

	if (v && *v)
		return v;
	v = getenv(general);
	return v && *v ? v : NULL;
}

static char *store_str(char **store, char *end, const char *s, size_t n)
{
	char *o = *store;

	if ((size_t)(end - o) < n + 1)
		return NULL;
	memcpy(o, s, n);
	o[n] = 0;
	*store = o + n + 1;
	return o;
}

static int env_long(const char *name, long def, long min, long *out, char *err, size_t errlen)
{
	const char *v = getenv(name);
	char *end;
	long x;

	*out = def;
	if (!v || !*v)
		return 0;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || x < min) {
		snprintf(err, errlen, "%s=%s: expected an integer >= %ld", name, v, min);
		return -1;
	}
	*out = x;
	return 0;
}

void otlp_cfg_init(struct otlp_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = 10000;
	c->queue_size = 2048;
	c->batch_size = 512;
	c->delay_ms = 1000;
}

void otlp_url_shown(const char *url, char *out, size_t len)
{
	const char *host = url ? strstr(url, "://") : NULL, *at, *end;

	if (!url) {
		snprintf(out, len, "(none)");
		return;
	}
	if (!host) {
		snprintf(out, len, "%s", url);
		return;
	}
	host += 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	while (at && memchr(at + 1, '@', (size_t)(end - at - 1))) /* the last '@' ends userinfo */
		at = memchr(at + 1, '@', (size_t)(end - at - 1));
	if (!at)
		snprintf(out, len, "%s", url);
	else
		snprintf(out, len, "%.*s***%s", (int)(host - url), url, at);
}

void otlp_traces_url(const char *base, char *out, size_t len)
{
	size_t n = strlen(base);

	if (n >= 10 && !strcmp(base + n - 10, "/v1/traces"))
		snprintf(out, len, "%s", base);
	else
		snprintf(out, len, "%.*s%sv1/traces", (int)n, base,
			 n && base[n - 1] == '/' ? "" : "/");
}

int otlp_cfg_from_env(struct otlp_cfg *c, char *store, size_t storelen, char *err, size_t errlen)
{
	char *end = store + storelen;
	const char *ep = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), *proto, *comp, *hdrs;
	long v;

	proto = env2("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL");
	if (proto && strcmp(proto, "http/protobuf")) {
		snprintf(err, errlen,
			 "OTLP protocol '%s' is not supported: obs exports http/protobuf "
			 "(unset OTEL_EXPORTER_OTLP_PROTOCOL or set it to http/protobuf)",
			 proto);
		return -1;
	}
	if (ep && *ep) {
		c->endpoint = store_str(&store, end, ep, strlen(ep)); /* used as is (spec) */
	} else if ((ep = getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) && *ep) {
		size_t n = strlen(ep);
		char buf[2048];
		/* the spec: always append (a base URL ending in /v1/traces is odd but honoured) */
		snprintf(buf, sizeof(buf), "%.*s%sv1/traces", (int)n, ep,
			 n && ep[n - 1] == '/' ? "" : "/");
		c->endpoint = store_str(&store, end, buf, strlen(buf));
	}
	if (c->endpoint && strncmp(c->endpoint, "http://", 7) &&
	    strncmp(c->endpoint, "https://", 8)) {
		char shown[512];

		otlp_url_shown(c->endpoint, shown, sizeof(shown));
		snprintf(err, errlen, "OTLP endpoint '%s' must start with http:// or https://",
			 shown);
		return -1;
	}
	comp = env2("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION");
	if (comp && strcmp(comp, "gzip") && strcmp(comp, "none")) {
		snprintf(err, errlen, "OTEL_EXPORTER_OTLP_COMPRESSION=%s: expected gzip or none",
			 comp);
		return -1;
	}
	if (comp)
		c->gzip = !strcmp(comp, "gzip");
	const char *t = env2("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT");
	if (t) {
		char *e;
		long x = strtol(t, &e, 10);
		if (*e || x <= 0) {
			snprintf(err, errlen,
				 "OTEL_EXPORTER_OTLP_TIMEOUT=%s: expected milliseconds > 0", t);
			return -1;
		}
		c->timeout_ms = x;
	}
	hdrs = env2("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS");
	if (hdrs) {
		struct otlp_resource tmp;
		c->nheaders = 0;
		char buf[4096];
		if (otlp_parse_resource_attrs(hdrs, &tmp, buf, sizeof(buf), err, errlen)) {
			char *p = strstr(err, "OTEL_RESOURCE_ATTRIBUTES");
			if (p)
				memcpy(p, "OTEL_EXPORTER_OTLP_HEADERS", 24); /* same list syntax */
			return -1;
		}
		for (size_t i = 0; i < tmp.nattrs && i < OTLP_HEADERS_MAX; i++) {
			char h[1024];
			snprintf(h, sizeof(h), "%s: %s", tmp.keys[i], tmp.vals[i]);
			if (strpbrk(h, "\r\n")) {
				snprintf(err, errlen,
					 "OTEL_EXPORTER_OTLP_HEADERS: newline in a value");
				return -1;
			}
			c->headers[c->nheaders++] = store_str(&store, end, h, strlen(h));
		}
	}
	if (env_long("OTEL_BSP_MAX_QUEUE_SIZE", (long)c->queue_size, 1, &v, err, errlen))
		return -1;
	c->queue_size = (size_t)v;
	if (env_long("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", (long)c->batch_size, 1, &v, err, errlen))
		return -1;
	c->batch_size = (size_t)v > c->queue_size ? c->queue_size : (size_t)v;
	if (env_long("OTEL_BSP_SCHEDULE_DELAY", c->delay_ms, 0, &c->delay_ms, err, errlen))
		return -1;
	/* https: the CA and the client's certificate and key (the files
	 * are checked by otlp_cfg_check_tls) */
	const char **tls_out[3] = {&c->ca_file, &c->cert_file, &c->key_file};
	for (int i = 0; i < 3; i++) {
		const char *f = env2(tls_env[i][0], tls_env[i][1]);
		if (f)
			*tls_out[i] = store_str(&store, end, f, strlen(f));
	}
	const char *jp = getenv("OBS_SPANS_FILE");
	if (jp && *jp)
		c->json_path = store_str(&store, end, jp, strlen(jp));
	return 0;
}

int otlp_cfg_check_tls(const struct otlp_cfg *c, char *err, size_t errlen)
{
	const char *files[3] = {c->ca_file, c->cert_file, c->key_file};
	static const char *const names[3] = {"OTLP CA certificate (tracing.certificate)",
					     "OTLP client certificate (tracing.client_certificate)",
					     "OTLP client key (tracing.client_key)"};

	if (!c->ca_file && !c->cert_file && !c->key_file)
		return 0;
	if (!c->endpoint || strncmp(c->endpoint, "https://", 8)) {
		snprintf(err, errlen,
			 "an OTLP certificate or key is set, but the endpoint is not https://");
		return -1;
	}
	if (!c->cert_file != !c->key_file) {
		snprintf(err, errlen,
			 "an OTLP client certificate needs its key, and a key its certificate "
			 "(tracing.client_certificate and tracing.client_key, or "
			 "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _CLIENT_KEY)");
		return -1;
	}
	for (int i = 0; i < 3; i++) {
		if (files[i] && access(files[i], R_OK)) {
			snprintf(err, errlen, "%s %s: %s", names[i], files[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

int otlp_cfg_env_tls(void)
{
	for (int i = 0; i < 3; i++)
		if (env2(tls_env[i][0], tls_env[i][1]))
			return 1;
	return 0;
}

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include <yaml.h>

#include "config_walk.h"
#include "str.h"
#include "svcid.h"

#define FILE_MAX (1 << 20)

/* ---- the schema -------------------------------------------------------- */

enum ktype {
	K_SECTION,
	K_NAME,	    /* non-empty string */
	K_PATH,	    /* a file path */
	K_ABSPATH,  /* an absolute path */
	K_BOOL,	    /* true | false */
	K_ADDR,	    /* HOST:PORT */
	K_URLPATH,  /* /metrics */
	K_USER,	    /* basic auth user name: no ':' */
	K_URL,	    /* http(s)://... */
	K_HEADERS,  /* mapping of header name -> value */
	K_COMPRESS, /* gzip | none */
	K_TIMEOUT,  /* duration -> ms */
	K_DURATION, /* duration -> s */
	K_RATIO,    /* 0..1 */
	K_LEVEL,
	K_FORMAT,
	K_SERIES,   /* integer >= 100 */
	K_ROUTES,   /* sequence of patterns */
	K_PROBES,   /* sequence or comma list */
	K_SVCRULES, /* mapping of glob -> service */
	K_AGE,	    /* duration, 0 allowed -> s */
};

#define OFF(f)	offsetof(struct obs_config, f)
#define SIZE(f) sizeof(((struct obs_config *)0)->f)

static const struct key {
	const char *path;
	enum ktype type;
	size_t off, size;
	const char *expect; /* what a valid value looks like, for messages */
} keys[] = {
    {"service", K_NAME, OFF(service), SIZE(service), "a service name"},
    {"metrics", K_SECTION, 0, 0, NULL},
    {"metrics.enabled", K_BOOL, OFF(metrics_enabled), 0, "true or false"},
    {"metrics.listen", K_ADDR, 0, 0, "HOST:PORT, :PORT or [IPv6]:PORT"},
    {"metrics.path", K_URLPATH, OFF(metrics_path), SIZE(metrics_path),
     "a URL path such as /metrics"},
    {"metrics.auth", K_SECTION, 0, 0, NULL},
    {"metrics.auth.bearer_token_file", K_PATH, OFF(bearer_token_file), SIZE(bearer_token_file),
     "a file path"},
    {"metrics.auth.basic_auth", K_SECTION, 0, 0, NULL},
    {"metrics.auth.basic_auth.username", K_USER, OFF(basic_username), SIZE(basic_username),
     "a user name without ':'"},
    {"metrics.auth.basic_auth.password_file", K_PATH, OFF(basic_password_file),
     SIZE(basic_password_file), "a file path"},
    {"metrics.tls", K_SECTION, 0, 0, NULL},
    {"metrics.tls.cert_file", K_PATH, OFF(tls_cert_file), SIZE(tls_cert_file), "a file path"},
    {"metrics.tls.key_file", K_PATH, OFF(tls_key_file), SIZE(tls_key_file), "a file path"},
    {"tracing", K_SECTION, 0, 0, NULL},
    {"tracing.enabled", K_BOOL, OFF(tracing_enabled), 0, "true or false"},
    {"tracing.endpoint", K_URL, OFF(tracing_endpoint), SIZE(tracing_endpoint),
     "an http:// or https:// URL"},
    {"tracing.headers", K_HEADERS, 0, 0, "a mapping of header names to values"},
    {"tracing.compression", K_COMPRESS, 0, 0, "gzip or none"},
    {"tracing.timeout", K_TIMEOUT, 0, 0, "a duration such as 10s or 500ms"},
    {"tracing.sampling_ratio", K_RATIO, 0, 0, "a number from 0 to 1"},
    {"tracing.spans_file", K_PATH, OFF(spans_file), SIZE(spans_file),
     "a file path, or - for stdout"},
    {"tracing.certificate", K_PATH, OFF(tracing_ca_file), SIZE(tracing_ca_file),
     "a file path (PEM CA certificates)"},
    {"tracing.client_certificate", K_PATH, OFF(tracing_cert_file), SIZE(tracing_cert_file),
     "a file path (PEM)"},
    {"tracing.client_key", K_PATH, OFF(tracing_key_file), SIZE(tracing_key_file),
     "a file path (PEM)"},
    {"tracing.shim_dir", K_ABSPATH, OFF(shim_dir), SIZE(shim_dir), "an absolute directory path"},
    {"logging", K_SECTION, 0, 0, NULL},
    {"logging.level", K_LEVEL, 0, 0, "error, warn, info, debug or trace"},
    {"logging.format", K_FORMAT, 0, 0, "json or text"},
    {"health", K_SECTION, 0, 0, NULL},
    {"health.stall_timeout", K_DURATION, 0, 0, "a duration of at least 1s, such as 10s"},
    {"cardinality", K_SECTION, 0, 0, NULL},
    {"cardinality.max_series", K_SERIES, 0, 0, "an integer from 100 to 100000000"},
    {"cardinality.stale_after", K_DURATION, 0, 0, "a duration of at least 1s, such as 5m"},
    {"services", K_SECTION, 0, 0, NULL},
    {"services.short_lived", K_AGE, 0, 0, "a duration such as 5s, or 0 (off)"},
    {"services.pod_logs", K_ABSPATH, OFF(services.pod_logs), SIZE(services.pod_logs),
     "an absolute directory path"},
    {"services.by_cgroup", K_SVCRULES, 0, 0, "a mapping of cgroup path patterns to services"},
    {"services.by_exe", K_SVCRULES, 0, 0, "a mapping of executable name patterns to services"},
    {"routes", K_ROUTES, 0, 0, "a list of route patterns such as /users/{id}"},
    {"probes", K_PROBES, 0, 0, "a list of syscall, disk, tcp, runq, or all"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *key_find(const char *path)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].path, path))
			return &keys[i];
	return NULL;
}

/* ---- defaults ----------------------------------------------------------- */

void config_defaults(struct obs_config *c, enum obs_cmd mode)
{
	memset(c, 0, sizeof(*c));
	c->metrics_enabled = 1;
	cli_parse_addr(OBS_DEFAULT_METRICS_ADDR, c->metrics_host, sizeof(c->metrics_host),
		       &c->metrics_port);
	snprintf(c->metrics_path, sizeof(c->metrics_path), "/metrics");
	c->tracing_enabled = 1;
	c->compression = -1;
	/* obs-run follows OpenTelemetry's default (parentbased_always_on);
	 * a node agent sees every service at once and samples 10% */
	c->sampling_ratio = mode == OBS_CMD_AGENT ? 0.1 : -1;
	snprintf(c->shim_dir, sizeof(c->shim_dir), "/run/obs");
	c->log_level = LOG_INFO;
	c->log_format = LOG_FORMAT_TEXT;
	c->stall_timeout_s = 10;
	c->series_stale_s = 300;
	svcid_rules_init(&c->services);
	/* a node has many services: room for their histograms */
	c->max_series =
	    mode == OBS_CMD_AGENT ? OBS_DEFAULT_AGENT_SERIES_LIMIT : OBS_DEFAULT_SERIES_LIMIT;
	route_table_init(&c->routes);
	c->probes = OBS_PROBE_ALL;
}

int config_line(const struct obs_config *c, const char *key)
{
	for (size_t i = 0; i < c->nlines; i++)
		if (!strcmp(c->lines[i].key, key))
			return c->lines[i].line;
	return 0;
}

static void note_line(struct obs_config *c, const char *key, int line)
{
	for (size_t i = 0; i < c->nlines; i++) {
		if (!strcmp(c->lines[i].key, key)) {
			c->lines[i].line = line;
			return;
		}
	}
	if (c->nlines < CONFIG_KEYS_MAX) {
		str_copy(c->lines[c->nlines].key, sizeof(c->lines[0].key), key);
		c->lines[c->nlines++].line = line;
	}
}

/* ---- the YAML walk (config_walk.h) ------------------------------------ */

static int set_string(struct walk *w, const yaml_node_t *n, const struct key *k, const char *v)
{
	char *dst = (char *)w->c + k->off;

	if (strlen(v) >= k->size)
		return config_fail_at(w, n, k->path, "too long (at most %zu bytes)", k->size - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const t[] = {"true", "yes", "on"}, *const f[] = {"false", "no", "off"};

	for (size_t i = 0; i < 3; i++) {
		if (!strcasecmp(v, t[i]))
			return *out = 1, 0;
		if (!strcasecmp(v, f[i]))
			return *out = 0, 0;
	}
	return -1;
}

static int set_value(struct walk *w, const yaml_node_t *n, const struct key *k)
{
	struct obs_config *c = w->c;
	const char *v;
	double d;
	char *end;

	switch (k->type) {
	case K_HEADERS:
		return config_set_headers(w, n, k->path, k->expect);
	case K_ROUTES:
		return config_set_routes(w, n, k->path, k->expect);
	case K_PROBES:
		return config_set_probes(w, n, k->path, k->expect);
	case K_SVCRULES:
		return config_set_svc_rules(w, n, k->path, k->expect);
	default:
		break;
	}
	if (!(v = config_scalar(w, n, k->path, k->expect)))
		return -1;
	switch (k->type) {
	case K_NAME:
	case K_PATH:
		if (!*v)
			return config_fail_at(w, n, k->path, "empty: expected %s", k->expect);
		return set_string(w, n, k, v);
	case K_ABSPATH:
		if (v[0] != '/')
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		return set_string(w, n, k, v);
	case K_USER:
		if (!*v || strchr(v, ':'))
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		return set_string(w, n, k, v);
	case K_URLPATH:
		if (v[0] != '/' || strpbrk(v, " ?#\t"))
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		if (!strcmp(v, "/healthz") || !strcmp(v, "/readyz"))
			return config_fail_at(w, n, k->path, "'%s' is the health endpoint's path",
					      v);
		return set_string(w, n, k, v);
	case K_URL:
		if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		return set_string(w, n, k, v);
	case K_BOOL: {
		int b;
		if (parse_bool(v, &b))
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		*(int *)((char *)c + k->off) = b;
		return 0;
	}
	case K_ADDR:
		if (cli_parse_addr(v, c->metrics_host, sizeof(c->metrics_host), &c->metrics_port))
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		return 0;
	case K_COMPRESS:
		if (strcmp(v, "gzip") && strcmp(v, "none"))
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		c->compression = !strcmp(v, "gzip");
		return 0;
	case K_TIMEOUT:
	case K_DURATION:
		if (cli_parse_duration(v, &d) || (k->type == K_TIMEOUT ? d < 0.001 : d < 1))
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		if (k->type == K_TIMEOUT)
			c->tracing_timeout_ms = (long)llround(d * 1000);
		else if (!strcmp(k->path, "cardinality.stale_after"))
			c->series_stale_s = d;
		else
			c->stall_timeout_s = d;
		return 0;
	case K_AGE:
		if (cli_parse_duration(v, &d) || d < 0 || d > 3600)
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		c->services.short_lived_s = d;
		return 0;
	case K_RATIO:
		errno = 0;
		d = strtod(v, &end);
		if (errno || end == v || *end || !(d >= 0 && d <= 1))
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		c->sampling_ratio = d;
		c->sampling_origin = CONFIG_FILE;
		return 0;
	case K_LEVEL:
		if (logfmt_parse_level(v, &c->log_level))
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		return 0;
	case K_FORMAT:
		if (logfmt_parse_format(v, &c->log_format))
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		return 0;
	case K_SERIES:
		if (cli_parse_series(v, &c->max_series))
			return config_fail_at(w, n, k->path, "'%s': expected %s", v, k->expect);
		return 0;
	default:
		return config_fail_at(w, n, k->path, "internal error: no parser for this key");
	}
}

/* The keys a section accepts, for "unknown key" messages. */
static void known_under(const char *prefix, char *out, size_t len)
{
	size_t pl = strlen(prefix), o = 0;

	out[0] = 0;
	for (size_t i = 0; i < NKEYS && o < len; i++) {
		const char *p = keys[i].path, *rest;

		if (pl && (strncmp(p, prefix, pl) || p[pl] != '.'))
			continue;
		rest = pl ? p + pl + 1 : p;
		if (strchr(rest, '.'))
			continue;
		o += (size_t)snprintf(out + o, len - o, "%s%s", o ? ", " : "", rest);
	}
}

static int walk_mapping(struct walk *w, const yaml_node_t *n, const char *prefix)
{
	if (n->type != YAML_MAPPING_NODE)
		return config_fail_at(w, n, *prefix ? prefix : NULL,
				      "expected a mapping of keys to values%s",
				      *prefix ? "" : " (key: value lines)");
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
		const struct key *k;
		char path[128], known[512];
		const char *name;

		if (!kn || !vn)
			return config_fail_at(w, n, prefix, "malformed mapping");
		if (!(name = config_scalar(w, kn, *prefix ? prefix : NULL, "a key name")))
			return -1;
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);
		k = key_find(path);
		if (!k) {
			known_under(prefix, known, sizeof(known));
			return config_fail_at(w, kn, NULL, "unknown key '%s'%s%s (known here: %s)",
					      path, *prefix ? " in " : "", prefix, known);
		}
		for (size_t i = 0; i < w->nseen; i++)
			if (!strcmp(w->seen[i], path))
				return config_fail_at(w, kn, path, "duplicate key");
		if (w->nseen < CONFIG_KEYS_MAX)
			str_copy(w->seen[w->nseen++], sizeof(w->seen[0]), path);
		note_line(w->c, path, (int)kn->start_mark.line + 1);
		w->key_line = kn->start_mark.line + 1;
		if (k->type == K_SECTION) {
			if (config_is_null(vn))
				continue;
			if (walk_mapping(w, vn, path))
				return -1;
			continue;
		}
		if (set_value(w, vn, k))
			return -1;
	}
	return 0;
}

int config_parse(struct obs_config *c, const char *buf, size_t len, const char *name, char *err,
		 size_t errlen)
{
	struct walk w = {.c = c, .name = name, .err = err, .errlen = errlen};
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root;
	int rc = -1;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%lu: invalid YAML: %s%s%s", name,
			 (unsigned long)parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "syntax error",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return -1;
	}
	w.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root || config_is_null(root)) {
		rc = 0; /* an empty file: every default stands */
	} else {
		rc = walk_mapping(&w, root, "");
	}
	if (!rc) {
		/* A second document would be silently ignored: refuse it. */
		if (!yaml_parser_load(&parser, &extra)) {
			rc = -1;
			snprintf(err, errlen, "%s:%lu: invalid YAML: %s", name,
				 (unsigned long)parser.problem_mark.line + 1,
				 parser.problem ? parser.problem : "syntax error");
		} else {
			if (yaml_document_get_root_node(&extra)) {
				rc = -1;
				snprintf(err, errlen,
					 "%s:%lu: a second YAML document: obs reads one (remove "
					 "the '---' line)",
					 name, (unsigned long)extra.start_mark.line + 1);
			}
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

int config_load_file(struct obs_config *c, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "config file %s is not a regular file", path);
		goto out;
	}
	if (st.st_size > FILE_MAX) {
		snprintf(err, errlen, "config file %s is larger than 1 MiB", path);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory reading %s", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "cannot read config file %s: %s", path,
				 n ? strerror(errno) : "file shrank while reading");
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = 0;
	rc = config_parse(c, buf, got, path, err, errlen);
	if (!rc)
		snprintf(c->file, sizeof(c->file), "%s", path);
out:
	free(buf);
	close(fd);
	return rc;
}

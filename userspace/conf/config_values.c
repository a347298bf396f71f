/* The values that are lists or mappings, and the walk's helpers. */
#include "config_walk.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "str.h"
#include "svcid.h"

int config_fail_at(struct walk *w, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
	unsigned long line = n ? (unsigned long)n->start_mark.line + 1 : 0UL;
	size_t l;
	va_list ap;

	if (w->key_line > line)
		line = w->key_line;
	l = (size_t)snprintf(w->err, w->errlen, "%s:%lu: %s%s", w->name, line, key ? key : "",
			     key ? ": " : "");
	if (l >= w->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(w->err + l, w->errlen - l, fmt, ap);
	va_end(ap);
	return -1;
}

int config_is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	const char *v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* A scalar's text (NUL-terminated by libyaml); NULL and an error if not one. */
const char *config_scalar(struct walk *w, const yaml_node_t *n, const char *key, const char *expect)
{
	if (n->type != YAML_SCALAR_NODE) {
		config_fail_at(w, n, key, "expected %s, got a %s", expect,
			       n->type == YAML_MAPPING_NODE ? "mapping" : "list");
		return NULL;
	}
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
		config_fail_at(w, n, key, "a NUL byte in the value");
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

static int valid_header_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++) /* RFC 9110 token */
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
			return 0;
	return 1;
}

int config_set_headers(struct walk *w, const yaml_node_t *n, const char *path, const char *expect)
{
	struct obs_config *c = w->c;

	if (config_is_null(n)) {
		c->nheaders = 0;
		return 0;
	}
	if (n->type != YAML_MAPPING_NODE)
		return config_fail_at(w, n, path, "expected %s", expect);
	c->nheaders = 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
		const char *name, *val;

		if (!kn || !vn || !(name = config_scalar(w, kn, path, "a header name")) ||
		    !(val = config_scalar(w, vn, path, "a header value")))
			return -1;
		if (!valid_header_name(name))
			return config_fail_at(w, kn, path, "'%s' is not a valid HTTP header name",
					      name);
		if (strpbrk(val, "\r\n"))
			return config_fail_at(w, vn, path, "the value of %s has a line break",
					      name);
		if (c->nheaders >= CONFIG_HEADERS_MAX)
			return config_fail_at(w, kn, path, "more than %d headers",
					      CONFIG_HEADERS_MAX);
		if (strlen(name) >= sizeof(c->headers[0].name) ||
		    strlen(val) >= sizeof(c->headers[0].value))
			return config_fail_at(w, kn, path, "header %s is too long", name);
		snprintf(c->headers[c->nheaders].name, sizeof(c->headers[0].name), "%s", name);
		snprintf(c->headers[c->nheaders].value, sizeof(c->headers[0].value), "%s", val);
		c->nheaders++;
	}
	return 0;
}

int config_set_routes(struct walk *w, const yaml_node_t *n, const char *path, const char *expect)
{
	struct obs_config *c = w->c;
	char rerr[256];

	route_table_init(&c->routes);
	if (config_is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return config_fail_at(w, n, path, "expected %s", expect);
	for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
	     i++) {
		yaml_node_t *e = yaml_document_get_node(w->doc, *i);
		const char *v;

		if (!e || !(v = config_scalar(w, e, path, "a route pattern")))
			return -1;
		if (route_table_add(&c->routes, v, rerr, sizeof(rerr)))
			return config_fail_at(w, e, path, "%s", rerr);
	}
	return 0;
}

int config_set_probes(struct walk *w, const yaml_node_t *n, const char *path, const char *expect)
{
	unsigned mask = 0, m;

	if (n->type == YAML_SCALAR_NODE) {
		const char *v = (const char *)n->data.scalar.value;
		if (cli_parse_probes(v, &mask))
			return config_fail_at(w, n, path, "'%s': expected %s", v, expect);
	} else if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			yaml_node_t *e = yaml_document_get_node(w->doc, *i);
			const char *v;

			if (!e || !(v = config_scalar(w, e, path, "a probe name")))
				return -1;
			if (strchr(v, ',') || cli_parse_probes(v, &m))
				return config_fail_at(w, e, path, "unknown probe '%s': expected %s",
						      v, expect);
			mask |= m;
		}
	} else {
		return config_fail_at(w, n, path, "expected %s", expect);
	}
	if (!mask)
		return config_fail_at(w, n, path, "no probe enabled: expected %s", expect);
	w->c->probes = mask;
	return 0;
}

int config_set_svc_rules(struct walk *w, const yaml_node_t *n, const char *path, const char *expect)
{
	enum svcid_match what = strstr(path, "by_exe") ? SVCID_BY_EXE : SVCID_BY_CGROUP;
	struct svcid_rules *r = &w->c->services;
	char rerr[160];
	size_t keep = 0;

	/* a second mapping of the same kind replaces the first's rules */
	for (size_t i = 0; i < r->n; i++)
		if (r->r[i].what != what)
			r->r[keep++] = r->r[i];
	r->n = keep;
	if (config_is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return config_fail_at(w, n, path, "expected %s", expect);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
		const char *glob, *svc;

		if (!kn || !vn || !(glob = config_scalar(w, kn, path, "a pattern")) ||
		    !(svc = config_scalar(w, vn, path, "a service name")))
			return -1;
		if (svcid_rules_add(r, what, glob, svc, rerr, sizeof(rerr)))
			return config_fail_at(w, kn, path, "%s", rerr);
	}
	return 0;
}

#include "svcid.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "str.h"

void svcid_rules_init(struct svcid_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->short_lived_s = 5;
	snprintf(r->pod_logs, sizeof(r->pod_logs), "/var/log/containers");
}

int svcid_rules_add(struct svcid_rules *r, enum svcid_match what, const char *pattern,
		    const char *service, char *err, size_t errlen)
{
	struct svcid_rule *e;

	if (r->n == SVCID_RULES_MAX)
		return snprintf(err, errlen, "more than %d rules", SVCID_RULES_MAX), -1;
	if (!*pattern || strlen(pattern) >= SVCID_PATTERN_MAX)
		return snprintf(err, errlen, "a pattern is empty or longer than %d bytes",
				SVCID_PATTERN_MAX - 1),
		       -1;
	if (!*service || strlen(service) >= SVCID_NAME_MAX)
		return snprintf(err, errlen, "service for '%s' is empty or longer than %d bytes",
				pattern, SVCID_NAME_MAX - 1),
		       -1;
	e = &r->r[r->n++];
	e->what = what;
	str_copy(e->pattern, sizeof(e->pattern), pattern);
	str_copy(e->service, sizeof(e->service), service);
	return 0;
}

int svcid_rules_equal(const struct svcid_rules *a, const struct svcid_rules *b)
{
	if (a->n != b->n || a->short_lived_s != b->short_lived_s ||
	    strcmp(a->pod_logs, b->pod_logs))
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->r[i].what != b->r[i].what || strcmp(a->r[i].pattern, b->r[i].pattern) ||
		    strcmp(a->r[i].service, b->r[i].service))
			return 0;
	return 1;
}

static int nonempty(const char *s)
{
	return s && *s;
}

enum svcid_source svcid_resolve(const struct svcid_rules *r, const struct svcid_in *in, char *out,
				size_t outlen)
{
	for (size_t i = 0; r && i < r->n; i++) {
		const char *subject = r->r[i].what == SVCID_BY_CGROUP ? in->cgroup : in->exe;

		if (nonempty(subject) && !fnmatch(r->r[i].pattern, subject, 0)) {
			str_copy(out, outlen, r->r[i].service);
			return SVCID_RULE;
		}
	}
	if (nonempty(in->env_service)) {
		str_copy(out, outlen, in->env_service);
		return SVCID_ENV;
	}
	if (nonempty(in->resource_attrs) &&
	    !svcid_resource_service(in->resource_attrs, out, outlen))
		return SVCID_RESOURCE;
	if (nonempty(in->container_name)) {
		str_copy(out, outlen, in->container_name);
		return SVCID_CONTAINER;
	}
	if (nonempty(in->cgroup) && !nonempty(in->container_id) &&
	    !svcid_unit(in->cgroup, out, outlen))
		return SVCID_UNIT;
	str_copy(out, outlen, nonempty(in->exe) ? in->exe : "unknown");
	/* a container whose name is not known: its processes by executable,
	 * but never deferred to a parent outside it */
	return nonempty(in->container_id) ? SVCID_CONTAINER : SVCID_EXE;
}

const char *svcid_source_name(enum svcid_source s)
{
	switch (s) {
	case SVCID_RULE:
		return "rule";
	case SVCID_ENV:
		return "OTEL_SERVICE_NAME";
	case SVCID_RESOURCE:
		return "OTEL_RESOURCE_ATTRIBUTES";
	case SVCID_CONTAINER:
		return "container";
	case SVCID_UNIT:
		return "systemd unit";
	case SVCID_EXE:
		return "executable";
	}
	return "?";
}

/* [s, e) without the spaces and tabs around it */
static void trim(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

int svcid_resource_service(const char *attrs, char *out, size_t outlen)
{
	static const char key[] = "service.name";
	const char *p = attrs;
	int found = 0;

	if (!outlen)
		return -1;
	out[0] = '\0';
	while (*p) {
		const char *end = strchr(p, ','), *eq, *k = p, *ke, *v, *ve;
		size_t n = 0;

		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		p = *end ? end + 1 : end;
		if (!eq)
			continue;
		ke = eq;
		trim(&k, &ke);
		if ((size_t)(ke - k) != sizeof(key) - 1 || memcmp(k, key, sizeof(key) - 1))
			continue;
		v = eq + 1;
		ve = end;
		trim(&v, &ve);
		/* the last one wins, as in the SDKs: keep looking */
		found = 1;
		for (; v < ve && n + 1 < outlen; v++) {
			int hi, lo;

			if (*v == '%' && ve - v >= 3 && (hi = str_hexval(v[1])) >= 0 &&
			    (lo = str_hexval(v[2])) >= 0) {
				out[n++] = (char)(hi << 4 | lo);
				v += 2;
			} else {
				out[n++] = *v;
			}
		}
		out[n] = '\0';
	}
	return found && out[0] ? 0 : -1;
}

int svcid_unit(const char *cgroup, char *out, size_t outlen)
{
	static const char suffix[] = ".service";
	const char *end = cgroup + strlen(cgroup);

	/* innermost first: walk the components from the end */
	while (end > cgroup) {
		const char *start = end;
		size_t n;

		while (start > cgroup && start[-1] != '/')
			start--;
		n = (size_t)(end - start);
		if (n > sizeof(suffix) - 1 &&
		    !memcmp(end - (sizeof(suffix) - 1), suffix, sizeof(suffix) - 1)) {
			if (!strncmp(start, "user@", 5))
				return -1; /* a user's session manager */
			n -= sizeof(suffix) - 1;
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, start, n);
			out[n] = '\0';
			return 0;
		}
		end = start > cgroup ? start - 1 : cgroup;
	}
	return -1;
}

int svcid_podlog_container(const char *fname, const char *cid, char *out, size_t outlen)
{
	size_t fl = strlen(fname), cl = strlen(cid);
	const char *tail, *us;

	/* ..._CONTAINER-<cid>.log */
	if (!cl || fl < cl + 6 || strcmp(fname + fl - 4, ".log") ||
	    memcmp(fname + fl - 4 - cl, cid, cl) || fname[fl - 5 - cl] != '-')
		return -1;
	tail = fname + fl - 5 - cl; /* the '-' */
	for (us = tail; us > fname && us[-1] != '_'; us--)
		;
	if (us == fname || us == tail || (size_t)(tail - us) >= outlen)
		return -1;
	memcpy(out, us, (size_t)(tail - us));
	out[tail - us] = '\0';
	return 0;
}

#include "route.h"

#include <stdio.h>
#include <string.h>

#include "str.h"

void route_table_init(struct route_table *t)
{
	t->n = 0;
}

int route_table_add(struct route_table *t, const char *pattern, char *err, size_t errlen)
{
	size_t len = strlen(pattern);

	if (len == 0 || pattern[0] != '/') {
		snprintf(err, errlen, "route pattern '%s' must start with '/'", pattern);
		return -1;
	}
	if (len >= ROUTE_MAX_LEN) {
		snprintf(err, errlen, "route pattern longer than %d characters", ROUTE_MAX_LEN - 1);
		return -1;
	}
	if (strpbrk(pattern, "?# \t")) {
		snprintf(err, errlen, "route pattern '%s' may not contain '?', '#' or spaces",
			 pattern);
		return -1;
	}
	const char *star = strchr(pattern, '*');
	if (star && (star[1] || star[-1] != '/')) {
		snprintf(err, errlen, "route pattern '%s': '*' is only allowed as the last segment",
			 pattern);
		return -1;
	}
	if (t->n >= ROUTE_MAX_PATTERNS) {
		snprintf(err, errlen, "more than %d route patterns", ROUTE_MAX_PATTERNS);
		return -1;
	}
	memcpy(t->pat[t->n++], pattern, len + 1);
	return 0;
}

size_t route_table_join(const struct route_table *t, char *out, size_t outlen)
{
	size_t at = 0;

	out[0] = 0;
	for (size_t i = 0; i < t->n; i++) {
		at = str_append(out, outlen, at, i ? "," : "");
		at = str_append(out, outlen, at, t->pat[i]);
	}
	return at;
}

int route_table_add_list(struct route_table *t, const char *list, char *err, size_t errlen)
{
	char one[ROUTE_MAX_LEN + 1];

	while (list && *list) {
		const char *c = strchr(list, ',');
		size_t len = c ? (size_t)(c - list) : strlen(list);
		while (len && (*list == ' ' || *list == '\t'))
			list++, len--;
		while (len && (list[len - 1] == ' ' || list[len - 1] == '\t'))
			len--;
		if (len) {
			if (len > ROUTE_MAX_LEN) {
				snprintf(err, errlen, "route pattern longer than %d characters",
					 ROUTE_MAX_LEN - 1);
				return -1;
			}
			memcpy(one, list, len);
			one[len] = 0;
			if (route_table_add(t, one, err, errlen))
				return -1;
		}
		list = c ? c + 1 : NULL;
	}
	return 0;
}

void route_path(const char *target, char *out, size_t outlen)
{
	size_t n = strcspn(target, "?#");

	/* absolute-form (proxies): keep only the path */
	if (!strncmp(target, "http://", 7) || !strncmp(target, "https://", 8)) {
		const char *p = strchr(target + (target[4] == 's' ? 8 : 7), '/');
		if (!p || (size_t)(p - target) > n)
			p = "/";
		target = p;
		n = strcspn(target, "?#");
	}
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, target, n);
	out[n] = 0;
}

static int is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!(str_hexval(s[i]) >= 0)) {
			return 0;
		}
	}
	return 1;
}

/* A segment that names one instance rather than a resource kind. */
static int is_id(const char *s, size_t n)
{
	size_t digits = 0, hex = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		digits += s[i] >= '0' && s[i] <= '9';
		hex += (str_hexval(s[i]) >= 0);
	}
	if (digits == n)
		return 1;
	if (is_uuid(s, n))
		return 1;
	if (hex == n && n >= 16 && digits)
		return 1;
	/* long opaque tokens (base64 ids, slugs with numbers) */
	return n >= 24 && digits >= 2;
}

static int seg_next(const char **p, const char **seg, size_t *len)
{
	if (**p != '/')
		return 0;
	(*p)++;
	*seg = *p;
	while (**p && **p != '/')
		(*p)++;
	*len = (size_t)(*p - *seg);
	return 1;
}

static int pattern_match(const char *pat, const char *path)
{
	const char *ps, *ts;
	size_t pl, tl;

	for (;;) {
		int hp = seg_next(&pat, &ps, &pl);
		if (hp && pl == 1 && ps[0] == '*' && !*pat)
			return 1;
		int ht = seg_next(&path, &ts, &tl);
		if (!hp || !ht)
			return !hp && !ht;
		if (pl >= 2 && ps[0] == '{' && ps[pl - 1] == '}') {
			if (tl == 0)
				return 0;
			continue;
		}
		if (pl != tl || memcmp(ps, ts, pl))
			return 0;
	}
}

void route_template(const struct route_table *t, const char *target, char *out, size_t outlen)
{
	char path[ROUTE_MAX_LEN * 2];
	size_t o = 0;
	int nseg = 0;

	route_path(target, path, sizeof(path));
	if (path[0] != '/') {
		/* "*" (OPTIONS) or something odd: never echo it */
		snprintf(out, outlen, "%s", strcmp(path, "*") ? "/" : "*");
		return;
	}
	for (size_t i = 0; t && i < t->n; i++) {
		if (pattern_match(t->pat[i], path)) {
			snprintf(out, outlen, "%s", t->pat[i]);
			return;
		}
	}
	const char *p = path, *seg;
	size_t len;
	while (seg_next(&p, &seg, &len)) {
		const char *rep = seg;
		size_t rl = len;
		if (++nseg > ROUTE_MAX_SEGMENTS) {
			rep = "{rest}";
			rl = 6;
		} else if (is_id(seg, len)) {
			rep = "{id}";
			rl = 4;
		}
		if (o + 1 + rl >= outlen || o + 1 + rl >= ROUTE_MAX_LEN) {
			rep = "{rest}";
			rl = 6;
			if (o + 1 + rl >= outlen) {
				break;
			}
			nseg = ROUTE_MAX_SEGMENTS + 1;
		}
		out[o++] = '/';
		memcpy(out + o, rep, rl);
		o += rl;
		if (nseg > ROUTE_MAX_SEGMENTS)
			break;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
}

const char *route_method(const char *method)
{
	static const char *const known[] = {"GET",     "HEAD",	  "POST",  "PUT",  "DELETE",
					    "CONNECT", "OPTIONS", "TRACE", "PATCH"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(method, known[i]))
			return known[i];
	return "_OTHER";
}

void route_host(const char *host, char *out, size_t outlen, unsigned *port)
{
	const char *end = host + strlen(host), *colon;
	size_t n;

	*port = 0;
	if (host[0] == '[') { /* [v6]:port */
		const char *rb = strchr(host, ']');
		colon = rb && rb[1] == ':' ? rb + 1 : NULL;
		host++;
		end = rb ? rb : end;
	} else {
		colon = strrchr(host, ':');
		if (colon)
			end = colon;
	}
	if (colon) {
		unsigned p = 0;
		const char *c = colon + 1;
		for (; *c >= '0' && *c <= '9' && p < 65536; c++)
			p = p * 10 + (unsigned)(*c - '0');
		if (!*c && p > 0 && p < 65536)
			*port = p;
	}
	n = (size_t)(end - host);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, host, n);
	out[n] = 0;
}

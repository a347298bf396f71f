/*
 * route - reduce a request path to a low-cardinality `http.route`.
 * Pure: shared by the collector, unit tests and fuzzers.
 *
 * User patterns come first (for example /users/{id}/orders/{order} or /static/ followed by a star):
 * a `{name}` segment matches any one segment, a final `*` matches the
 * rest. Otherwise the path is templated segment by segment: numbers,
 * UUIDs, hex hashes (16+ hex digits) and long tokens with digits become
 * `{id}`. The query string and fragment are always dropped (they can carry
 * PII); at most ROUTE_MAX_SEGMENTS segments are kept, the rest becomes
 * `/{rest}`.
 */
#ifndef OBS_ROUTE_H
#define OBS_ROUTE_H
#include <stddef.h>

#define ROUTE_MAX_PATTERNS 64
#define ROUTE_MAX_LEN	   128
#define ROUTE_MAX_SEGMENTS 8

struct route_table {
	size_t n;
	char pat[ROUTE_MAX_PATTERNS][ROUTE_MAX_LEN];
};

void route_table_init(struct route_table *t);
/* Add one pattern; returns -1 (and an error text) if it is not a valid pattern. */
int route_table_add(struct route_table *t, const char *pattern, char *err, size_t errlen);
/* Comma-separated patterns (OBS_HTTP_ROUTES); -1 on the first bad one. */
int route_table_add_list(struct route_table *t, const char *list, char *err, size_t errlen);
/* The inverse: t's patterns comma-separated into out (truncated to outlen,
 * always NUL-terminated); the length. */
#define ROUTE_LIST_MAX (ROUTE_MAX_PATTERNS * (ROUTE_MAX_LEN + 1))
size_t route_table_join(const struct route_table *t, char *out, size_t outlen);

/* Path without query/fragment into out (always NUL-terminated). */
void route_path(const char *target, char *out, size_t outlen);
/* The route for a request target; t may be NULL. */
void route_template(const struct route_table *t, const char *target, char *out, size_t outlen);

/* The method as semantic conventions report it: one of the RFC 9110/5789
 * methods, or "_OTHER" (keeps metric cardinality bounded). */
const char *route_method(const char *method);
/* Host header value without the port; *port set (0 if none). */
void route_host(const char *host, char *out, size_t outlen, unsigned *port);

#endif

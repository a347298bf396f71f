/* Unit tests: route templating, user patterns, host/method helpers (route.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "route.h"

static void check(const struct route_table *t, const char *in, const char *want)
{
	char out[ROUTE_MAX_LEN];

	route_template(t, in, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_templates(void **st)
{
	(void)st;
	check(NULL, "/", "/");
	check(NULL, "/users/42", "/users/{id}");
	check(NULL, "/users/42/orders/7?token=secret#x", "/users/{id}/orders/{id}");
	check(NULL, "/o/550e8400-e29b-41d4-a716-446655440000", "/o/{id}");
	check(NULL, "/blob/da39a3ee5e6b4b0d3255bfef95601890afd80709", "/blob/{id}");
	check(NULL, "/static/app.js", "/static/app.js");
	check(NULL, "/v1/health", "/v1/health");
	check(NULL, "/deadbeef", "/deadbeef"); /* short hex words stay */
	check(NULL, "/t/aGVsbG8gd29ybGQxMjM0NTY3ODkw", "/t/{id}");
	check(NULL, "/a/b/c/d/e/f/g/h/i/j", "/a/b/c/d/e/f/g/h/{rest}");
	check(NULL, "http://example.com/p/1?x", "/p/{id}");
	check(NULL, "*", "*");
	check(NULL, "weird", "/");
	check(NULL, "/?q=only-query", "/");
}

static void test_patterns(void **st)
{
	(void)st;
	struct route_table t;
	char err[128];

	route_table_init(&t);
	assert_int_equal(
	    route_table_add_list(&t, "/users/{user}/orders/{order}, /static/*", err, sizeof(err)),
	    0);
	check(&t, "/users/ann/orders/abc?x=1", "/users/{user}/orders/{order}");
	check(&t, "/static/css/site.css", "/static/*");
	check(&t, "/users/ann", "/users/ann");
	assert_int_equal(route_table_add(&t, "nope", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "start with '/'"));
	assert_int_equal(route_table_add(&t, "/a/*/b", err, sizeof(err)), -1);
	assert_int_equal(route_table_add(&t, "/a?b", err, sizeof(err)), -1);
}

static void test_helpers(void **st)
{
	(void)st;
	char h[64];
	unsigned port;

	assert_string_equal(route_method("GET"), "GET");
	assert_string_equal(route_method("PATCH"), "PATCH");
	assert_string_equal(route_method("BREW"), "_OTHER");
	route_host("example.com:8080", h, sizeof(h), &port);
	assert_string_equal(h, "example.com");
	assert_int_equal(port, 8080);
	route_host("[::1]:443", h, sizeof(h), &port);
	assert_string_equal(h, "::1");
	assert_int_equal(port, 443);
	route_host("host", h, sizeof(h), &port);
	assert_string_equal(h, "host");
	assert_int_equal(port, 0);
	route_host("h:99999", h, sizeof(h), &port);
	assert_int_equal(port, 0);
}

/* route_table_join is route_table_add_list's inverse (OBS_SHIM_ROUTES,
 * the agent's routes file) */
static void test_join(void **st)
{
	(void)st;
	struct route_table t, back;
	char list[ROUTE_LIST_MAX], err[128], small[12];

	route_table_init(&t);
	assert_int_equal(route_table_join(&t, list, sizeof(list)), 0);
	assert_string_equal(list, "");
	assert_int_equal(
	    route_table_add_list(&t, "/users/{id}, /static/*,/a/{b}/c", err, sizeof(err)), 0);
	assert_int_equal(route_table_join(&t, list, sizeof(list)), 30);
	assert_string_equal(list, "/users/{id},/static/*,/a/{b}/c");
	route_table_init(&back);
	assert_int_equal(route_table_add_list(&back, list, err, sizeof(err)), 0);
	assert_int_equal(back.n, t.n);
	for (size_t i = 0; i < t.n; i++)
		assert_string_equal(back.pat[i], t.pat[i]);
	route_table_join(&t, small, sizeof(small)); /* truncated, terminated */
	assert_string_equal(small, "/users/{id}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_templates), cmocka_unit_test(test_patterns),
	    cmocka_unit_test(test_helpers), cmocka_unit_test(test_join)};
	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}

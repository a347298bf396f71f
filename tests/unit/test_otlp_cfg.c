/* Unit tests: the OTLP exporter's configuration (otlp_cfg.c): the traces
 * URL from a base, and endpoints as they may be logged (credentials in the
 * URL's userinfo never reach a log or an error message). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "otlp.h"

static void shown(const char *url, const char *want)
{
	char out[256];

	otlp_url_shown(url, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_url_shown(void **st)
{
	(void)st;
	shown("https://collector:4318/v1/traces", "https://collector:4318/v1/traces");
	shown("https://user:s3cret@collector:4318/v1/traces",
	      "https://***@collector:4318/v1/traces");
	shown("http://a@b@collector/v1/traces", "http://***@collector/v1/traces");
	/* an @ after the host is a path's, not userinfo */
	shown("http://collector/v1/traces?x=a@b", "http://collector/v1/traces?x=a@b");
	shown("http://tok@en", "http://***@en");
	shown(NULL, "(none)");
	shown("collector:4318", "collector:4318");
}

static void test_bad_endpoint_error_redacted(void **st)
{
	(void)st;
	struct otlp_cfg c;
	char store[4096], err[512];

	otlp_cfg_init(&c);
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://user:s3cret@host/v1/traces", 1);
	assert_int_equal(otlp_cfg_from_env(&c, store, sizeof(store), err, sizeof(err)), -1);
	assert_null(strstr(err, "s3cret"));
	assert_non_null(strstr(err, "ftp://***@host"));
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
}

static void test_traces_url(void **st)
{
	(void)st;
	char out[256];

	otlp_traces_url("http://c:4318", out, sizeof(out));
	assert_string_equal(out, "http://c:4318/v1/traces");
	otlp_traces_url("http://c:4318/", out, sizeof(out));
	assert_string_equal(out, "http://c:4318/v1/traces");
	otlp_traces_url("http://c:4318/v1/traces", out, sizeof(out));
	assert_string_equal(out, "http://c:4318/v1/traces");
}

/* The TLS files: the signal's own variable over the general one, checked
 * readable, a certificate only with its key, and only for https://. */
static void test_tls_files(void **st)
{
	(void)st;
	struct otlp_cfg c;
	char store[4096], err[512];

	otlp_cfg_init(&c);
	assert_int_equal(otlp_cfg_env_tls(), 0);
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318", 1);
	setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/hostname", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/etc/passwd", 1);
	assert_int_equal(otlp_cfg_env_tls(), 1);
	assert_int_equal(otlp_cfg_from_env(&c, store, sizeof(store), err, sizeof(err)), 0);
	assert_string_equal(c.ca_file, "/etc/passwd");
	assert_null(c.cert_file);
	assert_int_equal(otlp_cfg_check_tls(&c, err, sizeof(err)), 0);
	c.cert_file = "/etc/passwd"; /* without its key */
	assert_int_equal(otlp_cfg_check_tls(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "needs its key"));
	c.key_file = "/nonexistent/key.pem";
	assert_int_equal(otlp_cfg_check_tls(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/key.pem: No such file or directory"));
	c.cert_file = c.key_file = NULL;
	c.endpoint = "http://collector:4318/v1/traces";
	assert_int_equal(otlp_cfg_check_tls(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not https://"));
	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	unsetenv("OTEL_EXPORTER_OTLP_CERTIFICATE");
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE");
	assert_int_equal(otlp_cfg_env_tls(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_shown), cmocka_unit_test(test_bad_endpoint_error_redacted),
	    cmocka_unit_test(test_traces_url), cmocka_unit_test(test_tls_files)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

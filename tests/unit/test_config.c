/* Unit tests: the config file (every error names the key and its line),
 * layering (file < environment < flags), reload diffs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static struct obs_config cfg;
static char err[1024];

static int parse(const char *yaml)
{
	config_defaults(&cfg, OBS_CMD_RUN);
	err[0] = 0;
	return config_parse(&cfg, yaml, strlen(yaml), "obs.yaml", err, sizeof(err));
}

/* The parse fails, and the message starts with "obs.yaml:LINE: " and holds want. */
static void fails_at(const char *yaml, int line, const char *want)
{
	char prefix[32];

	if (!parse(yaml))
		fail_msg("accepted: %s", yaml);
	snprintf(prefix, sizeof(prefix), "obs.yaml:%d: ", line);
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, want))
		fail_msg("yaml:\n%s\nerror: %s\nwanted %s...%s", yaml, err, prefix, want);
}

static void defaults(void **state)
{
	(void)state;
	assert_int_equal(parse(""), 0);
	assert_string_equal(cfg.metrics_host, "127.0.0.1");
	assert_int_equal(cfg.metrics_port, 9464);
	assert_string_equal(cfg.metrics_path, "/metrics");
	assert_true(cfg.metrics_enabled);
	assert_true(cfg.tracing_enabled);
	assert_true(cfg.sampling_ratio < 0); /* obs-run: the process's own sampler */
	assert_int_equal(cfg.max_series, OBS_DEFAULT_SERIES_LIMIT);
	assert_int_equal(cfg.probes, OBS_PROBE_ALL);
	assert_int_equal(cfg.log_format, LOG_FORMAT_TEXT);
	config_defaults(&cfg, OBS_CMD_AGENT);
	assert_true(cfg.sampling_ratio == 0.1); /* agent: 10% of new traces */
	/* comments only, and a bare "~": still every default */
	assert_int_equal(parse("# nothing\n"), 0);
	assert_int_equal(parse("~\n"), 0);
	assert_int_equal(parse("metrics:\ntracing: ~\n"), 0);
}

static void full_file(void **state)
{
	(void)state;
	assert_int_equal(parse("service: checkout\n"
			       "metrics:\n"
			       "  enabled: true\n"
			       "  listen: \"0.0.0.0:9100\"\n"
			       "  path: /prom\n"
			       "  auth:\n"
			       "    bearer_token_file: /etc/obs/token\n"
			       "    basic_auth: {username: prom, password_file: /etc/obs/pw}\n"
			       "  tls:\n"
			       "    cert_file: /etc/obs/tls.crt\n"
			       "    key_file: /etc/obs/tls.key\n"
			       "tracing:\n"
			       "  endpoint: https://otel:4318\n"
			       "  headers:\n"
			       "    x-api-key: abc\n"
			       "    Authorization: Bearer xyz\n"
			       "  compression: gzip\n"
			       "  timeout: 2500ms\n"
			       "  sampling_ratio: 0.25\n"
			       "  spans_file: /var/log/spans.jsonl\n"
			       "logging: {level: debug, format: json}\n"
			       "health:\n"
			       "  stall_timeout: 30s\n"
			       "cardinality:\n"
			       "  max_series: 50000\n"
			       "routes:\n"
			       "  - /users/{id}\n"
			       "  - /static/*\n"
			       "probes: [syscall, tcp]\n"),
			 0);
	assert_string_equal(cfg.service, "checkout");
	assert_string_equal(cfg.metrics_host, "0.0.0.0");
	assert_int_equal(cfg.metrics_port, 9100);
	assert_string_equal(cfg.metrics_path, "/prom");
	assert_string_equal(cfg.bearer_token_file, "/etc/obs/token");
	assert_string_equal(cfg.basic_username, "prom");
	assert_string_equal(cfg.basic_password_file, "/etc/obs/pw");
	assert_string_equal(cfg.tls_cert_file, "/etc/obs/tls.crt");
	assert_string_equal(cfg.tracing_endpoint, "https://otel:4318");
	assert_int_equal(cfg.nheaders, 2);
	assert_string_equal(cfg.headers[1].name, "Authorization");
	assert_string_equal(cfg.headers[1].value, "Bearer xyz");
	assert_int_equal(cfg.compression, 1);
	assert_int_equal(cfg.tracing_timeout_ms, 2500);
	assert_true(cfg.sampling_ratio == 0.25);
	assert_int_equal(cfg.sampling_origin, CONFIG_FILE);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.log_format, LOG_FORMAT_JSON);
	assert_true(cfg.stall_timeout_s == 30);
	assert_int_equal(cfg.max_series, 50000);
	assert_int_equal(cfg.routes.n, 2);
	assert_string_equal(cfg.routes.pat[1], "/static/*");
	assert_int_equal(cfg.probes, OBS_PROBE_SYSCALL | OBS_PROBE_TCP);
	/* lines are remembered for later messages */
	assert_int_equal(config_line(&cfg, "metrics.listen"), 4);
	assert_int_equal(config_line(&cfg, "metrics.auth.basic_auth.username"), 8);
	assert_int_equal(config_line(&cfg, "probes"), 29);
	assert_int_equal(config_line(&cfg, "nothing"), 0);
}

/* Every error path: the key and the line are named. */
static void errors_name_key_and_line(void **state)
{
	(void)state;
	fails_at("metrics:\n  listen: 127.0.0.1:9464\n  lsten: x\n", 3,
		 "unknown key 'metrics.lsten' in metrics (known here: enabled, listen, path");
	fails_at("metrcs:\n  listen: x\n", 1, "unknown key 'metrcs' (known here: service, metrics");
	fails_at("\n\nmetrics:\n  listen: nope\n", 4, "metrics.listen: 'nope': expected HOST:PORT");
	fails_at("metrics:\n  listen: 127.0.0.1:99999\n", 2, "metrics.listen");
	fails_at("metrics:\n  enabled: maybe\n", 2,
		 "metrics.enabled: 'maybe': expected true or false");
	fails_at("metrics:\n  path: metrics\n", 2, "metrics.path: 'metrics': expected a URL path");
	fails_at("metrics:\n  path: /readyz\n", 2, "metrics.path: '/readyz' is the health");
	fails_at("metrics:\n  auth:\n    bearer_token_file: \"\"\n", 3,
		 "metrics.auth.bearer_token_file: empty");
	fails_at("metrics:\n  auth:\n    basic_auth:\n      username: \"a:b\"\n", 4,
		 "metrics.auth.basic_auth.username: 'a:b'");
	fails_at("metrics:\n  auth:\n    bearer_token_file: [a, b]\n", 3,
		 "metrics.auth.bearer_token_file: expected a file path, got a list");
	fails_at("metrics:\n  tls: yes\n", 2, "metrics.tls: expected a mapping");
	fails_at("tracing:\n  endpoint: otel:4318\n", 2,
		 "tracing.endpoint: 'otel:4318': expected an http:// or https:// URL");
	fails_at("tracing:\n  sampling_ratio: 1.5\n", 2,
		 "tracing.sampling_ratio: '1.5': expected a number from 0 to 1");
	fails_at("tracing:\n  sampling_ratio: -0.1\n", 2, "tracing.sampling_ratio");
	fails_at("tracing:\n  sampling_ratio: nan\n", 2, "tracing.sampling_ratio");
	fails_at("tracing:\n  sampling_ratio: 10%\n", 2, "tracing.sampling_ratio");
	fails_at("tracing:\n  compression: zstd\n", 2,
		 "tracing.compression: 'zstd': expected gzip");
	fails_at("tracing:\n  timeout: soon\n", 2, "tracing.timeout: 'soon'");
	fails_at("tracing:\n  headers:\n    \"bad header\": x\n", 3,
		 "tracing.headers: 'bad header' is not a valid HTTP header name");
	fails_at("tracing:\n  headers: [a]\n", 2, "tracing.headers: expected a mapping");
	fails_at("tracing:\n  headers:\n    x-a: \"1\\r\\nInjected: yes\"\n", 3,
		 "tracing.headers: the value of x-a has a line break");
	fails_at("logging:\n  level: verbose\n", 2,
		 "logging.level: 'verbose': expected error, warn");
	fails_at("logging:\n  format: xml\n", 2, "logging.format: 'xml': expected json or text");
	fails_at("health:\n  stall_timeout: 0s\n", 2, "health.stall_timeout: '0s'");
	fails_at("cardinality:\n  max_series: 10\n", 2,
		 "cardinality.max_series: '10': expected an integer from 100");
	fails_at("cardinality:\n  max_series: -5\n", 2, "cardinality.max_series");
	fails_at("cardinality:\n  max_series: 1e9\n", 2, "cardinality.max_series");
	fails_at("routes:\n  - /ok\n  - nope\n", 3, "routes: ");
	fails_at("routes: /one\n", 1, "routes: expected a list of route patterns");
	fails_at("probes: [syscall, gpu]\n", 1, "probes: unknown probe 'gpu'");
	fails_at("probes: [\"syscall,disk\"]\n", 1, "probes: unknown probe 'syscall,disk'");
	fails_at("probes: {a: 1}\n", 1, "probes: expected a list");
	fails_at("service: \"\"\n", 1, "service: empty");
	fails_at("logging:\n  level: info\nlogging:\n  format: json\n", 3,
		 "logging: duplicate key");
	fails_at("metrics:\n  listen: :1\n  listen: :2\n", 3, "metrics.listen: duplicate key");
	fails_at("- a\n- b\n", 1, "expected a mapping of keys to values");
	fails_at("metrics: 5\n", 1, "metrics: expected a mapping");
	fails_at("{a: [}\n", 1, "invalid YAML");
	fails_at("metrics:\n  listen: \"unterminated\n", 3, "invalid YAML");
	fails_at("a: 1\n\tb: 2\n", 2, "invalid YAML");
	fails_at("service: x\n---\nservice: y\n", 2, "a second YAML document");
	fails_at("[1, 2]: x\n", 1, "expected a key name, got a list");
	fails_at("service: &a x\nmetrics: *a\n", 2, "metrics: expected a mapping");
	/* a long value is refused, not cut */
	char big[600];
	memset(big, 'a', sizeof(big));
	memcpy(big, "service: ", 9);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = 0;
	fails_at(big, 1, "service: too long (at most 127 bytes)");
}

/* A failed parse names a line even in a long file. */
static void error_line_deep(void **state)
{
	char yaml[4096] = "";

	(void)state;
	for (int i = 0; i < 40; i++)
		strcat(yaml, "# comment line\n");
	strcat(yaml, "tracing:\n  enabled: nah\n");
	fails_at(yaml, 42, "tracing.enabled: 'nah'");
}

static const char *fake_env[][2] = {{NULL, NULL}, {NULL, NULL}, {NULL, NULL}, {NULL, NULL}};

static const char *fake_getenv(const char *name)
{
	for (size_t i = 0; i < sizeof(fake_env) / sizeof(fake_env[0]); i++)
		if (fake_env[i][0] && !strcmp(fake_env[i][0], name))
			return fake_env[i][1];
	return NULL;
}

static void set_env(size_t i, const char *k, const char *v)
{
	fake_env[i][0] = k;
	fake_env[i][1] = v;
}

static void layering(void **state)
{
	struct obs_opts o;
	char *argv[] = {"obs-run", "--metrics-addr", "127.0.0.1:7000", "--", "true", NULL};

	(void)state;
	/* file, then environment over it */
	assert_int_equal(parse("metrics:\n  listen: 127.0.0.1:5000\n"
			       "logging:\n  level: warn\n"
			       "tracing:\n  sampling_ratio: 0.5\n"
			       "cardinality:\n  max_series: 500\n"),
			 0);
	set_env(0, "OBS_METRICS_ADDR", "127.0.0.1:6000");
	set_env(1, "OBS_LOG", "debug");
	set_env(2, "OTEL_TRACES_SAMPLER", "parentbased_traceidratio");
	set_env(3, "OTEL_TRACES_SAMPLER_ARG", "0.125");
	assert_int_equal(config_apply_env(&cfg, fake_getenv, err, sizeof(err)), 0);
	assert_int_equal(cfg.metrics_port, 6000);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_true(cfg.sampling_ratio == 0.125);
	assert_int_equal(cfg.sampling_origin, CONFIG_ENV);
	assert_int_equal(cfg.max_series, 500); /* not in the environment: the file's */
	/* then flags over both */
	assert_int_equal(cli_parse(5, argv, &o, err, sizeof(err)), 0);
	assert_int_equal(config_apply_opts(&cfg, &o, err, sizeof(err)), 0);
	assert_int_equal(cfg.metrics_port, 7000);
	assert_int_equal(cfg.log_level, LOG_DEBUG); /* no flag: the environment's */
	/* bad environment values are named */
	set_env(0, "OBS_MAX_SERIES", "lots");
	set_env(1, NULL, NULL);
	set_env(2, NULL, NULL);
	set_env(3, NULL, NULL);
	assert_int_equal(config_apply_env(&cfg, fake_getenv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "OBS_MAX_SERIES=lots"));
	set_env(0, "OBS_LOG_FORMAT", "yaml");
	assert_int_equal(config_apply_env(&cfg, fake_getenv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "OBS_LOG_FORMAT=yaml"));
	set_env(0, "OBS_HTTP_ROUTES", "nope");
	assert_int_equal(config_apply_env(&cfg, fake_getenv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "OBS_HTTP_ROUTES"));
	set_env(0, NULL, NULL);
}

static void flags(void **state)
{
	struct obs_opts o;
	char *argv[] = {"obs-run",     "--sample-ratio", "0.3", "--log-format", "json",
			"--log-level", "warn",		 "--",	"true",		NULL};
	char *bad[] = {"obs-run", "--sample-ratio", "2", "--", "true", NULL};
	char *badfmt[] = {"obs-run", "--log-format", "xml", "--", "true", NULL};

	(void)state;
	assert_int_equal(parse("tracing:\n  sampling_ratio: 0.9\n"), 0);
	assert_int_equal(cli_parse(9, argv, &o, err, sizeof(err)), 0);
	assert_int_equal(config_apply_opts(&cfg, &o, err, sizeof(err)), 0);
	assert_true(cfg.sampling_ratio == 0.3);
	assert_int_equal(cfg.sampling_origin, CONFIG_FLAG);
	assert_int_equal(cfg.log_format, LOG_FORMAT_JSON);
	assert_int_equal(cfg.log_level, LOG_WARN);
	assert_int_equal(cli_parse(5, bad, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--sample-ratio '2'"));
	assert_int_equal(cli_parse(5, badfmt, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--log-format 'xml'"));
	/* a --route that starts right but is no pattern: refused, not dropped */
	char *route[] = {"obs-run", "--route", "/a/*/b", "--", "true", NULL};
	assert_int_equal(cli_parse(5, route, &o, err, sizeof(err)), 0);
	assert_int_equal(config_apply_opts(&cfg, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'*' is only allowed as the last segment (in --route)"));
}

static void config_command_line(void **state)
{
	struct obs_opts o;
	char *ok[] = {"obs", "config", "check", "/etc/obs.yaml", NULL};
	char *none[] = {"obs", "config", NULL};
	char *nofile[] = {"obs", "config", "check", NULL};
	char *what[] = {"obs", "config", "lint", "x", NULL};

	(void)state;
	assert_int_equal(cli_parse(4, ok, &o, err, sizeof(err)), 0);
	assert_int_equal(o.cmd, OBS_CMD_CONFIG);
	assert_string_equal(o.config_file, "/etc/obs.yaml");
	assert_int_equal(cli_parse(2, none, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing config action"));
	assert_int_equal(cli_parse(3, nofile, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing FILE"));
	assert_int_equal(cli_parse(4, what, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown config action 'lint'"));
}

static void files_checked(void **state)
{
	char tmpl[] = "/tmp/obs-test-XXXXXX";
	int fd = mkstemp(tmpl);
	char yaml[512];

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	/* readable file: fine */
	snprintf(yaml, sizeof(yaml), "metrics:\n  auth:\n    bearer_token_file: %s\n", tmpl);
	assert_int_equal(parse(yaml), 0);
	assert_int_equal(config_check_files(&cfg, err, sizeof(err)), 0);
	/* missing file: key and line */
	assert_int_equal(parse("metrics:\n  auth:\n    bearer_token_file: /nonexistent/tok\n"), 0);
	snprintf(cfg.file, sizeof(cfg.file), "obs.yaml");
	assert_int_equal(config_check_files(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "obs.yaml:3: metrics.auth.bearer_token_file: cannot read"));
	/* TLS needs both halves */
	snprintf(yaml, sizeof(yaml), "metrics:\n  tls:\n    cert_file: %s\n", tmpl);
	assert_int_equal(parse(yaml), 0);
	snprintf(cfg.file, sizeof(cfg.file), "obs.yaml");
	assert_int_equal(config_check_files(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "obs.yaml:3: metrics.tls.cert_file: set without "
				    "metrics.tls.key_file: TLS needs both"));
	/* basic auth needs user and password file */
	assert_int_equal(parse("metrics:\n  auth:\n    basic_auth:\n      username: u\n"), 0);
	snprintf(cfg.file, sizeof(cfg.file), "obs.yaml");
	assert_int_equal(config_check_files(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "obs.yaml:4: metrics.auth.basic_auth.username: set without"));
	unlink(tmpl);
}

static void reload_diff(void **state)
{
	struct obs_config a, b;
	char fixed[512];
	unsigned ch;

	(void)state;
	config_defaults(&a, OBS_CMD_RUN);
	b = a;
	assert_int_equal(config_diff(&a, &b, fixed, sizeof(fixed)), 0);
	assert_string_equal(fixed, "");
	b.log_level = LOG_DEBUG;
	b.sampling_ratio = 0.5;
	snprintf(b.bearer_token_file, sizeof(b.bearer_token_file), "/t");
	b.max_series = 200;
	b.metrics_port = 1;
	b.probes = OBS_PROBE_DISK;
	snprintf(b.tracing_endpoint, sizeof(b.tracing_endpoint), "http://x");
	ch = config_diff(&a, &b, fixed, sizeof(fixed));
	assert_int_equal(ch, CONFIG_RELOAD_LOGGING | CONFIG_RELOAD_SAMPLING | CONFIG_RELOAD_AUTH |
				 CONFIG_RELOAD_LIMITS);
	assert_string_equal(fixed, "metrics.listen, tracing.endpoint, probes");
	/* taking the reloadable part leaves the fixed part running */
	config_take_reloadable(&a, &b);
	assert_int_equal(a.log_level, LOG_DEBUG);
	assert_int_equal(a.max_series, 200);
	assert_int_equal(a.metrics_port, 9464);
	assert_int_equal(a.probes, OBS_PROBE_ALL);
	route_table_add(&b.routes, "/a/{id}", fixed, sizeof(fixed));
	assert_int_equal(config_diff(&a, &b, fixed, sizeof(fixed)) & CONFIG_RELOAD_ROUTES,
			 CONFIG_RELOAD_ROUTES);
}

/* Other certificate files reload; turning TLS on or off needs a restart. */
static void reload_diff_tls(void **state)
{
	struct obs_config a, b;
	char fixed[512];

	(void)state;
	config_defaults(&a, OBS_CMD_RUN);
	b = a;
	snprintf(b.tls_cert_file, sizeof(b.tls_cert_file), "/c1");
	snprintf(b.tls_key_file, sizeof(b.tls_key_file), "/k1");
	assert_int_equal(config_diff(&a, &b, fixed, sizeof(fixed)), 0);
	assert_string_equal(fixed, "metrics.tls");
	config_take_reloadable(&a, &b);
	assert_string_equal(a.tls_cert_file, ""); /* still plain HTTP */
	a = b;
	snprintf(b.tls_key_file, sizeof(b.tls_key_file), "/k2");
	assert_int_equal(config_diff(&a, &b, fixed, sizeof(fixed)), CONFIG_RELOAD_TLS);
	assert_string_equal(fixed, "");
	config_take_reloadable(&a, &b);
	assert_string_equal(a.tls_key_file, "/k2");
	b.tls_cert_file[0] = b.tls_key_file[0] = 0;
	assert_int_equal(config_diff(&a, &b, fixed, sizeof(fixed)), 0);
	assert_string_equal(fixed, "metrics.tls");
}

static void describe_hides_secrets(void **state)
{
	struct sbuf b;

	(void)state;
	assert_int_equal(parse("tracing:\n  headers:\n    authorization: Bearer sekrit\n"
			       "metrics:\n  auth:\n    bearer_token_file: /etc/tok\n"),
			 0);
	sbuf_init(&b);
	config_describe(&cfg, &b);
	assert_null(strstr(b.buf, "sekrit"));
	assert_non_null(strstr(b.buf, "authorization: ***"));
	assert_non_null(strstr(b.buf, "/etc/tok   # line 6"));
	sbuf_free(&b);
}

/* services: the identity rule's settings, their errors, reload, describe */
static void services(void **state)
{
	struct obs_config a;
	struct sbuf b;
	char fixed[512];

	(void)state;
	assert_int_equal(parse(""), 0);
	assert_true(cfg.services.short_lived_s == 5);
	assert_string_equal(cfg.services.pod_logs, "/var/log/containers");
	assert_int_equal(parse("services:\n"
			       "  short_lived: 0\n"
			       "  pod_logs: /k/logs\n"
			       "  by_cgroup:\n"
			       "    \"*/backup.service\": backup\n"
			       "  by_exe:\n"
			       "    \"job*\": batch\n"
			       "    curl: probes\n"),
			 0);
	assert_true(cfg.services.short_lived_s == 0);
	assert_string_equal(cfg.services.pod_logs, "/k/logs");
	assert_int_equal(cfg.services.n, 3);
	assert_int_equal(cfg.services.r[0].what, SVCID_BY_CGROUP);
	assert_string_equal(cfg.services.r[0].pattern, "*/backup.service");
	assert_string_equal(cfg.services.r[2].service, "probes");
	sbuf_init(&b);
	config_describe(&cfg, &b);
	assert_non_null(strstr(b.buf, "job*=batch, curl=probes"));
	assert_non_null(strstr(b.buf, "services.short_lived                     0s"));
	sbuf_free(&b);
	/* a reload applies them */
	config_defaults(&a, OBS_CMD_AGENT);
	assert_int_equal(config_diff(&a, &cfg, fixed, sizeof(fixed)) & CONFIG_RELOAD_SERVICES,
			 CONFIG_RELOAD_SERVICES);
	config_take_reloadable(&a, &cfg);
	assert_true(svcid_rules_equal(&a.services, &cfg.services));

	fails_at("services:\n  short_lived: soon\n", 2, "services.short_lived: 'soon': expected");
	fails_at("services:\n  short_lived: 2h\n", 2, "expected a duration such as 5s, or 0");
	fails_at("services:\n  pod_logs: logs\n", 2, "expected an absolute directory path");
	fails_at("services:\n  by_exe: job\n", 2,
		 "services.by_exe: expected a mapping of executable name patterns");
	fails_at("services:\n  by_exe:\n    job: \"\"\n", 3, "service for 'job' is empty");
	fails_at("services:\n  by_cgroup:\n    x: [a]\n", 3, "expected a service name");
	fails_at("services:\n  by_name: {}\n", 2, "known here: short_lived, pod_logs, by_cgroup");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults),
	    cmocka_unit_test(full_file),
	    cmocka_unit_test(errors_name_key_and_line),
	    cmocka_unit_test(error_line_deep),
	    cmocka_unit_test(layering),
	    cmocka_unit_test(flags),
	    cmocka_unit_test(config_command_line),
	    cmocka_unit_test(files_checked),
	    cmocka_unit_test(reload_diff),
	    cmocka_unit_test(reload_diff_tls),
	    cmocka_unit_test(describe_hides_secrets),
	    cmocka_unit_test(services),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

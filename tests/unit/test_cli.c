/* Unit tests: command-line parsing and its error messages (cli.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

static int parse(struct obs_opts *o, char *err, int argc, char **argv)
{
	err[0] = '\0';
	return cli_parse(argc, argv, o, err, 256);
}

#define ARGV(...)                                                                                  \
	(char *[])                                                                                 \
	{                                                                                          \
		__VA_ARGS__, NULL                                                                  \
	}
#define N(...)		   (int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *))
#define PARSE(o, err, ...) parse(o, err, N(__VA_ARGS__), ARGV(__VA_ARGS__))

static void run_defaults(void **state)
{
	struct obs_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, err, "/usr/bin/obs-run", "nginx", "-g", "daemon off;"), 0);
	assert_int_equal(o.cmd, OBS_CMD_RUN);
	assert_int_equal(o.cmd_argc, 3);
	assert_string_equal(o.cmd_argv[0], "nginx");
	assert_string_equal(o.cmd_argv[1], "-g"); /* CMD's own options are left alone */
	assert_string_equal(o.metrics_host, "127.0.0.1");
	assert_int_equal(o.metrics_port, 9464);
	assert_int_equal(o.summary, 1);
	assert_int_equal(o.series_limit, 10000);
	assert_int_equal(o.probes, OBS_PROBE_ALL);
}

static void run_options(void **state)
{
	struct obs_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, err, "obs", "run", "--metrics-addr=:9000", "--no-summary",
			       "--probes", "syscall,disk", "--max-series", "500", "--", "ls", "-l"),
			 0);
	assert_string_equal(o.metrics_host, "");
	assert_int_equal(o.metrics_port, 9000);
	assert_int_equal(o.summary, 0);
	assert_int_equal(o.probes, OBS_PROBE_SYSCALL | OBS_PROBE_DISK);
	assert_int_equal(o.series_limit, 500);
	assert_string_equal(o.cmd_argv[0], "ls");
	assert_int_equal(PARSE(&o, err, "obs-run", "--metrics-addr", "[::1]:0", "true"), 0);
	assert_string_equal(o.metrics_host, "::1");
	assert_int_equal(o.metrics_port, 0);
}

static void errors(void **state)
{
	struct obs_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, err, "obs-run", "--bogus", "ls"), -1);
	assert_string_equal(err, "unknown option '--bogus'");
	assert_int_equal(PARSE(&o, err, "obs-run"), -1);
	assert_string_equal(err, "missing CMD to run");
	assert_int_equal(PARSE(&o, err, "obs-run", "--metrics-addr"), -1);
	assert_string_equal(err, "option '--metrics-addr' needs a value");
	assert_int_equal(PARSE(&o, err, "obs-run", "--metrics-addr", "9464", "ls"), -1);
	assert_non_null(strstr(err, "expected HOST:PORT"));
	assert_int_equal(PARSE(&o, err, "obs-run", "--metrics-addr", "h:70000", "ls"), -1);
	assert_int_equal(PARSE(&o, err, "obs-run", "--no-summary=1", "ls"), -1);
	assert_string_equal(err, "option '--no-summary' takes no value");
	assert_int_equal(PARSE(&o, err, "obs-run", "--probes", "disk,gpu", "ls"), -1);
	assert_non_null(strstr(err, "invalid --probes 'disk,gpu'"));
	assert_int_equal(PARSE(&o, err, "obs-run", "--max-series", "5", "ls"), -1);
	assert_int_equal(PARSE(&o, err, "obs"), -1);
	assert_string_equal(err, "missing command");
	assert_int_equal(PARSE(&o, err, "obs", "frobnicate"), -1);
	assert_string_equal(err, "unknown command 'frobnicate'");
	/* an option of another subcommand */
	assert_int_equal(PARSE(&o, err, "obs", "agent", "-p", "1"), -1);
	assert_string_equal(err, "unknown option '-p'");
	assert_int_equal(PARSE(&o, err, "obs", "agent", "extra"), -1);
	assert_string_equal(err, "unexpected argument 'extra'");
	/* obs check takes programs or pids to explain, after its options */
	assert_int_equal(PARSE(&o, err, "obs", "check", "-q", "nginx", "1234"), 0);
	assert_int_equal(o.cmd, OBS_CMD_CHECK);
	assert_int_equal(o.cmd_argc, 2);
	assert_string_equal(o.cmd_argv[1], "1234");
	assert_int_equal(o.quiet, 1);
	assert_int_equal(PARSE(&o, err, "obs", "check"), 0);
	assert_int_equal(o.cmd_argc, 0);
}

static void triage(void **state)
{
	struct obs_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, err, "obs", "triage", "-p", "42", "-d", "1500ms", "-i1s"), 0);
	assert_int_equal(o.pid, 42);
	assert_true(o.duration_s > 1.49 && o.duration_s < 1.51);
	assert_true(o.interval_s > 0.99 && o.interval_s < 1.01);
	assert_int_equal(PARSE(&o, err, "obs", "triage", "--all"), 0);
	assert_int_equal(o.all, 1);
	assert_true(o.duration_s == 10);
	assert_int_equal(PARSE(&o, err, "obs", "triage"), -1);
	assert_string_equal(err, "triage needs exactly one of -p PID, -c CGROUP, --all");
	assert_int_equal(PARSE(&o, err, "obs", "triage", "-p", "1", "--all"), -1);
	assert_int_equal(PARSE(&o, err, "obs", "triage", "-p", "abc"), -1);
	assert_string_equal(err, "invalid -p 'abc': expected a process id");
	assert_int_equal(PARSE(&o, err, "obs", "triage", "-p", "1", "-d", "5x"), -1);
	assert_int_equal(PARSE(&o, err, "obs", "triage", "-p", "1", "-d", "1", "-i", "2"), -1);
	assert_string_equal(err, "--interval is longer than --duration");
}

static void helpers(void **state)
{
	double d;
	unsigned m;

	(void)state;
	assert_int_equal(cli_parse_duration("2m", &d), 0);
	assert_true(d == 120);
	assert_int_equal(cli_parse_duration("-1", &d), -1);
	assert_int_equal(cli_parse_duration("", &d), -1);
	assert_int_equal(cli_parse_probes("all", &m), 0);
	assert_int_equal(m, OBS_PROBE_ALL);
	assert_int_equal(cli_parse_probes("tcp,runq", &m), 0);
	assert_int_equal(m, OBS_PROBE_TCP | OBS_PROBE_RUNQ);
	assert_int_equal(cli_parse_probes("tcp,", &m), 0);
	assert_int_equal(cli_parse_probes(",", &m), -1);
}

static void help_and_version(void **state)
{
	struct obs_opts o;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&o, err, "obs-run", "--help"), 0);
	assert_int_equal(o.help, 1);
	assert_non_null(strstr(cli_usage(OBS_CMD_RUN), "--metrics-addr"));
	assert_int_equal(PARSE(&o, err, "obs", "--version"), 0);
	assert_int_equal(o.cmd, OBS_CMD_VERSION);
	assert_int_equal(PARSE(&o, err, "obs", "triage", "-h"), 0);
	assert_int_equal(o.help, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(run_defaults), cmocka_unit_test(run_options),
	    cmocka_unit_test(errors),	    cmocka_unit_test(triage),
	    cmocka_unit_test(helpers),	    cmocka_unit_test(help_and_version),
	};
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}

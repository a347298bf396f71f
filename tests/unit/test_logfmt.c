/* Unit tests: obs's own log lines, text and JSON (valid JSON whatever the
 * message, fields named as documented). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "logfmt.h"

static struct log_record rec(const char *msg)
{
	struct log_record r = {.level = LOG_ERROR,
			       .logger = "obs-run",
			       .code = "metrics_listen_failed",
			       .msg = msg,
			       .pid = 42,
			       .ts = {.tv_sec = 1796314606, .tv_nsec = 123456789}};
	return r;
}

static void text(void **state)
{
	char buf[LOGFMT_LINE_MAX];
	struct log_record r = rec("cannot listen on 127.0.0.1:9464");

	(void)state;
	logfmt_line(buf, sizeof(buf), LOG_FORMAT_TEXT, &r);
	assert_string_equal(buf, "obs-run: error: cannot listen on 127.0.0.1:9464\n");
	r.level = LOG_INFO;
	r.msg = "two\nlines";
	logfmt_line(buf, sizeof(buf), LOG_FORMAT_TEXT, &r);
	assert_string_equal(buf, "obs-run: two lines\n");
	r.level = LOG_WARN;
	r.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
	r.span_id = "00f067aa0ba902b7";
	logfmt_line(buf, sizeof(buf), LOG_FORMAT_TEXT, &r);
	assert_string_equal(buf,
			    "obs-run: warning: two lines trace_id=4bf92f3577b34da6a3ce929d0e0e4736 "
			    "span_id=00f067aa0ba902b7\n");
}

static void json(void **state)
{
	char buf[LOGFMT_LINE_MAX];
	struct log_record r = rec("bad \"quote\" \\ and \x01 ctl\ttab");
	size_t n;

	(void)state;
	n = logfmt_line(buf, sizeof(buf), LOG_FORMAT_JSON, &r);
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf,
			    "{\"timestamp\":\"2026-12-03T16:16:46.123456Z\",\"level\":\"error\","
			    "\"service\":\"obs\",\"logger\":\"obs-run\",\"pid\":42,"
			    "\"msg\":\"bad \\\"quote\\\" \\\\ and \\u0001 ctl\\ttab\","
			    "\"error_code\":\"metrics_listen_failed\"}\n");
	r.code = NULL;
	r.level = LOG_INFO;
	r.msg = "span lost";
	r.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
	r.span_id = "00f067aa0ba902b7";
	logfmt_line(buf, sizeof(buf), LOG_FORMAT_JSON, &r);
	assert_non_null(
	    strstr(buf, "\"msg\":\"span lost\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
			"\"span_id\":\"00f067aa0ba902b7\"}\n"));
	assert_null(strstr(buf, "error_code"));
}

/* A message too long for a line is cut, and the JSON still closes. */
static void long_message(void **state)
{
	static char msg[3 * LOGFMT_LINE_MAX];
	char buf[LOGFMT_LINE_MAX];
	struct log_record r = rec(msg);
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(msg) - 1; i++)
		msg[i] = i % 7 ? 'a' : '"'; /* escapes double the size */
	msg[sizeof(msg) - 1] = 0;
	n = logfmt_line(buf, sizeof(buf), LOG_FORMAT_JSON, &r);
	assert_true(n < sizeof(buf));
	assert_int_equal(buf[n - 1], '\n');
	assert_non_null(strstr(buf, "\",\"error_code\":\"metrics_listen_failed\"}\n"));
	/* no escape cut in half: every backslash escapes something */
	for (char *p = strstr(buf, "\"msg\":\"") + 7; *p != '\n'; p++)
		if (*p == '\\')
			assert_true(p[1] == '"' || p[1] == '\\'), p++;
	n = logfmt_line(buf, sizeof(buf), LOG_FORMAT_TEXT, &r);
	assert_true(n < sizeof(buf));
	assert_int_equal(buf[n - 1], '\n');
	/* a buffer too small for any line: nothing, safely */
	assert_int_equal(logfmt_line(buf, 16, LOG_FORMAT_JSON, &r), 0);
	assert_string_equal(buf, "");
}

static void parse(void **state)
{
	enum log_level l;
	enum log_format f;

	(void)state;
	assert_int_equal(logfmt_parse_level("debug", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(logfmt_parse_level("warning", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(logfmt_parse_level("loud", &l), -1);
	assert_int_equal(logfmt_parse_level(NULL, &l), -1);
	assert_int_equal(logfmt_parse_format("json", &f), 0);
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_int_equal(logfmt_parse_format("JSON", &f), -1);
	assert_string_equal(logfmt_level_name(LOG_TRACE), "trace");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(text),
	    cmocka_unit_test(json),
	    cmocka_unit_test(long_message),
	    cmocka_unit_test(parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

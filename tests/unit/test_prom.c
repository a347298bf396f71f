/* Unit tests: metric registry, cardinality guard, Prometheus/OpenMetrics. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"
#include "prom.h"

static void escaping(void **state)
{
	struct sbuf b;

	(void)state;
	sbuf_init(&b);
	prom_escape_label(&b, "a\"b\\c\nd");
	assert_string_equal(b.buf, "a\\\"b\\\\c\\nd");
	sbuf_reset(&b);
	/* not UTF-8 (a hostile path, a scribbled region): '?' per bad byte,
	 * UTF-8 kept, escapes still right around it */
	prom_escape_label(&b, "/caf\xc3\xa9/\xff\xfe\"/\xc3");
	assert_string_equal(b.buf, "/caf\xc3\xa9/??\\\"/?");
	sbuf_reset(&b);
	prom_escape_help(&b, "x\\y\n\"z\"");
	assert_string_equal(b.buf, "x\\\\y\\n\"z\"");
	sbuf_free(&b);
}

static void doubles(void **state)
{
	char buf[64];

	(void)state;
	prom_format_double(buf, sizeof(buf), 1.0 / 0.0);
	assert_string_equal(buf, "+Inf");
	prom_format_double(buf, sizeof(buf), -1.0 / 0.0);
	assert_string_equal(buf, "-Inf");
	prom_format_double(buf, sizeof(buf), 0.0 / 0.0);
	assert_string_equal(buf, "NaN");
	prom_format_double(buf, sizeof(buf), 42);
	assert_string_equal(buf, "42");
	prom_format_double(buf, sizeof(buf), 1.024e-06);
	assert_string_equal(buf, "1.024e-06");
	prom_format_double(buf, sizeof(buf), 0.1);
	assert_string_equal(buf, "0.1");
	/* the shortest that round-trips, at every length */
	prom_format_double(buf, sizeof(buf), 0.1234567891);
	assert_string_equal(buf, "0.1234567891");
	prom_format_double(buf, sizeof(buf), 12.3456789012345);
	assert_string_equal(buf, "12.3456789012345");
	prom_format_double(buf, sizeof(buf), 0.1 + 0.2);
	assert_string_equal(buf, "0.30000000000000004");
	for (int i = 1; i < 2000; i++) {
		double v = (double)i * 0.000123456789 / 7.0;

		prom_format_double(buf, sizeof(buf), v);
		assert_true(strtod(buf, NULL) == v);
		/* and no shorter one does */
		for (int p = 1; p < 17; p++) {
			char shorter[64];

			snprintf(shorter, sizeof(shorter), "%.*g", p, v);
			if (strtod(shorter, NULL) == v) {
				assert_true(strlen(buf) <= strlen(shorter));
				break;
			}
		}
	}
}

static void names(void **state)
{
	(void)state;
	assert_true(prom_valid_name("obs_syscall_duration_seconds", 0));
	assert_true(prom_valid_name("level:metric:ops", 0));
	assert_false(prom_valid_name("level:metric", 1));
	assert_false(prom_valid_name("9abc", 0));
	assert_false(prom_valid_name("a-b", 0));
	assert_false(prom_valid_name("", 0));
}

static void negotiate(void **state)
{
	(void)state;
	assert_int_equal(prom_negotiate(NULL), PROM_TEXT);
	assert_int_equal(prom_negotiate("text/plain;version=0.0.4"), PROM_TEXT);
	assert_int_equal(prom_negotiate("application/openmetrics-text;version=1.0.0,text/"
					"plain;version=0.0.4;q=0.5,*/*;q=0.1"),
			 PROM_OPENMETRICS);
}

static const char *const l_sc[] = {"syscall", "service"};

static void histogram_text(void **state)
{
	struct metrics_registry r;
	struct metric_family *f;
	__u64 slots[OBS_HIST_SLOTS] = {0};
	const char *v[] = {"read", "my \"svc\""};
	struct sbuf b;

	(void)state;
	metrics_init(&r, NULL);
	f = metrics_family(&r, "obs_syscall_duration_seconds", "Syscall time.", "seconds",
			   METRIC_HISTOGRAM, l_sc, 2);
	assert_non_null(f);
	slots[hist_slot(500)] = 3;  /* <= 512ns */
	slots[hist_slot(2000)] = 1; /* <= 2048ns */
	assert_int_equal(metrics_hist_add(&r, f, v, slots, 3500), 0);
	assert_int_equal(metrics_hist_add(&r, f, v, slots, 3500), 0); /* same series */
	assert_int_equal(f->nseries, 1);
	sbuf_init(&b);
	prom_encode(&b, &r, PROM_TEXT);
	assert_non_null(strstr(b.buf, "# TYPE obs_syscall_duration_seconds histogram\n"));
	assert_non_null(strstr(b.buf, "obs_syscall_duration_seconds_bucket{syscall=\"read\","
				      "service=\"my \\\"svc\\\"\",le=\"2.56e-07\"} 0\n"));
	assert_non_null(strstr(b.buf, "le=\"1.024e-06\"} 6\n"));
	assert_non_null(strstr(b.buf, "le=\"4.096e-06\"} 8\n"));
	assert_non_null(strstr(b.buf, "le=\"+Inf\"} 8\n"));
	assert_non_null(strstr(b.buf, "obs_syscall_duration_seconds_sum{syscall=\"read\","
				      "service=\"my \\\"svc\\\"\"} 7e-06\n"));
	assert_non_null(strstr(b.buf, "_count{syscall=\"read\",service=\"my \\\"svc\\\"\"} 8\n"));
	assert_null(strstr(b.buf, "# EOF"));
	assert_null(strstr(b.buf, "# UNIT"));
	sbuf_free(&b);
	metrics_free(&r);
}

/* Exemplars: in OpenMetrics, on the bucket their value falls in; the newest
 * per bucket wins; never in the 0.0.4 text format (it has no syntax for them). */
static void exemplars(void **state)
{
	static const double bounds[] = {0.005, 0.01};
	static const char *const l[] = {"http_route"};
	struct metrics_registry r;
	struct metric_family *f;
	const char *v[] = {"/users/{id}"};
	__u64 counts[3] = {1, 2, 0};
	struct metric_exemplar ex[3] = {0}, newer[3] = {0};
	struct sbuf b;

	(void)state;
	metrics_init(&r, NULL);
	f = metrics_family(&r, "http_server_request_duration_seconds", "HTTP.", "seconds",
			   METRIC_HISTOGRAM, l, 1);
	assert_int_equal(metrics_family_bounds(f, bounds, 2), 0);
	snprintf(ex[1].trace_id, sizeof(ex[1].trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
	snprintf(ex[1].span_id, sizeof(ex[1].span_id), "00f067aa0ba902b7");
	ex[1].value = 0.0072;
	ex[1].timestamp = 1796314606.5;
	assert_int_equal(metrics_hist_add_buckets(&r, f, v, counts, 0.02, ex), 0);
	/* an older exemplar for the same bucket does not replace the newer */
	newer[1] = ex[1];
	newer[1].timestamp = 1000;
	newer[1].trace_id[0] = 'f';
	assert_int_equal(metrics_hist_add_buckets(&r, f, v, counts, 0.02, newer), 0);
	sbuf_init(&b);
	prom_encode(&b, &r, PROM_OPENMETRICS);
	assert_non_null(
	    strstr(b.buf, "http_server_request_duration_seconds_bucket{http_route=\"/users/{id}\","
			  "le=\"0.01\"} 6 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\","
			  "span_id=\"00f067aa0ba902b7\"} 0.0072 1796314606.500\n"));
	assert_non_null(strstr(b.buf, "le=\"0.005\"} 2\n")); /* no exemplar there */
	sbuf_reset(&b);
	prom_encode(&b, &r, PROM_TEXT);
	assert_null(strstr(b.buf, "trace_id"));
	sbuf_free(&b);
	metrics_free(&r);
}

static void counter_openmetrics(void **state)
{
	static const char *const l[] = {"direction"};
	struct metrics_registry r;
	struct metric_family *f;
	const char *in[] = {"inbound"}, *out[] = {"outbound"};
	struct sbuf b;

	(void)state;
	metrics_init(&r, NULL);
	f = metrics_family(&r, "obs_tcp_connections_total", "Conns.", NULL, METRIC_COUNTER, l, 1);
	metrics_counter_add(&r, f, in, 3);
	metrics_counter_add(&r, f, in, 2);
	metrics_counter_add(&r, f, out, 1);
	sbuf_init(&b);
	prom_encode(&b, &r, PROM_TEXT);
	assert_non_null(strstr(b.buf, "# TYPE obs_tcp_connections_total counter\n"));
	assert_non_null(strstr(b.buf, "obs_tcp_connections_total{direction=\"inbound\"} 5\n"));
	sbuf_reset(&b);
	prom_encode(&b, &r, PROM_OPENMETRICS);
	/* OpenMetrics: family without _total, samples with it, # EOF last. */
	assert_non_null(strstr(b.buf, "# TYPE obs_tcp_connections counter\n"));
	assert_non_null(strstr(b.buf, "obs_tcp_connections_total{direction=\"outbound\"} 1\n"));
	assert_int_equal(strcmp(b.buf + b.len - 6, "# EOF\n"), 0);
	sbuf_free(&b);
	metrics_free(&r);
}

/* The guard caps exposed samples; refused sets fold into the overflow
 * series, so totals are preserved, and each refusal is counted once. */
static void cardinality_guard(void **state)
{
	static const char *const l[] = {"k"};
	struct card_guard *g = card_guard_new(5);
	struct metrics_registry r;
	struct metric_family *f;
	char name[16];
	const char *v[1] = {name};
	struct sbuf b;

	(void)state;
	for (int round = 0; round < 2; round++) { /* state persists across scrapes */
		metrics_init(&r, g);
		f = metrics_family(&r, "c_total", "c", NULL, METRIC_COUNTER, l, 1);
		for (int i = 0; i < 8; i++) {
			snprintf(name, sizeof(name), "v%d", i);
			assert_int_equal(metrics_counter_add(&r, f, v, 1), 0);
		}
		assert_int_equal(f->nseries, 6); /* 5 admitted + overflow */
		sbuf_init(&b);
		prom_encode(&b, &r, PROM_TEXT);
		assert_non_null(strstr(b.buf, "c_total{k=\"v4\"} 1\n"));
		assert_null(strstr(b.buf, "k=\"v5\""));
		assert_non_null(strstr(b.buf, "c_total{otel_metric_overflow=\"true\"} 3\n"));
		sbuf_free(&b);
		metrics_free(&r);
		assert_int_equal(card_guard_used(g), 5);
		assert_int_equal(card_guard_overflows(g, "c_total"), 3);
	}
	/* A histogram costs its buckets + _sum + _count. */
	metrics_init(&r, g);
	f = metrics_family(&r, "h_seconds", "h", NULL, METRIC_HISTOGRAM, l, 1);
	assert_int_equal(metrics_series_cost(f), HIST_EXPORT_BUCKETS + 3);
	{
		__u64 s[OBS_HIST_SLOTS] = {1};

		metrics_hist_add(&r, f, v, s, 1);
	}
	assert_true(f->series[0]->overflow);
	assert_int_equal(card_guard_overflows(g, "h_seconds"), 1);
	metrics_free(&r);
	card_guard_free(g);
}

static void family_mismatch(void **state)
{
	struct metrics_registry r;

	(void)state;
	metrics_init(&r, NULL);
	assert_non_null(metrics_family(&r, "x", "x", NULL, METRIC_GAUGE, NULL, 0));
	assert_null(metrics_family(&r, "x", "x", NULL, METRIC_COUNTER, NULL, 0));
	metrics_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(escaping),
	    cmocka_unit_test(doubles),
	    cmocka_unit_test(names),
	    cmocka_unit_test(negotiate),
	    cmocka_unit_test(histogram_text),
	    cmocka_unit_test(exemplars),
	    cmocka_unit_test(counter_openmetrics),
	    cmocka_unit_test(cardinality_guard),
	    cmocka_unit_test(family_mismatch),
	};
	return cmocka_run_group_tests_name("prom", tests, NULL, NULL);
}

/*
 * Unit test: a small protocol written from scratch (tests/unit/ping, a
 * line-based PING/PONG echo) goes end to end through every generic layer
 * with nothing protocol-specific outside its own folder: detection,
 * bytes both ways (split and short-written), trace context injected into
 * the client's PING and honoured by the server, the span ring, the
 * record described in the collector, its metric family aggregated and
 * rendered as Prometheus text, and its spans encoded as OTLP and decoded
 * with the official protos. It is registered here, in the test's own
 * table: the one registration line a real protocol has in registry.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otlp_encode.h"
#include "ping_proto.h"
#include "prom.h"
#include "proto_testhost.h"
#include "redagg.h"
#include "registry.h"
#include "spanring.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;
typedef Opentelemetry__Proto__Trace__V1__Span Span;

static const struct proto_handler *const table[] = {&ping_handler, NULL};

static struct proto_conn *conn(enum proto_side side)
{
	struct proto_conn *pc = calloc(1, sizeof(*pc));

	assert_non_null(pc);
	pconn_init(pc, &th_host, table, side);
	return pc;
}

static void ping_end_to_end(void **state)
{
	struct proto_conn *cli = conn(PROTO_CLIENT), *srv = conn(PROTO_SERVER);
	struct th_wire up = {.take = 5}, down = {.take = 0};
	size_t ringlen = spanring_bytes(64), rn = 0;
	void *mem = calloc(1, ringlen);
	struct spanring ring;
	struct span_rec r;
	struct xspan x[2];
	struct redagg *agg = redagg_new(16);
	struct metrics_registry reg;
	struct sbuf text;
	struct otlp_resource res = {.service = "svc", .host = "h"};
	struct otlp_encoder *enc = otlp_encoder_new();
	const uint8_t *pb;
	size_t pblen;
	Request *req;

	(void)state;
	th_reset();
	assert_non_null(mem);
	assert_non_null(agg);
	assert_non_null(enc);
	/* the client writes PING, five bytes at a time: context goes in once */
	th_write_all(cli, &up, "PING 42\n", 8);
	assert_ptr_equal(cli->h, &ping_handler);
	assert_int_equal(up.n, 8 + 1 + TP_LEN);
	assert_memory_equal(up.b, "PING 42 00-7e", 13);
	/* the server reads it (in two pieces) and answers */
	pconn_feed(srv, PROTO_IN, (const uint8_t *)up.b, 20, th_now());
	pconn_feed(srv, PROTO_IN, (const uint8_t *)up.b + 20, up.n - 20, th_now());
	th_write_all(srv, &down, "PONG 42\n", 8);
	assert_int_equal(th.nrec, 1); /* the server span */
	pconn_feed(cli, PROTO_IN, (const uint8_t *)down.b, down.n, th_now());
	assert_int_equal(th.nrec, 2); /* and the client's */
	/* the server span is the child of the client span it answered */
	assert_int_equal(th.recs[0].kind, SPAN_SERVER);
	assert_true(th.recs[0].flags & SPAN_F_REMOTE_PARENT);
	assert_memory_equal(th.recs[0].parent_id, th.recs[1].span_id, 8);
	assert_memory_equal(th.recs[0].trace_id, th.recs[1].trace_id, 16);

	/* through the span ring, as from the shim to the collector */
	assert_int_equal(spanring_init(&ring, mem, 64), 0);
	for (int i = 0; i < th.nrec; i++)
		assert_int_equal(spanring_push(&ring, &th.recs[i]), 0);
	while (spanring_pop(&ring, &r, 1, 1000, NULL)) {
		struct proto_obs obs;
		assert_int_equal(spanrec_check(&r), 0);
		assert_int_equal(r.proto, PROTO_TEST);
		xspan_from_rec(&x[rn], &r);
		ping_handler.describe(&r, NULL, &x[rn]);
		ping_handler.observe(&r, NULL, &obs);
		assert_ptr_equal(obs.family, &ping_duration);
		redagg_observe(agg, &obs, "svc", "", "", &x[rn], 0);
		rn++;
	}
	assert_int_equal(rn, 2);
	/* three points a process could not give labels (its table was full) */
	{
		uint64_t of[PROTO_BUCKETS_MAX + 1] = {0};
		of[ping_duration.nbounds] = 3;
		redagg_add_overflow(agg, &ping_duration, of, 30.0);
	}

	/* its family, rendered as Prometheus text */
	metrics_init(&reg, NULL);
	redagg_render(agg, &reg, table, "svc");
	sbuf_init(&text);
	prom_encode(&text, &reg, PROM_TEXT);
	assert_non_null(strstr(text.buf, "# TYPE ping_duration_seconds histogram"));
	assert_non_null(strstr(text.buf, "ping_duration_seconds_bucket{ping_result=\"pong\","
					 "service=\"svc\",le=\"0.001\"} 2"));
	assert_non_null(strstr(text.buf, "ping_duration_seconds_count{ping_result=\"pong\","
					 "service=\"svc\"} 2"));
	assert_non_null(
	    strstr(text.buf, "ping_duration_seconds_count{otel_metric_overflow=\"true\"} 3"));
	sbuf_free(&text);
	metrics_free(&reg);

	/* its spans, as OTLP, decoded with the official protos */
	const struct xspan *xs[2] = {&x[0], &x[1]};
	assert_int_equal(otlp_encoder_run(enc, &res, xs, 2, 0, &pb, &pblen), 0);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
	    NULL, pblen, pb);
	assert_non_null(req);
	assert_int_equal(req->n_resource_spans, 1);
	assert_int_equal(req->resource_spans[0]->scope_spans[0]->n_spans, 2);
	for (int i = 0; i < 2; i++) {
		const Span *sp = req->resource_spans[0]->scope_spans[0]->spans[i];
		assert_string_equal(sp->name, "PING");
		assert_int_equal(sp->n_attributes, 1);
		assert_string_equal(sp->attributes[0]->key, "ping.token");
		assert_string_equal(sp->attributes[0]->value->string_value, "42");
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    req, NULL);

	/* a PING never answered ends with the connection, as an error */
	th_reset();
	th_write_all(cli, &up, "PING 7\n", 7);
	pconn_eof(cli, th_now());
	assert_int_equal(th.nrec, 1);
	assert_int_equal(th.recs[0].error, SPAN_ERR_CLOSED);

	otlp_encoder_free(enc);
	redagg_free(agg);
	pconn_release(cli);
	pconn_release(srv);
	free(cli);
	free(srv);
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ping_end_to_end),
	};
	return cmocka_run_group_tests_name("ping", tests, NULL, NULL);
}

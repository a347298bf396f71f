/* Unit tests: the OTLP encoder (otlp_encode.c). What it writes is decoded
 * with the generated unpacker of the official protos and checked field by
 * field (resource groups per process, span order, attributes, status);
 * re-packing the decoded request gives the same bytes (the writer is
 * canonical). One encoder is
 * reused across batches that grow and shrink, as the exporter does. The
 * exporter's request body (otlp_body.c: slices, then gzip) is gunzipped
 * by zlib, an independent decoder, and decoded the same way. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "http1_proto.h"
#include "http_sem.h"
#include "otlp_body.h"
#include "otlp_encode.h"
#include "registry.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;

/* What each span was made from, to check the decoded request against. */
struct want {
	uint32_t pid;
	uint16_t status;
	uint8_t kind;
	char path[64];
};

/* A span as the collector makes it: an HTTP/1 record the protocol
 * module describes (route templated, attributes per the conventions). */
static void mkspan(struct xspan *x, struct want *w, uint32_t pid, int server, unsigned i)
{
	struct span_rec r;

	memset(&r, 0, sizeof(r));
	memset(x, 0, sizeof(*x));
	for (int j = 0; j < 16; j++)
		r.trace_id[j] = (uint8_t)(i + (unsigned)j + 1);
	memset(r.span_id, 0xab, 8);
	r.span_id[0] = (uint8_t)(i >> 8), r.span_id[1] = (uint8_t)i; /* unique */
	r.kind = server ? SPAN_SERVER : SPAN_CLIENT;
	r.proto = PROTO_HTTP1;
	r.pid = pid;
	r.start_ns = 1000;
	r.end_ns = 1000 + 250000;
	r.peer_port = 40000;
	strcpy(r.peer, "10.0.0.12");
	w->pid = pid;
	w->status = i % 3 ? 200 : 503;
	w->kind = r.kind;
	snprintf(w->path, sizeof(w->path), "/users/%u/orders", i);
	http_put_request(&r, "GET", w->path, "api.example.com:8080");
	spanrec_put_int(&r, HTTP_A_STATUS, w->status);
	assert_int_equal(spanrec_check(&r), 0);
	xspan_from_rec(x, &r);
	xspan_set_exe(x, "svc");
	http1_handler.describe(&r, NULL, x);
}

/* The encoder takes pointers (the exporter's spans lie in its queue at
 * their own lengths): to the n spans of an array. */
static const struct xspan *const *ptrs(const struct xspan *s, size_t n)
{
	static const struct xspan *p[2000];

	assert_true(n <= 2000);
	for (size_t i = 0; i < n; i++)
		p[i] = &s[i];
	return p;
}

static const KeyValue *attr(KeyValue **kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i]->key, key))
			return kv[i];
	return NULL;
}

/* Decode, check the grouping and every span, and compare a re-pack. */
static void check(const uint8_t *b, size_t len, const struct xspan *s, const struct want *w,
		  size_t n, size_t ngroups)
{
	Request *r =
	    opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, len, b);
	size_t seen = 0;

	assert_non_null(r);
	assert_int_equal(r->n_resource_spans, ngroups);
	for (size_t g = 0; g < r->n_resource_spans; g++) {
		const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = r->resource_spans[g];
		const KeyValue *pid =
		    attr(rs->resource->attributes, rs->resource->n_attributes, "process.pid");
		assert_non_null(pid);
		assert_int_equal(rs->n_scope_spans, 1);
		assert_string_equal(rs->scope_spans[0]->scope->name, "obs");
		for (size_t i = 0; i < rs->scope_spans[0]->n_spans; i++, seen++) {
			const Span *sp = rs->scope_spans[0]->spans[i];
			const struct xspan *x = NULL;
			const struct want *wx = NULL;
			/* spans keep their order within a process */
			for (size_t j = 0; j < n && !x; j++)
				if (!memcmp(s[j].span_id, sp->span_id.data, 8))
					x = &s[j], wx = &w[j];
			assert_non_null(x);
			assert_int_equal(pid->value->int_value, wx->pid);
			assert_int_equal(sp->trace_id.len, 16);
			assert_memory_equal(sp->trace_id.data, x->trace_id, 16);
			assert_int_equal(sp->end_time_unix_nano - sp->start_time_unix_nano, 250000);
			const KeyValue *st =
			    attr(sp->attributes, sp->n_attributes, "http.response.status_code");
			assert_non_null(st);
			assert_int_equal(st->value->int_value, wx->status);
			if (wx->kind == SPAN_SERVER) {
				assert_string_equal(sp->name, "GET /users/{id}/orders");
				assert_string_equal(
				    attr(sp->attributes, sp->n_attributes, "url.path")
					->value->string_value,
				    wx->path);
			}
			assert_int_equal(sp->status->code == 2, wx->status >= 500);
		}
	}
	assert_int_equal(seen, n);

	size_t rl =
	    opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
		r);
	uint8_t *again = malloc(rl);
	assert_non_null(again);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(r, again);
	assert_int_equal(rl, len);
	assert_memory_equal(again, b, len);
	free(again);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    r, NULL);
}

static void test_groups_and_reuse(void **st)
{
	(void)st;
	struct otlp_resource res = {.service = "svc", .host = "h"};
	struct otlp_encoder *e = otlp_encoder_new();
	size_t sizes[] = {3, 1, 300, 2}; /* grows, shrinks, grows past a 128-byte varint */
	struct xspan *s = calloc(300, sizeof(*s));
	struct want *w = calloc(300, sizeof(*w));
	const uint8_t *b;
	size_t len;

	assert_non_null(e);
	assert_non_null(s);
	assert_non_null(w);
	for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
		size_t n = sizes[t];
		/* processes interleaved: 7, 9, 7, 9... (one group if n == 1) */
		for (size_t i = 0; i < n; i++)
			mkspan(&s[i], &w[i], i % 2 ? 9 : 7, (int)(i % 3 != 1), (unsigned)i);
		assert_int_equal(otlp_encoder_run(e, &res, ptrs(s, n), n, 5, &b, &len), 0);
		check(b, len, s, w, n, n > 1 ? 2 : 1);
	}
	otlp_encoder_free(e);
	free(s);
	free(w);
}

static void test_empty_and_one(void **st)
{
	(void)st;
	struct otlp_resource res = {.service = "svc", .host = "h"};
	struct otlp_encoder *e = otlp_encoder_new();
	struct xspan x = {0};
	struct want w;
	const uint8_t *b;
	size_t len;

	assert_non_null(e);
	/* no spans: an empty request */
	assert_int_equal(otlp_encoder_run(e, &res, ptrs(&x, 0), 0, 0, &b, &len), 0);
	assert_int_equal(len, 0);
	mkspan(&x, &w, 1, 1, 0);
	assert_int_equal(otlp_encoder_run(e, &res, ptrs(&x, 1), 1, 0, &b, &len), 0);
	check(b, len, &x, &w, 1, 1);
	otlp_encoder_free(e);
}

/* The exporter encodes a batch in slices and sends them one after the
 * other as one body: the official decoder reads that as one request with
 * every slice's ResourceSpans (repeated fields merge). */
static void test_slices_concatenate(void **st)
{
	(void)st;
	struct otlp_resource res = {.service = "svc", .host = "h"};
	struct otlp_encoder *e = otlp_encoder_new();
	struct xspan s[5];
	struct want w[5];
	uint8_t body[16384];
	const uint8_t *b;
	size_t len, at = 0;

	assert_non_null(e);
	for (unsigned i = 0; i < 5; i++)
		mkspan(&s[i], &w[i], 7, 1, i);
	for (size_t i = 0; i < 5; i += 2) { /* slices of 2, 2, 1 */
		size_t m = 5 - i < 2 ? 5 - i : 2;
		assert_int_equal(otlp_encoder_run(e, &res, ptrs(s + i, m), m, 0, &b, &len), 0);
		assert_true(at + len <= sizeof(body));
		memcpy(body + at, b, len);
		at += len;
	}
	check(body, at, s, w, 5, 3);
	otlp_encoder_free(e);
}

/* Decode b and re-pack it with protobuf-c: the same bytes, or the writer
 * is not canonical. Returns the decoded request (the caller frees it). */
static Request *decode_same(const uint8_t *b, size_t len)
{
	Request *r =
	    opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, len, b);
	size_t rl;
	uint8_t *again;

	assert_non_null(r);
	rl =
	    opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
		r);
	again = malloc(rl ? rl : 1);
	assert_non_null(again);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(r, again);
	assert_int_equal(rl, len);
	assert_memory_equal(again, b, len);
	free(again);
	return r;
}

/* Lengths are written after what they measure (room left for them): a
 * span under 128 bytes takes a 1-byte length, a process's 2000 spans of
 * ~1.3 KB (over 2 MiB) take 4-byte ones where room for 3 was left; the
 * re-pack in check() holds each to protobuf-c's. */
static void test_lengths_after(void **st)
{
	(void)st;
	struct otlp_resource res = {.service = "svc", .host = "h"};
	struct otlp_encoder *e = otlp_encoder_new();
	struct xspan *s = calloc(2000, sizeof(*s)), tiny;
	struct want *w = calloc(2000, sizeof(*w)), wt;
	char big[1200];
	const uint8_t *b;
	size_t len;

	assert_true(e && s && w);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	for (unsigned i = 0; i < 2000; i++) {
		mkspan(&s[i], &w[i], 7, 1, i);
		xspan_put_str(&s[i], "test.big", big);
	}
	assert_int_equal(otlp_encoder_run(e, &res, ptrs(s, 2000), 2000, 0, &b, &len), 0);
	assert_true(len > 2u << 20);
	check(b, len, s, w, 2000, 1);

	mkspan(&tiny, &wt, 7, 1, 1);
	tiny.nattrs = 0; /* ids, times, name, kind and status: under 128 bytes */
	assert_int_equal(otlp_encoder_run(e, &res, ptrs(&tiny, 1), 1, 0, &b, &len), 0);
	assert_true(len < 400);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    decode_same(b, len), NULL);
	otlp_encoder_free(e);
	free(s);
	free(w);
}

/* Every field the writer knows, at the edges of its encoding: a parent,
 * tracestate, error status, ints that are 0, negative (10-byte varints)
 * and large, strings past 127 bytes (2-byte lengths), a zero start time
 * (proto3: not written), and resource values that are not UTF-8 (made so:
 * a receiver refuses a batch with one). */
static void test_every_field(void **st)
{
	(void)st;
	static const char *keys[] = {"deployment.environment", "team"};
	static const char *vals[] = {"prod\xff", "payments"};
	struct otlp_resource res = {.service = "svc", .host = "h\xc3", .nattrs = 2};
	struct otlp_encoder *e = otlp_encoder_new();
	struct xspan x;
	struct span_rec r;
	char longv[300];
	const uint8_t *b;
	size_t len;
	Request *q;

	memcpy(res.keys, keys, sizeof(keys));
	memcpy(res.vals, vals, sizeof(vals));
	memset(&r, 0, sizeof(r));
	memset(r.trace_id, 0x11, 16);
	memset(r.span_id, 0x22, 8);
	memset(r.parent_id, 0x33, 8);
	r.flags = SPAN_F_HAS_PARENT;
	r.kind = SPAN_CLIENT;
	r.start_ns = 0;
	r.end_ns = 777;
	strcpy(r.tracestate, "vendor=abc");
	r.tracestate_len = 10;
	xspan_from_rec(&x, &r);
	xspan_set_labels(&x, NULL, "c0ffee", "pod-1");
	xspan_set_exe(&x, "sv\xe2\x82");
	xspan_set_name(&x, "GET");
	xspan_put_int(&x, "zero", 0);
	xspan_put_int(&x, "negative", -5);
	xspan_put_int(&x, "large", INT64_MAX);
	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = 0;
	xspan_put_str(&x, "long", longv);
	x.error = 1;
	x.pid = 4242;

	assert_non_null(e);
	assert_int_equal(otlp_encoder_run(e, &res, ptrs(&x, 1), 1, 1000, &b, &len), 0);
	q = decode_same(b, len);
	assert_int_equal(q->n_resource_spans, 1);
	const Opentelemetry__Proto__Resource__V1__Resource *rr = q->resource_spans[0]->resource;
	const Span *sp = q->resource_spans[0]->scope_spans[0]->spans[0];
	assert_string_equal(
	    attr(rr->attributes, rr->n_attributes, "deployment.environment")->value->string_value,
	    "prod?");
	assert_string_equal(
	    attr(rr->attributes, rr->n_attributes, "host.name")->value->string_value, "h?");
	assert_string_equal(
	    attr(rr->attributes, rr->n_attributes, "process.executable.name")->value->string_value,
	    "sv??");
	assert_string_equal(
	    attr(rr->attributes, rr->n_attributes, "container.id")->value->string_value, "c0ffee");
	assert_string_equal(
	    attr(rr->attributes, rr->n_attributes, "k8s.pod.uid")->value->string_value, "pod-1");
	assert_int_equal(attr(rr->attributes, rr->n_attributes, "process.pid")->value->int_value,
			 4242);
	assert_string_equal(sp->name, "GET");
	assert_string_equal(sp->trace_state, "vendor=abc");
	assert_int_equal(sp->parent_span_id.len, 8);
	assert_int_equal(sp->parent_span_id.data[0], 0x33);
	assert_int_equal(sp->start_time_unix_nano, 1000);
	assert_int_equal(sp->end_time_unix_nano, 1777);
	assert_int_equal(sp->kind,
			 OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
	assert_int_equal(sp->status->code, 2);
	assert_int_equal(attr(sp->attributes, sp->n_attributes, "zero")->value->int_value, 0);
	assert_int_equal(attr(sp->attributes, sp->n_attributes, "negative")->value->int_value, -5);
	assert_true(attr(sp->attributes, sp->n_attributes, "large")->value->int_value == INT64_MAX);
	assert_int_equal(
	    strlen(attr(sp->attributes, sp->n_attributes, "long")->value->string_value), 299);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    q, NULL);

	/* a zero start time is not written, and the re-pack agrees */
	assert_int_equal(otlp_encoder_run(e, &res, ptrs(&x, 1), 1, 0, &b, &len), 0);
	q = decode_same(b, len);
	assert_int_equal(q->resource_spans[0]->scope_spans[0]->spans[0]->start_time_unix_nano, 0);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    q, NULL);
	otlp_encoder_free(e);
}

/* The pool's order: the tracestate and the process labels, each cut to its
 * most, keep their room whatever the name and attributes then take; a
 * span is as long as what it holds (the export queue keeps that much). */
static void test_pool_limits(void **st)
{
	(void)st;
	struct otlp_resource res = {.service = "svc", .host = "h"};
	struct otlp_encoder *e = otlp_encoder_new();
	struct xspan *x = malloc(sizeof(*x));
	struct span_rec r = {.kind = SPAN_SERVER};
	char big[2000];
	const uint8_t *b;
	size_t len;
	Request *q;

	assert_true(e && x);
	xspan_from_rec(x, &r);
	assert_true(xspan_size(x) <= 480); /* no strings: the header and attribute slots */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memset(r.tracestate, 't', TP_TRACESTATE_MAX);
	r.tracestate_len = TP_TRACESTATE_MAX;
	xspan_from_rec(x, &r);
	xspan_set_labels(x, big, big, big);
	xspan_set_exe(x, big);
	xspan_set_name(x, big);
	for (int i = 0; i < 20; i++)
		xspan_put_str(x, "k", big);
	assert_int_equal(strlen(xspan_tracestate(x)), TP_TRACESTATE_MAX);
	assert_int_equal(strlen(xspan_service(x)), XSPAN_SERVICE_MAX - 1);
	assert_int_equal(strlen(xspan_container(x)), XSPAN_CONTAINER_MAX - 1);
	assert_int_equal(strlen(xspan_pod(x)), XSPAN_POD_MAX - 1);
	assert_int_equal(strlen(xspan_exe(x)), XSPAN_EXE_MAX - 1);
	assert_int_equal(x->name_len, XSPAN_NAMES_MAX - 1);
	assert_int_equal(x->nattrs, XSPAN_ATTR_MAX);
	assert_true(xspan_size(x) <= sizeof(*x));
	assert_int_equal(x->str[x->str_used - 1], 0);

	assert_int_equal(otlp_encoder_run(e, &res, ptrs(x, 1), 1, 0, &b, &len), 0);
	q = decode_same(b, len);
	const Opentelemetry__Proto__Resource__V1__Resource *rr = q->resource_spans[0]->resource;
	assert_int_equal(
	    strlen(attr(rr->attributes, rr->n_attributes, "service.name")->value->string_value),
	    XSPAN_SERVICE_MAX - 1);
	assert_int_equal(
	    strlen(attr(rr->attributes, rr->n_attributes, "k8s.pod.uid")->value->string_value),
	    XSPAN_POD_MAX - 1);
	assert_int_equal(strlen(q->resource_spans[0]->scope_spans[0]->spans[0]->trace_state),
			 TP_TRACESTATE_MAX);
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    q, NULL);
	otlp_encoder_free(e);
	free(x);
}

/* zlib's gunzip of gz: exactly want (wlen bytes), one gzip member. */
static void gunzip_is(const uint8_t *gz, size_t len, const uint8_t *want, size_t wlen)
{
	z_stream z = {0};
	uint8_t *out = malloc(wlen + 1);

	assert_non_null(out);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)gz;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)wlen + 1;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.avail_in, 0); /* nothing after the member */
	assert_int_equal(z.total_out, wlen);
	assert_memory_equal(out, want, wlen);
	inflateEnd(&z);
	free(out);
}

/* The exporter's body: 1300 spans encoded in three slices, gzip'd, and one
 * body kept across batches that shrink (3 spans) and are empty. */
static void test_body_gzip(void **st)
{
	(void)st;
	static const size_t sizes[] = {1300, 3, 0, 700};
	struct otlp_resource res = {.service = "svc", .host = "h"};
	struct otlp_body bb = {0};
	struct xspan *s = calloc(1300, sizeof(*s));
	struct want *w = calloc(1300, sizeof(*w));

	assert_true(s && w);
	for (unsigned i = 0; i < 1300; i++)
		mkspan(&s[i], &w[i], 7, i % 2, i);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k], len, glen;
		const uint8_t *gz, *body;

		assert_int_equal(otlp_body_encode(&bb, &res, ptrs(s, n), n, 0, &body, &len), 0);
		assert_int_equal(otlp_body_gzip(&bb, body, len, &gz, &glen), 0);
		assert_true(glen >= 18); /* a gzip header and trailer at least */
		assert_int_equal(gz[0], 0x1f);
		assert_int_equal(gz[1], 0x8b);
		gunzip_is(gz, glen, body, len);
		if (n) {
			check(body, len, s, w, n, (n + 511) / 512);
			assert_true(glen < len / 2); /* it compresses */
		}
	}
	otlp_body_free(&bb);
	free(s);
	free(w);
}

/* Bytes that do not compress (stored blocks, the output past the input)
 * fit the room otlp_body_gzip gives them, at sizes around a stored
 * block's 64 KiB and at 1 byte. */
static void test_gzip_incompressible(void **st)
{
	(void)st;
	static const size_t sizes[] = {1, 65535, 65536, 65537, 3 << 20};
	struct otlp_body bb = {0};
	uint8_t *in = malloc(3 << 20);
	uint64_t x = 88172645463325252ull;

	assert_non_null(in);
	for (size_t i = 0; i < 3 << 20; i++) { /* xorshift: no repeats to find */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		in[i] = (uint8_t)x;
	}
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		const uint8_t *gz;
		size_t glen;

		assert_int_equal(otlp_body_gzip(&bb, in, sizes[k], &gz, &glen), 0);
		assert_true(glen > sizes[k]);
		gunzip_is(gz, glen, in, sizes[k]);
	}
	otlp_body_free(&bb);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_groups_and_reuse),   cmocka_unit_test(test_empty_and_one),
	    cmocka_unit_test(test_slices_concatenate), cmocka_unit_test(test_every_field),
	    cmocka_unit_test(test_body_gzip),	       cmocka_unit_test(test_gzip_incompressible),
	    cmocka_unit_test(test_lengths_after),      cmocka_unit_test(test_pool_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * libFuzzer: the OTLP encoder (exporters/otlp_encode.c). It writes each
 * message's length after the message, into room it left, and sizes its
 * buffer from a bound per span: spans built from the input through the
 * xspan API (as the collector builds them: strings of any bytes and
 * length, keys up to 255 bytes, ints of any sign, processes interleaved)
 * must encode without a write past the buffer (ASan), decode with the
 * official protos' protobuf-c code, re-pack to the same bytes (canonical)
 * and hold every span.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otlp_encode.h"
#include "xspan.h"

#define SPANS_MAX 8

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;

struct cursor {
	const uint8_t *p;
	size_t n;
};

static unsigned byte(struct cursor *c)
{
	if (!c->n)
		return 0;
	c->n--;
	return *c->p++;
}

/* A NUL-terminated string of the next byte's length (x2), into buf. */
static const char *str(struct cursor *c, char *buf, size_t cap)
{
	size_t n = byte(c) * 2u;

	if (n > cap - 1)
		n = cap - 1;
	if (n > c->n)
		n = c->n;
	memcpy(buf, c->p, n);
	buf[n] = 0;
	c->p += n, c->n -= n;
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xspan s[SPANS_MAX];
	static struct span_rec r;
	static char keys[SPANS_MAX][XSPAN_ATTR_MAX + 2][256]; /* keys are the caller's, kept */
	const struct xspan *p[SPANS_MAX];
	struct otlp_resource res = {.service = "svc", .host = "h"};
	struct cursor c = {data, size};
	size_t n = 1 + byte(&c) % SPANS_MAX, len, seen = 0;
	struct otlp_encoder *e = otlp_encoder_new();
	const uint8_t *out;
	char buf[2048];
	Request *q;

	if (!e)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct xspan *x = &s[i];
		unsigned nattrs = byte(&c) % (XSPAN_ATTR_MAX + 2);

		memset(&r, 0, sizeof(r));
		for (int j = 0; j < 16; j++)
			r.trace_id[j] = (uint8_t)byte(&c);
		r.span_id[0] = (uint8_t)i; /* found again in the decoded request */
		r.flags = byte(&c) & 1 ? SPAN_F_HAS_PARENT : 0;
		r.kind = byte(&c) & 1 ? SPAN_SERVER : SPAN_CLIENT;
		r.pid = byte(&c) % 3;
		r.start_ns = (uint64_t)byte(&c) << (byte(&c) % 57);
		r.end_ns = r.start_ns + byte(&c);
		str(&c, r.tracestate, sizeof(r.tracestate));
		xspan_from_rec(x, &r);
		if (byte(&c) & 1)
			xspan_set_labels(x, str(&c, buf, 200), str(&c, buf + 256, 100), "");
		xspan_set_exe(x, str(&c, buf, 64));
		xspan_set_name(x, str(&c, buf, sizeof(buf)));
		x->error = byte(&c) & 1;
		for (unsigned a = 0; a < nattrs; a++) {
			/* keys are names a protocol gives (ASCII, never empty) */
			char *k = keys[i][a];
			str(&c, k + 1, sizeof(keys[i][a]) - 1);
			k[0] = 'k';
			for (char *ch = k; *ch; ch++)
				*ch = (char)('a' + (unsigned char)*ch % 26);
			if (byte(&c) & 1) {
				uint64_t v = 0;
				for (int b = 0; b < 8; b++)
					v = v << 8 | byte(&c);
				xspan_put_int(x, k, (int64_t)v);
			} else {
				xspan_put_str(x, k, str(&c, buf, sizeof(buf)));
			}
		}
		p[i] = x;
	}
	if (otlp_encoder_run(e, &res, p, n, (int64_t)byte(&c) << 40, &out, &len))
		abort(); /* out of memory only */
	q = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
	    NULL, len, out);
	if (!q)
		abort();
	for (size_t g = 0; g < q->n_resource_spans; g++)
		for (size_t k = 0; k < q->resource_spans[g]->n_scope_spans; k++)
			seen += q->resource_spans[g]->scope_spans[k]->n_spans;
	if (seen != n)
		abort();
	{
		size_t rl =
		    opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
			q);
		uint8_t *again = malloc(rl ? rl : 1);
		if (!again)
			abort();
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(
		    q, again);
		if (rl != len || memcmp(again, out, len))
			abort(); /* not what protobuf-c writes: not canonical */
		free(again);
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    q, NULL);
	otlp_encoder_free(e);
	return 0;
}

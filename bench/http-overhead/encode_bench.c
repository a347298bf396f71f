/*
 * encode_bench - spans per second the collector describes (a record into
 * an export-ready span, by its protocol) and encodes as OTLP protobuf, and
 * gzips as the exporter does (ISA-L igzip, otlp_body.c) and, side by side,
 * as zlib level 1 would, on one core: batches of 512 realistic spans
 * (random ids, which do not compress, and varied paths).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "http_sem.h"
#include "otlp_body.h"
#include "otlp_encode.h"
#include "registry.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t batch = 512, rounds = argc > 1 ? (size_t)atol(argv[1]) : 400, bytes = 0, gz = 0;
	struct xspan *s = calloc(batch, sizeof(*s));
	const struct xspan **sp = calloc(batch, sizeof(*sp));
	struct span_rec *recs = calloc(batch, sizeof(*recs));
	struct otlp_resource res = {.service = "bench", .host = "host"};
	struct otlp_encoder *enc = otlp_encoder_new(); /* reused, as the exporter does */
	z_stream z = {0};
	uint8_t *zbuf = NULL;
	struct otlp_body bb = {0};
	size_t gzd = 0;
	double t0, t1, t2, t3, td, tdd;

	if (!enc || !s || !sp || !recs ||
	    deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 1;

	/* realistic spans: HTTP/1 records as the shim writes them, described
	 * by their protocol as the collector does (timed too) */
	for (size_t i = 0; i < batch; i++) {
		struct span_rec *r = &recs[i];
		char path[64];
		memset(r, 0, sizeof(*r));
		for (int j = 0; j < 16; j++)
			r->trace_id[j] = (uint8_t)rand();
		for (int j = 0; j < 8; j++)
			r->span_id[j] = (uint8_t)rand(), r->parent_id[j] = (uint8_t)rand();
		r->kind = i % 2 ? SPAN_SERVER : SPAN_CLIENT;
		r->proto = PROTO_HTTP1;
		r->pid = 1000 + (uint32_t)(i % 4);
		r->start_ns = 1000000 * i + (uint64_t)(rand() % 100000);
		r->end_ns = r->start_ns + (uint64_t)(rand() % 400000);
		r->peer_port = (uint16_t)(40000 + rand() % 20000);
		strcpy(r->peer, "10.0.0.12");
		snprintf(path, sizeof(path), "/users/%d/orders?page=2", rand() % 100000);
		http_put_request(r, "GET", path, "api.example.com:8080");
		spanrec_put_int(r, HTTP_A_STATUS, 200);
	}
	td = now();
	for (size_t r = 0; r < rounds; r++) {
		for (size_t i = 0; i < batch; i++) {
			struct span_rec rec = recs[i];
			spanrec_check(&rec);
			xspan_from_rec(&s[i], &rec);
			xspan_set_exe(&s[i], "service");
			proto_by_id(rec.proto)->describe(&rec, NULL, &s[i]);
			sp[i] = &s[i];
		}
	}
	tdd = now() - td;
	t0 = now();
	for (size_t r = 0; r < rounds; r++) {
		const uint8_t *out;
		size_t len;
		if (otlp_encoder_run(enc, &res, sp, batch, 0, &out, &len))
			return 1;
		bytes += len;
	}
	t1 = now();
	for (size_t r = 0; r < rounds / 4; r++) {
		const uint8_t *out;
		size_t len;
		if (otlp_encoder_run(enc, &res, sp, batch, 0, &out, &len))
			return 1;
		if (!zbuf)
			zbuf = malloc(compressBound((uLong)len) + 64);
		deflateReset(&z);
		z.next_in = (Bytef *)out;
		z.avail_in = (uInt)len;
		z.next_out = zbuf;
		z.avail_out = (uInt)compressBound((uLong)len) + 64;
		if (!zbuf || deflate(&z, Z_FINISH) != Z_STREAM_END)
			return 1;
		gz += z.total_out;
	}
	t2 = now();
	for (size_t r = 0; r < rounds / 4; r++) {
		const uint8_t *out;
		size_t len;
		if (otlp_body_encode(&bb, &res, sp, batch, 0, &out, &len) ||
		    otlp_body_gzip(&bb, out, len, &out, &len))
			return 1;
		gzd += len;
	}
	t3 = now();
	printf("describe: %.0f spans/s\n", (double)(batch * rounds) / tdd);
	printf("encode: %.0f spans/s (%.0f bytes/span)\n", (double)(batch * rounds) / (t1 - t0),
	       (double)bytes / (double)(batch * rounds));
	printf("encode+gzip (zlib level 1): %.0f spans/s (%.0f bytes/span gzipped)\n",
	       (double)(batch * (rounds / 4)) / (t2 - t1),
	       (double)gz / (double)(batch * (rounds / 4)));
	printf("encode+gzip (the exporter's, ISA-L level 1): %.0f spans/s (%.0f bytes/span "
	       "gzipped)\n",
	       (double)(batch * (rounds / 4)) / (t3 - t2),
	       (double)gzd / (double)(batch * (rounds / 4)));
	printf("gzip alone: zlib %.2f us/span, the exporter's %.2f us/span\n",
	       ((t2 - t1) / (double)(batch * (rounds / 4)) - (t1 - t0) / (double)(batch * rounds)) *
		   1e6,
	       ((t3 - t2) / (double)(batch * (rounds / 4)) - (t1 - t0) / (double)(batch * rounds)) *
		   1e6);
	deflateEnd(&z);
	otlp_body_free(&bb);
	free(zbuf);
	otlp_encoder_free(enc);
	free(s);
	free(sp);
	free(recs);
	return 0;
}

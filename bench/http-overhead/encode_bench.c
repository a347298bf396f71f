/*
 * encode_bench - spans per second the collector encodes as OTLP protobuf
 * (and gzips) on one core: batches of 512 realistic spans.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "otlp_encode.h"

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
	struct otlp_resource res = {.service = "bench", .host = "host"};
	struct otlp_encoder *enc = otlp_encoder_new(); /* reused, as the exporter does */
	z_stream z = {0};
	uint8_t *zbuf = NULL;
	double t0, t1, t2;

	if (!enc || deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
		return 1;

	for (size_t i = 0; i < batch; i++) {
		for (int j = 0; j < 16; j++)
			s[i].r.trace_id[j] = (uint8_t)(i * 31 + (size_t)j);
		memset(s[i].r.span_id, (int)i + 1, 8);
		s[i].r.kind = i % 2 ? SPAN_SERVER : SPAN_CLIENT;
		s[i].r.status = 200;
		s[i].r.pid = 1000 + (uint32_t)(i % 4);
		s[i].r.start_ns = 1000000 * i;
		s[i].r.end_ns = s[i].r.start_ns + 250000;
		s[i].r.peer_port = 40000;
		strcpy(s[i].r.method, "GET");
		strcpy(s[i].r.host, "api.example.com:8080");
		strcpy(s[i].r.peer, "10.0.0.12");
		snprintf(s[i].path, sizeof(s[i].path), "/users/%zu/orders", i);
		strcpy(s[i].route, "/users/{id}/orders");
		strcpy(s[i].exe, "service");
	}
	t0 = now();
	for (size_t r = 0; r < rounds; r++) {
		const uint8_t *out;
		size_t len;
		if (otlp_encoder_run(enc, &res, s, batch, 0, &out, &len))
			return 1;
		bytes += len;
	}
	t1 = now();
	for (size_t r = 0; r < rounds / 4; r++) {
		const uint8_t *out;
		size_t len;
		if (otlp_encoder_run(enc, &res, s, batch, 0, &out, &len))
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
	printf("encode: %.0f spans/s (%.0f bytes/span)\n", (double)(batch * rounds) / (t1 - t0),
	       (double)bytes / (double)(batch * rounds));
	printf("encode+gzip: %.0f spans/s (%.0f bytes/span gzipped)\n",
	       (double)(batch * (rounds / 4)) / (t2 - t1),
	       (double)gz / (double)(batch * (rounds / 4)));
	deflateEnd(&z);
	free(zbuf);
	otlp_encoder_free(enc);
	free(s);
	return 0;
}

/*
 * otlp_body.c - a batch's request body: its spans encoded, then (when
 * asked) gzip'd, each in slices with a yield between, in buffers kept
 * from batch to batch.
 */
#include "otlp_body.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* Spans encoded at a time, with a yield between (see GZIP_SLICE): 512 take
 * ~80 us since the encoder writes the wire format itself (at 64, the
 * yields cost more than the encoding). Two encoded
 * ExportTraceServiceRequests one after the other are one request with both
 * lists of ResourceSpans (protobuf merges repeated fields), so the slices
 * need no joining. */
#define ENCODE_SLICE 512

int otlp_body_encode(struct otlp_body *bb, const struct otlp_resource *res, const struct xspan *b,
		     size_t n, int64_t off, size_t *outlen)
{
	size_t at = 0;

	if (!bb->enc && !(bb->enc = otlp_encoder_new()))
		return -1;
	for (size_t i = 0; i < n; i += ENCODE_SLICE) {
		size_t m = n - i < ENCODE_SLICE ? n - i : ENCODE_SLICE, len;
		const uint8_t *p;
		if (i)
			sched_yield();
		if (otlp_encoder_run(bb->enc, res, b + i, m, off, &p, &len))
			return -1;
		if (at + len > bb->body_cap) {
			size_t cap = (at + len) * 2;
			uint8_t *nb = realloc(bb->body, cap);
			if (!nb)
				return -1;
			bb->body = nb;
			bb->body_cap = cap;
		}
		memcpy(bb->body + at, p, len);
		at += len;
	}
	*outlen = at;
	return 0;
}

void otlp_body_free(struct otlp_body *bb)
{
	otlp_encoder_free(bb->enc);
	free(bb->body);
	if (bb->z_ready)
		deflateEnd(&bb->z);
	free(bb->gz);
}

/* Compressed in slices with a yield between them: a batch's deflate is a
 * millisecond or more of CPU, which on a busy machine would run as one
 * burst on the app's core (its tail latency). 64 KiB (a few hundred us):
 * at 16 KiB, ten yields a batch on a saturated machine each waited out
 * the app's turn, and the exporter kept up with only 64-86% of the spans
 * at 100% sampling (the rest dropped, queue_full); at 64 KiB, all of
 * them. Level 1: most of the ratio for a third of the CPU
 * (bench/http-overhead). */
#define GZIP_SLICE (64 * 1024)

int otlp_body_gzip(struct otlp_body *bb, const uint8_t *in, size_t len, const uint8_t **out,
		   size_t *outlen)
{
	size_t cap = compressBound((uLong)len) + 64;
	int rc;

	if (cap > bb->gz_cap) {
		free(bb->gz);
		bb->gz = malloc(cap);
		bb->gz_cap = bb->gz ? cap : 0;
		if (!bb->gz)
			return -1;
	}
	if (!bb->z_ready) {
		memset(&bb->z, 0, sizeof(bb->z));
		if (deflateInit2(&bb->z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return -1;
		bb->z_ready = 1;
	} else if (deflateReset(&bb->z) != Z_OK) {
		return -1;
	}
	bb->z.next_in = (Bytef *)in;
	bb->z.next_out = bb->gz;
	bb->z.avail_out = (uInt)cap;
	do {
		size_t left = len - bb->z.total_in;
		int last = left <= GZIP_SLICE;
		bb->z.avail_in = (uInt)(last ? left : GZIP_SLICE);
		rc = deflate(&bb->z, last ? Z_FINISH : Z_NO_FLUSH);
		if (!last)
			sched_yield();
	} while (rc == Z_OK);
	if (rc != Z_STREAM_END)
		return -1;
	*out = bb->gz;
	*outlen = bb->z.total_out;
	return 0;
}

/*
 * otlp_body.c - a batch's request body: its spans encoded in slices with
 * a yield between, then (when asked) gzip'd, in buffers kept from batch to
 * batch.
 */
#include "otlp_body.h"

#include <libdeflate.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* Spans encoded at a time, with a yield between: 512 take
 * ~80 us since the encoder writes the wire format itself (at 64, the
 * yields cost more than the encoding). Two encoded
 * ExportTraceServiceRequests one after the other are one request with both
 * lists of ResourceSpans (protobuf merges repeated fields), so the slices
 * need no joining. */
#define ENCODE_SLICE 512

int otlp_body_encode(struct otlp_body *bb, const struct otlp_resource *res,
		     const struct xspan *const *b, size_t n, int64_t off, const uint8_t **out,
		     size_t *outlen)
{
	size_t at = 0;

	if (!bb->enc && !(bb->enc = otlp_encoder_new()))
		return -1;
	if (n <= ENCODE_SLICE) /* one slice (a default batch): the encoder's buffer, no copy */
		return otlp_encoder_run(bb->enc, res, b, n, off, out, outlen);
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
	*out = bb->body;
	*outlen = at;
	return 0;
}

void otlp_body_free(struct otlp_body *bb)
{
	otlp_encoder_free(bb->enc);
	free(bb->body);
	if (bb->gzc)
		libdeflate_free_compressor(bb->gzc);
	free(bb->gz);
}

/*
 * libdeflate, level 1, the whole body in one call: 0.37 us a span against
 * zlib level 1's 0.92, at the same ratio (bench/http-overhead/encode_bench,
 * spans with random ids; zlib was 40% of the exporter's CPU at 100%
 * sampling). A default batch (512 spans, ~160 KiB) takes ~0.2 ms, about
 * one of the 64 KiB slices zlib was fed between yields; libdeflate has no
 * streaming interface to slice with. A yield before it keeps it from
 * running on from the encoding as one burst: without it, nginx's p99 at
 * 10% sampling was ~15% worse than with zlib (medians of 7 interleaved
 * rounds, 1000 against 860 us), with it the same (860 against 829).
 */
int otlp_body_gzip(struct otlp_body *bb, const uint8_t *in, size_t len, const uint8_t **out,
		   size_t *outlen)
{
	size_t cap, n;

	if (!bb->gzc && !(bb->gzc = libdeflate_alloc_compressor(1)))
		return -1;
	cap = libdeflate_gzip_compress_bound(bb->gzc, len);
	if (cap > bb->gz_cap) {
		free(bb->gz);
		bb->gz = malloc(cap);
		bb->gz_cap = bb->gz ? cap : 0;
		if (!bb->gz)
			return -1;
	}
	sched_yield(); /* not one burst with the encoding */
	n = libdeflate_gzip_compress(bb->gzc, in, len, bb->gz, cap);
	if (!n)
		return -1;
	*out = bb->gz;
	*outlen = n;
	return 0;
}

/*
 * otlp_body.c - a batch's request body: its spans encoded in slices with
 * a yield between, then (when asked) gzip'd, in buffers kept from batch to
 * batch.
 */
#include "otlp_body.h"

#include <isa-l/igzip_lib.h>
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
	free(bb->gz_level);
	free(bb->gz);
}

/* ISA-L's level-1 working memory: its hash table and a token buffer of
 * 16 K tokens (84 KiB). Larger ones (32 K to 128 K tokens, up to 532
 * KiB) gzip'd a batch of spans no faster and would sit in the collector's
 * RSS; 1 K tokens took three times as long. */
#define GZ_LEVEL_BUF ISAL_DEF_LVL1_SMALL

/*
 * ISA-L's igzip, level 1, the whole body in one stateless call: 0.19-0.26
 * us a span against libdeflate level 1's 0.46-0.76 and zlib level 1's
 * ~1.0, at 53 bytes a span against 51 (bench/http-overhead/encode_bench,
 * spans with random ids; gzip was a third of the exporter's CPU at 100%
 * sampling with libdeflate). A default batch (512 spans, ~160 KiB) takes
 * ~0.1 ms. A yield before it keeps it from running on from the encoding
 * as one burst: without one, nginx's p99 at 10% sampling was ~15% worse
 * (measured with libdeflate, which took twice as long).
 */
int otlp_body_gzip(struct otlp_body *bb, const uint8_t *in, size_t len, const uint8_t **out,
		   size_t *outlen)
{
	struct isal_zstream z;
	/* stateless output never passes the input in stored blocks (5 bytes
	 * a 64 KiB block) plus the gzip header and trailer */
	size_t cap = len + (len >> 12) + 1024;

	if (len > UINT32_MAX - (UINT32_MAX >> 12) - 1024) /* avail_in/out are 32 bits */
		return -1;
	if (!bb->gz_level && !(bb->gz_level = malloc(GZ_LEVEL_BUF)))
		return -1;
	if (cap > bb->gz_cap) {
		free(bb->gz);
		bb->gz = malloc(cap);
		bb->gz_cap = bb->gz ? cap : 0;
		if (!bb->gz)
			return -1;
	}
	isal_deflate_stateless_init(&z);
	z.gzip_flag = IGZIP_GZIP;
	z.level = 1;
	z.level_buf = bb->gz_level;
	z.level_buf_size = GZ_LEVEL_BUF;
	z.end_of_stream = 1;
	z.flush = NO_FLUSH;
	z.next_in = (uint8_t *)in; /* not written: the API's pointer is not const */
	z.avail_in = (uint32_t)len;
	z.next_out = bb->gz;
	z.avail_out = (uint32_t)cap;
	sched_yield(); /* not one burst with the encoding */
	if (isal_deflate_stateless(&z) != COMP_OK)
		return -1;
	*out = bb->gz;
	*outlen = z.total_out;
	return 0;
}

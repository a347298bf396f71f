/*
 * otlp_body - the export thread's request body for a batch of spans: the
 * OTLP encoding, in slices with a yield between (a large batch's work in
 * one run would be a burst on a busy app's core), and its gzip. The
 * buffers and the compressor are kept from batch to batch; the thread
 * owns them.
 */
#ifndef OBS_OTLP_BODY_H
#define OBS_OTLP_BODY_H
#include <stddef.h>
#include <stdint.h>

#include "otlp_encode.h"

struct otlp_body {
	struct otlp_encoder *enc;
	uint8_t *body; /* a request of several slices: their encodings, one after another */
	size_t body_cap;
	uint8_t *gz_level; /* the compressor's working memory */
	uint8_t *gz;
	size_t gz_cap;
};

/* The n spans b points to as one ExportTraceServiceRequest: *out, *outlen
 * bytes, valid until the next call (off: CLOCK_REALTIME - CLOCK_MONOTONIC).
 * -1: out of memory. */
int otlp_body_encode(struct otlp_body *bb, const struct otlp_resource *res,
		     const struct xspan *const *b, size_t n, int64_t off, const uint8_t **out,
		     size_t *outlen);
/* len bytes at in, gzip'd: *out (bb's), *outlen bytes. -1 on failure. */
int otlp_body_gzip(struct otlp_body *bb, const uint8_t *in, size_t len, const uint8_t **out,
		   size_t *outlen);
void otlp_body_free(struct otlp_body *bb);

#endif

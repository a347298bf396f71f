/*
 * otlp_encode - spans as OTLP: protobuf ExportTraceServiceRequest (the
 * field numbers of the official .proto files, written with pbwire.h), the
 * partial-success response (protobuf-c), and
 * the JSON-lines form obs writes when no OTLP endpoint is configured.
 * Spans arrive described (xspan.h): attributes are written as they are,
 * whatever protocol they came from.
 * No I/O except the FILE* the JSON writer is handed.
 */
#ifndef OBS_OTLP_ENCODE_H
#define OBS_OTLP_ENCODE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "xspan.h"

#define OTLP_MAX_RES_ATTRS 32

struct otlp_resource {
	const char *service;
	const char *host;
	size_t nattrs; /* OTEL_RESOURCE_ATTRIBUTES */
	const char *keys[OTLP_MAX_RES_ATTRS];
	const char *vals[OTLP_MAX_RES_ATTRS];
};

/* Parse OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2", values percent-decoded)
 * into res, with storage in buf. -1 and err on a malformed list. */
int otlp_parse_resource_attrs(const char *s, struct otlp_resource *res, char *buf, size_t buflen,
			      char *err, size_t errlen);

/* An encoder: buffers reused from one batch to the next (one owner). */
struct otlp_encoder;
struct otlp_encoder *otlp_encoder_new(void);
void otlp_encoder_free(struct otlp_encoder *e);
/* Encode the n spans s[0..n) points to into the encoder's buffer: *out is
 * valid until the next run or free. unix_off: add to a CLOCK_MONOTONIC
 * time to get Unix time. Returns 0 or -1 (OOM). */
int otlp_encoder_run(struct otlp_encoder *e, const struct otlp_resource *res,
		     const struct xspan *const *s, size_t n, int64_t unix_off, const uint8_t **out,
		     size_t *len);
/* Decode an ExportTraceServiceResponse: rejected spans and message. -1 if
 * the bytes are not one. An empty body is a full success. */
int otlp_decode_response(const uint8_t *buf, size_t len, int64_t *rejected, char *msg,
			 size_t msglen);
/* One JSON object per line per span. */
void otlp_write_json(FILE *f, const struct otlp_resource *res, const struct xspan *const *s,
		     size_t n, int64_t unix_off);
#endif

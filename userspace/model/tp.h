/*
 * tp - W3C Trace Context: parse and format `traceparent`, validate
 * `tracestate`. Pure: shared by the shim and the collector.
 *
 * Follows W3C Trace Context Level 2 (2024): version 00 is exactly
 * "vv-<32 hex>-<16 hex>-<2 hex>", lowercase hex only; version ff is
 * invalid; all-zero trace-id or parent-id is invalid; a higher version is
 * parsed as 00 if its first 55 characters match, and what follows them
 * must start with '-'. We always send version 00.
 */
#ifndef OBS_TP_H
#define OBS_TP_H
#include <stddef.h>
#include <stdint.h>

#define TP_LEN		      55 /* "00-" 32 "-" 16 "-" 2 */
#define TP_FLAG_SAMPLED	      0x01
#define TP_FLAG_RANDOM	      0x02 /* Level 2: trace-id is random */
#define TP_TRACESTATE_MAX     512  /* we propagate at most this much */
#define TP_TRACESTATE_MEMBERS 32

struct tp_ctx {
	uint8_t trace_id[16];
	uint8_t span_id[8]; /* the parent-id field */
	uint8_t flags;
	uint8_t version;
};

enum tp_result {
	TP_OK = 0,
	TP_ERR_LENGTH,	 /* wrong length for the version */
	TP_ERR_FORMAT,	 /* not lowercase hex, or a separator missing */
	TP_ERR_VERSION,	 /* version ff */
	TP_ERR_TRACE_ID, /* all zero */
	TP_ERR_SPAN_ID,	 /* all zero */
};

/* Parse a header value (leading/trailing spaces and tabs allowed). */
enum tp_result tp_parse(const char *s, size_t len, struct tp_ctx *out);
/* Write 55 characters plus NUL; always version 00, known flags only. */
void tp_format(const struct tp_ctx *c, char out[TP_LEN + 1]);
/* A new root context from 24 random bytes (trace id, span id). */
void tp_new_root(struct tp_ctx *c, const uint8_t random[24], int sampled);
/* A child: same trace and flags, new span id from 8 random bytes. */
void tp_new_child(struct tp_ctx *child, const struct tp_ctx *parent, const uint8_t random[8]);
/* 0 if a tracestate value is valid per the spec (keys, values, at most
 * 32 members, no duplicate keys), else -1. */
int tp_tracestate_valid(const char *s, size_t len);
/* TraceIdRatioBased's number for a trace id: its last 8 bytes, top 53
 * bits; a trace is sampled at ratio r when this is below r * 2^53. */
uint64_t tp_ratio_key(const uint8_t trace_id[16]);
const char *tp_strerror(enum tp_result r);
/* Lowercase hex of n bytes into out (2n chars + NUL). */
void tp_hex(const uint8_t *b, size_t n, char *out);

#endif

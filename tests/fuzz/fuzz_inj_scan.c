/*
 * libFuzzer: inj_scan.h's request-head scanners, the code the kernel runs
 * before it injects into a Go program's request. Whenever inj_head_scan
 * calls a head whole, the collector's HTTP/1 parser and tp_parse must read
 * the same head to the same byte, with the same parent and ids;
 * inj_out_scan must say what a plain reading says (inj_ref.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/types.h>

#include "http1.h"
#include "inj_scan.h"
#include "tp.h"
#include "../unit/inj_ref.h"

/* inj_out_scan, on the same bytes in a buffer with its room */
static void out_check(const uint8_t *data, size_t size)
{
	uint8_t b[INJ_SCAN_ROOM] = {0};
	uint32_t at = 0, tp = 0, rat = 0, rtp = 0;
	int r, want;

	memcpy(b, data, size);
	r = inj_out_scan(b, (__u32)size, &at, &tp);
	want = out_ref((const char *)b, size, &rat, &rtp);
	if (r != want || (!r && (at != rat || tp != rtp)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inj_head h;
	struct ref r;

	if (size > INJ_SCAN_MAX)
		return 0;
	out_check(data, size);
	if (inj_head_scan(data, (__u32)size, &h))
		return 0;
	ref_read((const char *)data, size, &r);
	if (r.head_len != h.head_len || r.has_parent != h.has_parent)
		abort();
	if (h.has_parent && (memcmp(h.trace_id, r.tp.trace_id, 16) ||
			     memcmp(h.span_id, r.tp.span_id, 8) || h.flags != r.tp.flags))
		abort();
	return 0;
}

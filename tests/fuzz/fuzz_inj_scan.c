/*
 * libFuzzer: inj_scan.h's request-head scanner, the code the kernel is to
 * run before it injects into a Go program's request. Whenever it calls a
 * head whole, the collector's HTTP/1 parser and tp_parse must read the
 * same head to the same byte, with the same parent and ids.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

#include "http1.h"
#include "inj_scan.h"
#include "tp.h"
#include "../unit/inj_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inj_head h;
	struct ref r;

	if (size > INJ_SCAN_MAX || inj_head_scan(data, (__u32)size, &h))
		return 0;
	ref_read((const char *)data, size, &r);
	if (r.head_len != h.head_len || r.has_parent != h.has_parent)
		abort();
	if (h.has_parent && (memcmp(h.trace_id, r.tp.trace_id, 16) ||
			     memcmp(h.span_id, r.tp.span_id, 8) || h.flags != r.tp.flags))
		abort();
	return 0;
}

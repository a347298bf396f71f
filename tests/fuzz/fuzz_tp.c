/*
 * libFuzzer: traceparent / tracestate. Whatever parses must format to a
 * valid version-00 value that parses back to the same ids.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_ctx c, back;
	char out[TP_LEN + 1];

	tp_tracestate_valid((const char *)data, size);
	if (tp_parse((const char *)data, size, &c) != TP_OK)
		return 0;
	tp_format(&c, out);
	if (strlen(out) != TP_LEN || tp_parse(out, TP_LEN, &back) != TP_OK)
		abort();
	if (memcmp(c.trace_id, back.trace_id, 16) || memcmp(c.span_id, back.span_id, 8) ||
	    back.version != 0 || (back.flags & ~(TP_FLAG_SAMPLED | TP_FLAG_RANDOM)) ||
	    (back.flags & TP_FLAG_SAMPLED) != (c.flags & TP_FLAG_SAMPLED))
		abort();
	return 0;
}

/*
 * libFuzzer: the span ring's reader against cells a hostile process wrote.
 * The input is the ring's memory as the app left it (header positions and
 * every cell: sequences, counts of cells, lengths, packed records); the
 * collector drains it. It must never read or write out of bounds, never
 * loop without end, and every record it gives passes spanrec_check with
 * its strings inside what was written; a wake position it moved never
 * has the ring armed beyond what was asked. Then an honest producer still
 * gets records through, whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spanring.h"

#define CAP 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t mem[sizeof(struct spanring_hdr) + CAP * sizeof(struct spanring_cell)]
	    __attribute__((aligned(64))); /* as mmap gives it */
	struct spanring r;
	struct span_rec out, rec;
	uint64_t skipped = 0, head, tail;
	size_t n;

	memset(mem, 0, sizeof(mem));
	if (spanring_init(&r, mem, CAP))
		abort();
	/* the positions from the input's first bytes, near each other */
	if (size < 4)
		return 0;
	tail = data[0] | (uint64_t)data[1] << 8;
	head = tail + data[2] % (2 * CAP);
	r.hdr->tail = tail;
	r.hdr->head = head;
	/* a wake position the producer may have moved: armed only where the
	 * wake is still to come, within what the collector asked */
	r.hdr->wake_pos = tail + data[3] - 128;
	if (spanring_armed(&r, CAP / 2) &&
	    (r.hdr->wake_pos <= head || r.hdr->wake_pos - tail > CAP / 2))
		abort();
	data += 4;
	size -= 4;
	n = size < CAP * sizeof(struct spanring_cell) ? size : CAP * sizeof(struct spanring_cell);
	memcpy(r.cells, data, n);
	/* drain: every step moves the tail or stalls; bounded either way */
	for (int i = 0; i < 4 * CAP; i++) {
		uint64_t before = r.hdr->tail;

		if (spanring_pop(&r, &out, 1 + (uint64_t)i * 10, 5, &skipped)) {
			if (r.hdr->tail <= before || r.hdr->tail - before > SPANRING_RECORD_CELLS)
				abort();
			spanrec_check(&out);
			for (unsigned a = 0; a < out.nattrs; a++)
				if (out.attrs[a].type == SPANREC_STR &&
				    (size_t)out.attrs[a].off + out.attrs[a].len >= out.str_used)
					abort();
			if (out.tracestate_len > TP_TRACESTATE_MAX)
				abort();
		}
	}
	/* an honest producer and reader on a fresh ring: whole records */
	memset(mem, 0, sizeof(mem));
	if (spanring_init(&r, mem, CAP))
		abort();
	memset(&rec, 0, sizeof(rec));
	rec.proto = 1;
	rec.pid = 42;
	spanrec_put_str(&rec, 2, (const char *)data, size < 300 ? size : 300);
	if (spanring_push(&r, &rec) < 0 || !spanring_pop(&r, &out, 1, 5, NULL) || out.pid != 42 ||
	    out.str_used != rec.str_used || memcmp(out.str, rec.str, rec.str_used) ||
	    spanrec_check(&out))
		abort();
	return 0;
}

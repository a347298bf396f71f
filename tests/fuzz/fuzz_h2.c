/*
 * libFuzzer: the HTTP/2 frame reader with HPACK decoding of every block,
 * as the shim runs them. Input is fed in pieces whose size comes from the
 * first byte; the reader must consume progress on every call, never hand
 * out a block larger than H2_BLOCK_MAX or DATA beyond the input, and
 * report the same events however the bytes are split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2.h"
#include "hpack.h"

static void on_field(void *arg, const char *name, size_t nlen, const char *value, size_t vlen,
		     int never_index)
{
	(void)arg;
	(void)name;
	(void)nlen;
	(void)value;
	(void)vlen;
	(void)never_index;
}

static struct h2_reader rd;
static struct hpack_dec dec;

/* Returns a digest of the events seen. */
static uint64_t run(const uint8_t *d, size_t n, size_t step, int client_side)
{
	uint64_t digest = 1469598103934665603ULL;

	h2_init(&rd, client_side);
	hpack_dec_init(&dec, HPACK_DEFAULT_TABLE);
	while (n) {
		size_t take = step < n ? step : n, off = 0;
		while (off < take) {
			struct h2_ev ev;
			enum h2_event e;
			size_t used = h2_feed(&rd, d + off, take - off, &ev, &e);
			if (used == 0 || used > take - off)
				abort();
			off += used;
			if (e == H2_EV_ERROR)
				return digest ^ 0xe;
			if (e == H2_EV_HEADERS) {
				if (ev.len > H2_BLOCK_MAX)
					abort();
				if (!ev.push)
					hpack_decode(&dec, ev.data, ev.len, on_field, NULL);
			}
			if (e == H2_EV_DATA && ev.len &&
			    (ev.data < d || ev.data + ev.len > d + take))
				abort();
			if (e != H2_NEED_MORE && e != H2_EV_DATA)
				digest =
				    (digest ^ ((uint64_t)e << 32 | ev.stream)) * 1099511628211ULL;
			if (e == H2_EV_DATA && ev.end_stream)
				digest = (digest ^ (0xd0ULL << 32 | ev.stream)) * 1099511628211ULL;
		}
		d += take;
		n -= take;
	}
	return digest;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	size_t step;
	int client;

	if (n < 2)
		return 0;
	step = 1 + d[0] % 64;
	client = d[1] & 1;
	d += 2;
	n -= 2;
	if (run(d, n, n ? n : 1, client) != run(d, n, step, client))
		abort(); /* splitting changed what was seen */
	return 0;
}

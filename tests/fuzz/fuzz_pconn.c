/*
 * libFuzzer: a followed connection as the shim drives it (pconn.h with
 * every registered protocol), bytes both ways. The input is a script:
 * its first byte picks the side (server or client); then each step is an
 * op byte, a length and that many bytes: the app reads them (fed in), or
 * writes them through a socket that takes a fuzzed number of bytes per
 * call (short writes, 0 = EAGAIN), or the connection ends.
 *
 * Never harm the app: it is never told more of its bytes left than it
 * offered, every byte it is told left is on the wire in its order (HTTP/1
 * only adds fields: the app's bytes are a subsequence of the wire; HTTP/2
 * rewrites frame headers, so there the counts are checked), nothing
 * crashes, leaks or reads out of bounds (ASan/UBSan), and every record
 * written is well-formed (spanrec_check keeps every attribute). The host
 * is the unit tests' (tests/unit/proto_testhost.h); with the first byte's
 * bit 1 it also takes some exchanges without a record (emit_again).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_testhost.h"
#include "registry.h"

static struct proto_conn pc;
static int agains;

/* A host that counts some exchanges without their record (emit_again),
 * declines others: both of the module's ways out. */
static int fz_again(struct proto_conn *c, const struct exchange *x, uint16_t error, uint64_t ts)
{
	(void)c, (void)x, (void)error, (void)ts;
	return agains++ & 1 ? -1 : 0;
}
static struct th_wire w;
static uint8_t app[1 << 16]; /* the app's bytes told as sent, in order */

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	size_t napp = 0, off = 1;
	int multiplexed = 0;

	if (n < 1 || n > 4096)
		return 0; /* the app's bytes and ours fit the test wire */
	static struct proto_host again_host;

	th_reset();
	again_host = th_host;
	again_host.emit_again = fz_again;
	pconn_init(&pc, d[0] & 2 ? &again_host : &th_host, proto_handlers,
		   d[0] & 1 ? PROTO_CLIENT : PROTO_SERVER);
	w.n = 0;
	while (off + 2 <= n) {
		uint8_t op = d[off], len = d[off + 1];
		const uint8_t *p = d + off + 2;
		size_t m = len <= n - off - 2 ? len : n - off - 2;

		off += 2 + m;
		if ((op & 3) == 0) {
			pconn_feed(&pc, PROTO_IN, p, m, th_now());
		} else if ((op & 3) == 3) {
			pconn_eof(&pc, th_now());
		} else {
			/* the app writes p[0..m), re-presenting what did not go,
			 * on a socket taking op >> 2 bytes a call (0: EAGAIN) */
			size_t done = 0;
			int tries = 0;
			w.take = op >> 2 ? op >> 2 : 64;
			w.eagain = !(op >> 2);
			while (done < m && tries++ < 4) {
				struct iovec v[2] = {{(void *)(p + done), (m - done) / 2},
						     {(void *)(p + done + (m - done) / 2),
						      m - done - (m - done) / 2}};
				ssize_t k = pconn_write(&pc, v, 2, th_io, &w);
				if (k < 0)
					continue;
				if ((size_t)k > m - done)
					abort(); /* told more than it offered */
				memcpy(app + napp, p + done, (size_t)k);
				napp += (size_t)k;
				done += (size_t)k;
			}
		}
		multiplexed |= pconn_multiplexed(&pc);
	}
	pconn_eof(&pc, th_now());
	for (int i = 0; i < th.nrec; i++)
		if (spanrec_check(&th.recs[i]))
			abort(); /* a record that is not well-formed */
	if (w.n < napp && w.n < sizeof(w.b))
		abort(); /* bytes told as sent that never reached the wire */
	if (!multiplexed && w.n < sizeof(w.b)) {
		/* every byte the app was told left is on the wire, in order */
		size_t j = 0;
		for (size_t i = 0; i < w.n && j < napp; i++)
			if ((uint8_t)w.b[i] == app[j])
				j++;
		if (j != napp)
			abort();
	}
	pconn_release(&pc);
	return 0;
}

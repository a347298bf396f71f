/*
 * libFuzzer: a connection as kernel-side capture drives it (kcap.c): bytes
 * both ways through every registered protocol, each read or write cut to
 * what the kernel copied and the rest skipped (pconn_skip: HTTP/1 bodies,
 * HTTP/2 DATA payloads; anything else ends the connection). The input is
 * a script: its first byte picks the side; then each step is an op byte,
 * a length and that many bytes: op & 1 the direction, op >> 1 how many of
 * them were copied (the rest are skipped), or the connection ends.
 *
 * Nothing crashes, leaks or reads out of bounds (ASan/UBSan), a skip never
 * makes a parser read past its input, and every record is well-formed.
 */
#include <stdint.h>
#include <stdlib.h>

#include "proto_testhost.h"
#include "registry.h"

static struct proto_conn pc;

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	size_t off = 1;

	if (n < 1 || n > 8192)
		return 0;
	th_reset();
	pconn_init(&pc, &th_host, proto_handlers, d[0] & 1 ? PROTO_CLIENT : PROTO_SERVER);
	while (off + 2 <= n) {
		uint8_t op = d[off], len = d[off + 1];
		const uint8_t *p = d + off + 2;
		size_t m = len <= n - off - 2 ? len : n - off - 2, copied;
		enum proto_dir dir = op & 1 ? PROTO_OUT : PROTO_IN;

		off += 2 + m;
		if (op == 0xff) {
			pconn_eof(&pc, th_now());
			continue;
		}
		/* what the kernel copied of a syscall that moved m bytes */
		copied = (size_t)(op >> 1) * 4;
		if (copied > m)
			copied = m;
		pconn_feed(&pc, dir, p, copied, th_now());
		if (m > copied)
			pconn_skip(&pc, dir, m - copied, th_now());
	}
	pconn_eof(&pc, th_now());
	for (int i = 0; i < th.nrec; i++)
		if (spanrec_check(&th.recs[i]))
			abort(); /* a record that is not well-formed */
	pconn_release(&pc);
	return 0;
}

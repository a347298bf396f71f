// SPDX-License-Identifier: GPL-2.0
/*
 * capture_wide.bpf.h - which connections capture.bpf.c follows at 64 KiB
 * per read or write instead of one 512-byte chunk: those whose parser
 * needs every frame or message header, known by the first 8 bytes that
 * went each way. Pure: a function of those bytes.
 */
#ifndef CAPTURE_WIDE_BPF_H
#define CAPTURE_WIDE_BPF_H
#include "obs.h"

enum cap_first {
	CAP_FIRST_NARROW, /* one chunk's worth: HTTP/1, or not known */
	CAP_FIRST_WIDE,	  /* 64 KiB */
	CAP_FIRST_AGAIN,  /* not yet known: look at the next call's bytes too */
};

/* A Redis command as a client sends it: a RESP array of up to 999 bulk
 * strings ("*3\r\n$3\r\nSET..."), its 8 first bytes in head. */
static __always_inline int resp_command(__u64 head)
{
	__u8 b[8];

	__builtin_memcpy(b, &head, 8);
	if (b[0] != '*' || b[1] < '1' || b[1] > '9')
		return 0;
	for (int i = 2; i < 5; i++) {
		if (b[i] == '\r')
			return b[i + 1] == '\n' && b[i + 2] == '$';
		if (b[i] < '0' || b[i] > '9')
			return 0;
	}
	return 0;
}

/* A MySQL or MariaDB server's greeting, the first thing a client reads: a
 * packet of 32 to 1024 bytes, sequence 0, protocol 10, a version that
 * starts with a digit (mywire.h's myw_is_greeting), its 8 first bytes in
 * head. */
static __always_inline int my_greeting(__u64 head)
{
	__u32 len = (__u32)(head & 0xffffff);
	__u8 v = (__u8)(head >> 40);

	return len >= 32 && len <= 1024 && (__u8)(head >> 24) == 0 && (__u8)(head >> 32) == 10 &&
	       v >= '1' && v <= '9';
}

/* head: the first 8 bytes a connection's calls moved in direction kind.
 * HTTP/2's client preface opens the client's side ("PRI * HTTP/2.0"; a
 * server may write first); a PostgreSQL StartupMessage (a length below
 * 64 KiB, protocol 3.0), a RESP command or a MySQL server's greeting (read:
 * the server speaks first) a client's of a data store. An SSLRequest or
 * GSSENCRequest (8 bytes, code 1234.5679/5680) may precede a
 * StartupMessage: the client's next write is looked at too. */
static __always_inline int cap_first_bytes(__u64 head, __u32 kind)
{
	if ((__u32)head == 0x20495250) /* "PRI " */
		return CAP_FIRST_WIDE;
	if (kind == OBS_CAP_OUT && (head >> 32) == 0x300 && !(head & 0xffff))
		return CAP_FIRST_WIDE;
	if (kind == OBS_CAP_OUT && resp_command(head))
		return CAP_FIRST_WIDE;
	if (kind == OBS_CAP_IN && my_greeting(head))
		return CAP_FIRST_WIDE;
	if (kind == OBS_CAP_OUT && (head == 0x2f16d20408000000ULL || head == 0x3016d20408000000ULL))
		return CAP_FIRST_AGAIN;
	return CAP_FIRST_NARROW;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * inj_scan.h - what the kernel will need to inject a traceparent into a Go
 * program's outgoing request (docs/design.md, "injection into a Go
 * program's requests"), as pure code that compiles for BPF and for
 * userspace alike, so the collector and its tests run the very code the
 * kernel runs:
 *
 *   inj_head_scan  reads the first bytes of a request a server read: is
 *                  its head whole there, and which parent does it name?
 *                  Strict: it says "whole" only for heads the collector's
 *                  HTTP/1 parser reads the same way (CRLF lines, token
 *                  names, no folding), and reads the traceparent by
 *                  tp_parse's rules, so both sides cannot disagree about
 *                  a parent (tests/unit/test_inj_scan.c feeds both).
 *   inj_out_scan   finds where a field may go in an outgoing request head
 *                  (net/http's own), and whether it has a traceparent.
 *   inj_sip        SipHash-2-4 of two words, and inj_derive_ids with it:
 *                  the server span's id and a root's trace id, derived
 *                  from (connection, sequence number of the read that
 *                  began the request) with a key made per run, by the
 *                  kernel and the collector alike (inj_root_flags: its
 *                  flags).
 *
 * The includer provides __u8, __u32 and __u64 (vmlinux.h, linux/types.h).
 */
#ifndef OBS_INJ_SCAN_H
#define OBS_INJ_SCAN_H

#define INJ_SCAN_MAX 512 /* bytes of a read kept and scanned */
/* A buffer BPF scans has this much room: a field's name or value read at
 * a masked offset may run past INJ_SCAN_MAX as far as the verifier sees */
#define INJ_SCAN_ROOM (INJ_SCAN_MAX + 64)
#define INJ_TP_LEN    55 /* "00-" 32 "-" 16 "-" 2 */

struct inj_head {
	__u32 head_len;	 /* bytes up to and including the blank line */
	__u8 has_parent; /* exactly one traceparent, and valid */
	__u8 flags;	 /* its trace-flags */
	__u8 tp_count;	 /* traceparent fields seen */
	__u8 pad;
	__u8 trace_id[16];
	__u8 span_id[8]; /* the parent-id field */
};

enum inj_scan_state {
	INJ_S_METHOD,
	INJ_S_TARGET,
	INJ_S_VERSION,
	INJ_S_REQ_LF,
	INJ_S_LINE,  /* a header line's first byte, or the blank line's CR */
	INJ_S_NAME,  /* a header name */
	INJ_S_VALUE, /* a header value */
	INJ_S_LF,    /* after a header line's CR */
	INJ_S_END_LF /* after the blank line's CR */
};

static inline int inj_tchar(__u8 c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
	       c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' ||
	       c == '~';
}

static inline int inj_hex(__u8 c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* n bytes of lowercase hex at s into out[n / 2]; -1 if one is not. */
static inline int inj_unhex(const __u8 *s, __u8 *out, __u32 n)
{
	for (__u32 i = 0; i < n && i < 32; i += 2) {
		int hi = inj_hex(s[i]), lo = inj_hex(s[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (__u8)(hi << 4 | lo);
	}
	return 0;
}

static inline int inj_zero(const __u8 *b, __u32 n)
{
	__u8 any = 0;

	for (__u32 i = 0; i < n && i < 16; i++)
		any |= b[i];
	return !any;
}

/* A traceparent value, blanks trimmed, by tp_parse's rules; 0 if valid. */
static inline int inj_tp_parse(const __u8 *v, __u32 len, struct inj_head *h)
{
	__u8 version;

	if (len < INJ_TP_LEN || inj_unhex(v, &version, 2) || version == 0xff)
		return -1;
	/* version 00 is exactly 55 characters; later ones may go on after '-' */
	if (version == 0 ? len != INJ_TP_LEN : (len > INJ_TP_LEN && v[INJ_TP_LEN] != '-'))
		return -1;
	if (v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -1;
	if (inj_unhex(v + 3, h->trace_id, 32) || inj_unhex(v + 36, h->span_id, 16) ||
	    inj_unhex(v + 53, &h->flags, 2))
		return -1;
	if (inj_zero(h->trace_id, 16) || inj_zero(h->span_id, 8))
		return -1;
	return 0;
}

/* The name at b (n bytes) is want (lowercase, wn bytes), in any case? */
static inline int inj_name_is(const __u8 *b, __u32 n, const char *want, __u32 wn)
{
	if (n != wn)
		return 0;
	for (__u32 i = 0; i < wn; i++) /* (wn: a constant where inlined) */
		if ((b[i] | 0x20) != want[i])
			return 0;
	return 1;
}

/* The fields the scanner reads. */
enum { INJ_F_OTHER, INJ_F_TP, INJ_F_LENGTH, INJ_F_CODING };

static inline int inj_field(const __u8 *b, __u32 n)
{
	if (inj_name_is(b, n, "traceparent", 11))
		return INJ_F_TP;
	if (inj_name_is(b, n, "content-length", 14))
		return INJ_F_LENGTH;
	if (inj_name_is(b, n, "transfer-encoding", 17))
		return INJ_F_CODING;
	return INJ_F_OTHER;
}

/* A field's value (blanks trimmed) the collector's parser takes without
 * error: a length of 1-18 digits; of codings, only "chunked" (it accepts
 * more, and refuses others: the scanner keeps to what it is sure of). */
static inline int inj_value_ok(int field, const __u8 *v, __u32 len)
{
	if (field == INJ_F_LENGTH) {
		if (len == 0 || len > 18)
			return 0;
		for (__u32 i = 0; i < len && i < 18; i++)
			if (v[i] < '0' || v[i] > '9')
				return 0;
	} else if (field == INJ_F_CODING) {
		return inj_name_is(v, len, "chunked", 7);
	}
	return 1;
}

/* A scan in progress: one byte at a time (inj_scan_byte), so that BPF
 * runs it as a bpf_loop callback, verified once rather than per byte. */
struct inj_scan {
	const __u8 *b;
	struct inj_head *h;
	__u32 n, st, mark, name_at, val_at, val_end, tp_at, tp_len, lengths;
	int field;
	int result; /* 0: whole; -1: given up or not whole (yet) */
};

/* Byte i of s->b: 0 to go on, 1 when the scan is over (s->result). */
static inline int inj_scan_byte(struct inj_scan *s, __u32 i)
{
	const __u8 *b = s->b;
	__u8 c;

	if (i >= s->n || i >= INJ_SCAN_MAX)
		return 1;
	c = b[i & (INJ_SCAN_MAX - 1)];
	switch (s->st) {
	case INJ_S_METHOD:
		if (c == ' ' && i > 0 && i < 16)
			s->st = INJ_S_TARGET, s->mark = i + 1;
		else if (c < 'A' || c > 'Z')
			return 1;
		break;
	case INJ_S_TARGET:
		if (c == ' ' && i > s->mark)
			s->st = INJ_S_VERSION, s->mark = i + 1;
		else if (c <= ' ' || c >= 0x7f)
			return 1;
		break;
	case INJ_S_VERSION: /* "HTTP/1.d" then CR */
		if (i - s->mark == 8) {
			if (c != '\r')
				return 1;
			s->st = INJ_S_REQ_LF;
		} else if (i - s->mark == 7 ? c < '0' || c > '9'
					    : c != "HTTP/1."[(i - s->mark) & 7]) {
			return 1;
		}
		break;
	case INJ_S_REQ_LF:
	case INJ_S_LF:
		if (c != '\n')
			return 1;
		s->st = INJ_S_LINE;
		break;
	case INJ_S_LINE:
		if (c == '\r') {
			s->st = INJ_S_END_LF;
			break;
		}
		if (!inj_tchar(c))
			return 1; /* folding, or not a name */
		s->st = INJ_S_NAME, s->name_at = i;
		break;
	case INJ_S_NAME:
		if (c == ':') {
			s->field = inj_field(b + (s->name_at & (INJ_SCAN_MAX - 1)), i - s->name_at);
			s->st = INJ_S_VALUE, s->val_at = i + 1, s->val_end = i + 1;
		} else if (!inj_tchar(c)) {
			return 1;
		}
		break;
	case INJ_S_VALUE:
		if (c == '\r') {
			if (s->field == INJ_F_TP) {
				s->h->tp_count++;
				s->tp_at = s->val_at;
				s->tp_len = s->val_end - s->val_at;
			} else if (!inj_value_ok(s->field, b + (s->val_at & (INJ_SCAN_MAX - 1)),
						 s->val_end - s->val_at) ||
				   (s->field == INJ_F_LENGTH && s->lengths++)) {
				return 1; /* the collector may refuse it: say nothing */
			}
			s->st = INJ_S_LF;
		} else if (c == ' ' || c == '\t') {
			if (s->val_at == i)
				s->val_at = s->val_end = i + 1; /* leading blanks */
		} else if (c < ' ' || c == 0x7f) {
			return 1;
		} else {
			s->val_end = i + 1; /* trailing blanks stay out */
		}
		break;
	case INJ_S_END_LF:
		if (c == '\n') {
			s->h->head_len = i + 1;
			s->result = 0;
		}
		return 1;
	}
	return 0;
}

#ifdef __bpf__
static long inj_scan_cb(__u32 i, void *ctx)
{
	return inj_scan_byte(ctx, i);
}
#endif

/*
 * The request head at b (n bytes, at most INJ_SCAN_MAX; in BPF, b has
 * INJ_SCAN_ROOM bytes of room): 0 and *h filled if it is whole there and strictly
 * formed, else -1 (then nothing may be said about its parent: the caller
 * injects nothing).
 */
static inline int inj_head_scan(const __u8 *b, __u32 n, struct inj_head *h)
{
	struct inj_scan s = {.b = b, .h = h, .n = n, .st = INJ_S_METHOD, .result = -1};

	h->head_len = 0;
	h->has_parent = 0;
	h->tp_count = 0;
	h->flags = 0;
#ifdef __bpf__
	bpf_loop(INJ_SCAN_MAX, inj_scan_cb, &s, 0);
#else
	for (__u32 i = 0; i < INJ_SCAN_MAX; i++)
		if (inj_scan_byte(&s, i))
			break;
#endif
	if (s.result)
		return -1;
	if (h->tp_count == 1 && s.tp_len <= INJ_SCAN_MAX &&
	    !inj_tp_parse(b + (s.tp_at & (INJ_SCAN_MAX - 1)), s.tp_len, h))
		h->has_parent = 1;
	return 0;
}

/* An outgoing request head, as a Go program's net/http wrote it: where a
 * field may go (before the blank line), and whether it carries a
 * traceparent already. Read a word at a time: only its line ends are
 * looked at (the kernel runs this inside the program's write). */
struct inj_out {
	const __u8 *b;
	__u32 n;
	__u32 pos;   /* where the next step reads */
	__u32 lines; /* line ends seen */
	__u32 end;   /* the head's length (0: not found yet) */
	__u32 bad;   /* its first line is not "... HTTP/1.d" */
	__u32 tp;    /* a traceparent field seen */
};

/* Line end at p (b[p] == '\n', p < n): 1 when the scan is over. */
static inline int inj_out_lf(struct inj_out *o, __u32 p)
{
	const __u8 *b = o->b;
	const char want[] = "traceparent:";

	if (!o->lines++) { /* the request line: "... HTTP/1.d\r\n" */
		__u8 d = b[(p - 2) & (INJ_SCAN_MAX - 1)];

		o->bad = p < 10 || b[(p - 1) & (INJ_SCAN_MAX - 1)] != '\r' || d < '0' || d > '9' ||
			 b[(p - 10) & (INJ_SCAN_MAX - 1)] != ' ';
		for (__u32 k = 0; k < 7; k++)
			o->bad |= b[(p - 9 + k) & (INJ_SCAN_MAX - 1)] != "HTTP/1."[k];
		if (o->bad)
			return 1;
	} else if (b[(p - 1) & (INJ_SCAN_MAX - 1)] == '\r' &&
		   b[(p - 2) & (INJ_SCAN_MAX - 1)] == '\n' &&
		   b[(p - 3) & (INJ_SCAN_MAX - 1)] == '\r') { /* "\r\n\r\n" */
		o->end = p + 1;
		return 1;
	}
	if (p + 12 < o->n && (b[(p + 1) & (INJ_SCAN_MAX - 1)] | 0x20) == 't') {
		__u32 same = 1;

		for (__u32 k = 0; k < 11; k++)
			same &= (b[(p + 1 + k) & (INJ_SCAN_MAX - 1)] | 0x20) == want[k];
		o->tp |= same && b[(p + 12) & (INJ_SCAN_MAX - 1)] == ':';
	}
	return 0;
}

/* One step: the word at pos, to its first line end if it has one. 1 when
 * the scan is over. */
static inline int inj_out_step(struct inj_out *o)
{
	__u32 pos = o->pos, k = 0;
	__u64 w, x, m;

	if (pos >= o->n || pos >= INJ_SCAN_MAX)
		return 1;
	__builtin_memcpy(&w, o->b + (pos & (INJ_SCAN_MAX - 1)), 8);
	x = w ^ 0x0a0a0a0a0a0a0a0aULL; /* a '\n' byte is 0 in x */
	m = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
	if (!m) {
		o->pos = pos + 8;
		return 0;
	}
	m &= -m; /* the first: the lowest byte (little-endian) */
	if (!(m & 0xffffffffULL))
		k += 4, m >>= 32;
	if (!(m & 0xffff))
		k += 2, m >>= 16;
	if (!(m & 0xff))
		k += 1;
	o->pos = pos + k + 1;
	return pos + k < o->n && inj_out_lf(o, pos + k);
}

#ifdef __bpf__
static long inj_out_cb(__u32 i, void *ctx)
{
	return inj_out_step(ctx);
}
#endif

/* The head at b (n bytes, at most INJ_SCAN_MAX; b has INJ_SCAN_ROOM bytes
 * of room): 0 with *at (where the field goes: before the blank line's
 * CRLF) and *tp (it has one), or -1 if no request head ends in it. Bytes
 * past n are read, never taken for the head's. */
static inline int inj_out_scan(const __u8 *b, __u32 n, __u32 *at, __u32 *tp)
{
	struct inj_out o = {.b = b, .n = n < INJ_SCAN_MAX ? n : INJ_SCAN_MAX};

	if (!o.n || b[0] < 'A' || b[0] > 'Z')
		return -1;
#ifdef __bpf__
	bpf_loop(INJ_SCAN_MAX, inj_out_cb, &o, 0);
#else
	for (__u32 i = 0; i < INJ_SCAN_MAX; i++)
		if (inj_out_step(&o))
			break;
#endif
	if (o.bad || !o.end)
		return -1;
	*at = o.end - 2;
	*tp = o.tp;
	return 0;
}

static inline __u64 inj_rotl(__u64 x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define INJ_SIPROUND                                                                               \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = inj_rotl(v1, 13);                                                             \
		v1 ^= v0;                                                                          \
		v0 = inj_rotl(v0, 32);                                                             \
		v2 += v3;                                                                          \
		v3 = inj_rotl(v3, 16);                                                             \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = inj_rotl(v3, 21);                                                             \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = inj_rotl(v1, 17);                                                             \
		v1 ^= v2;                                                                          \
		v2 = inj_rotl(v2, 32);                                                             \
	} while (0)

/* SipHash-2-4 of the 16-byte message (a, b) little-endian, key k. */
static inline __u64 inj_sip(const __u64 k[2], __u64 a, __u64 b)
{
	__u64 v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
	__u64 v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
	__u64 m[3] = {a, b, (__u64)16 << 56};

	for (int i = 0; i < 3; i++) {
		v3 ^= m[i];
		INJ_SIPROUND;
		INJ_SIPROUND;
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		INJ_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* The ids a request gets with --go-inject, from the connection and the
 * number of the read it began in, keyed per run: its server span's id,
 * and (trace not NULL) the trace id it starts if it has no parent. The
 * kernel (inject.bpf.h) and the collector (kcap_host.c) both derive them
 * here, so that what the kernel sends out names the collector's span. */
static inline void inj_derive_ids(const __u64 k[2], __u64 conn, __u32 seq, __u8 span[8],
				  __u8 *trace)
{
	__u64 v = inj_sip(k, conn, seq);

	__builtin_memcpy(span, &v, 8);
	if (!trace)
		return;
	v = inj_sip(k, conn, (__u64)seq | 1ULL << 32);
	__builtin_memcpy(trace, &v, 8);
	v = inj_sip(k, conn, (__u64)seq | 2ULL << 32);
	__builtin_memcpy(trace + 8, &v, 8);
}

/* The flags of a trace it starts: random, and sampled when the trace id's
 * last 8 bytes, top 53 bits (tp_ratio_key), are below q53. */
static inline __u8 inj_root_flags(const __u8 trace[16], __u64 q53)
{
	__u64 low = 0;

	for (int i = 8; i < 16; i++)
		low = low << 8 | trace[i];
	return (__u8)(2 | ((low >> 11) < q53));
}

#endif

/*
 * h2_inject - the HTTP/2 module's writing side: every write is fed to the
 * out-direction reader before it is sent, and a new request's header
 * block gets traceparent (and tracestate) as an HPACK literal field
 * without indexing, so neither side's dynamic table changes. Two edits
 * per request (pconn_edit): the frame header is replaced by one with the
 * new length, and the field goes after the block's last byte (before any
 * padding); if the grown frame would exceed the peer's
 * SETTINGS_MAX_FRAME_SIZE, END_HEADERS moves to a CONTINUATION frame of
 * obs's own. Only the frame that ends a new request's block, wholly
 * inside one write, is touched; anything else passes as the app wrote it.
 */
#include <string.h>

#include "h2_priv.h"

#define ARM_MAX (2 * H2_FRAME_HDR + 1 + FIELD_MAX) /* the most one injection takes */

static struct h2conn *h2(struct proto_conn *pc)
{
	return pc->st;
}

/* Copy n bytes at offset off of the app's iov; -1 if they are not all there. */
static int iov_read(const struct iovec *iov, int iovcnt, size_t off, void *out, size_t n)
{
	uint8_t *o = out;

	for (int i = 0; i < iovcnt && n; i++) {
		size_t len = iov[i].iov_len;
		if (off >= len) {
			off -= len;
			continue;
		}
		size_t take = len - off < n ? len - off : n;
		memcpy(o, (const char *)iov[i].iov_base + off, take);
		o += take;
		n -= take;
		off = 0;
	}
	return n ? -1 : 0;
}

/* Feed the app's written bytes [off, off + n) of iov to the out direction. */
static void feed_out(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t off,
		     size_t n, uint64_t ts)
{
	for (int i = 0; i < iovcnt && n && !pc->dead; i++) {
		size_t len = iov[i].iov_len;
		if (off >= len) {
			off -= len;
			continue;
		}
		size_t take = len - off < n ? len - off : n;
		if (h2c_feed(pc, DIR_OUT, (const uint8_t *)iov[i].iov_base + off, take, ts))
			pc->dead = 1;
		n -= take;
		off = 0;
	}
}

static void put_frame_header(uint8_t *p, size_t len, uint8_t type, uint8_t flags, uint32_t sid)
{
	p[0] = (uint8_t)(len >> 16);
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	p[3] = type;
	p[4] = flags;
	p[5] = (uint8_t)(sid >> 24 & 0x7f);
	p[6] = (uint8_t)(sid >> 16);
	p[7] = (uint8_t)(sid >> 8);
	p[8] = (uint8_t)sid;
}

/* The HPACK literal(s) carrying x's context. 0 if they do not fit. */
static size_t build_field(const struct exchange *x, uint8_t *out, size_t cap)
{
	char tp[TP_LEN + 1];
	size_t n, m;

	tp_format(&x->ctx, tp);
	n = hpack_put_literal(out, cap, 0, "traceparent", tp, 0, 0);
	if (!n || !x->tracestate_len)
		return n;
	m = hpack_put_literal(out + n, cap - n, 0, "tracestate", x->tracestate, 0, 0);
	return m ? n + m : 0;
}

/*
 * The frame ending stream s's request block (HEADERS or CONTINUATION with
 * END_HEADERS; header hd, payload len) is at offset pos of the write: arm
 * the edits that add s's context.
 * Returns the bytes the write grows by (0: nothing armed).
 */
static size_t arm_headers(struct proto_conn *pc, struct h2stream *s, const struct iovec *iov,
			  int iovcnt, size_t pos, const uint8_t *hd, uint32_t len, size_t budget)
{
	struct h2conn *h = h2(pc);
	uint32_t sid = h->ids[s - h->st];
	uint8_t flags = hd[4], pad = 0, last, field[FIELD_MAX];
	size_t pre = 0, flen, need, pos2, grow;
	char *e1, *e2;
	int fits;

	if (hd[3] == H2_HEADERS && (flags & H2_F_PADDED)) {
		if (iov_read(iov, iovcnt, pos + H2_FRAME_HDR, &pad, 1))
			return 0;
		pre = 1;
	}
	if (hd[3] == H2_HEADERS && (flags & H2_F_PRIORITY))
		pre += 5;
	if (pre + pad >= len || pc->sp.n + 2 > SPLICE_MAX)
		return 0; /* an empty block, or no room for two edits */
	flen = build_field(&s->x, field, sizeof(field));
	fits = len + flen <= h->peer_max_frame;
	grow = flen + (fits ? 0 : H2_FRAME_HDR);
	need = H2_FRAME_HDR + 1 + H2_FRAME_HDR + flen;
	if (!flen || grow > budget || h->eused + need > sizeof(h->ebuf))
		return 0; /* a span without propagation, rather than a risk */
	e1 = h->ebuf + h->eused;
	e2 = e1 + H2_FRAME_HDR;
	if (fits) {
		/* the frame grows: new length; the field follows the block's last byte */
		put_frame_header((uint8_t *)e1, len + flen, hd[3], flags, sid);
		pos2 = pos + H2_FRAME_HDR + len - pad - 1;
		if (iov_read(iov, iovcnt, pos2, &last, 1))
			return 0;
		e2[0] = (char)last;
		memcpy(e2 + 1, field, flen);
		need = H2_FRAME_HDR + 1 + flen;
	} else {
		/* too large for the peer: END_HEADERS moves to a CONTINUATION after it */
		put_frame_header((uint8_t *)e1, len, hd[3], flags & ~H2_F_END_HEADERS, sid);
		pos2 = pos + H2_FRAME_HDR + len - 1;
		if (iov_read(iov, iovcnt, pos2, &last, 1))
			return 0;
		e2[0] = (char)last;
		put_frame_header((uint8_t *)e2 + 1, flen, H2_CONTINUATION, H2_F_END_HEADERS, sid);
		memcpy(e2 + 1 + H2_FRAME_HDR, field, flen);
	}
	/* the insertion replaces the byte before it: a cut there never reports
	 * the whole write while our bytes wait (splice.h) */
	if (pconn_edit(pc, pos, H2_FRAME_HDR, e1, H2_FRAME_HDR) ||
	    pconn_edit(pc, pos2, 1, e2, need - H2_FRAME_HDR))
		return 0; /* cannot happen: room and order were checked */
	h->eused += need;
	pconn_count(pc, PROTO_COUNT_INJECTED);
	return grow;
}

/* Is there room to arm one more injection? */
static int arm_room(const struct proto_conn *pc, const struct h2conn *h, size_t budget)
{
	return pc->sp.n + 2 <= SPLICE_MAX && h->eused + ARM_MAX <= sizeof(h->ebuf) &&
	       budget >= FIELD_MAX + H2_FRAME_HDR;
}

/*
 * Send only the first pos bytes of this write: a short write, always
 * allowed on a stream socket (not on SSL_write without partial writes, so
 * never on TLS); the app sends the rest in its next write, where the
 * request at pos starts whole and with room for its injection.
 */
static size_t cut_at(struct h2conn *h, size_t pos)
{
	h->ahead = pos;
	return pos;
}

/*
 * Feed the write's new bytes (from h->ahead) to the out direction before
 * they are sent, frame by frame: a client's blocks are then decoded with
 * the table exactly as the peer will have it, and an injection is armed
 * for each new request that did not carry its own traceparent; a server's
 * response is accounted before the peer can see it and hang up (its EOF,
 * read on another thread, would otherwise end the stream first). The app
 * re-presents whatever the kernel does not take, so nothing is fed twice.
 * Returns how many bytes of the write to send: all of them (m), or fewer
 * to stop before a request there is no room left to inject into.
 */
static size_t scan_feed(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t m,
			size_t budget, uint64_t ts)
{
	struct h2conn *h = h2(pc);
	size_t pos = h->ahead < m ? h->ahead : m;
	int client = pc->side == PROTO_CLIENT, short_ok = client && pc->write_cap == (size_t)-1;
	uint8_t hd[H2_FRAME_HDR];

	while (pos < m && !pc->dead) {
		long b = h2_to_boundary(&h->rd[DIR_OUT]);
		uint32_t len, sid;
		int starts, ends;

		if (b != 0) { /* finish the preface, a frame or its header first */
			size_t n = b < 0 ? 1 : (size_t)b < m - pos ? (size_t)b : m - pos;
			feed_out(pc, iov, iovcnt, pos, n, ts);
			pos += n;
			continue;
		}
		if (iov_read(iov, iovcnt, pos, hd, H2_FRAME_HDR)) {
			/* a frame header split across writes: if it may be a
			 * request's, send it whole next time; else feed it below */
			int known = m - pos >= 4 && !iov_read(iov, iovcnt, pos, hd, 4);
			if (pos > 0 && short_ok &&
			    (!known || hd[3] == H2_HEADERS || hd[3] == H2_CONTINUATION))
				return cut_at(h, pos);
			break;
		}
		len = (uint32_t)hd[0] << 16 | (uint32_t)hd[1] << 8 | hd[2];
		sid =
		    ((uint32_t)hd[5] << 24 | (uint32_t)hd[6] << 16 | (uint32_t)hd[7] << 8 | hd[8]) &
		    0x7fffffff;
		/* a new request's block starts (HEADERS) or ends (END_HEADERS):
		 * the field goes into the frame that carries END_HEADERS */
		starts = client && hd[3] == H2_HEADERS && (sid & 1) &&
			 !h2_in_block(&h->rd[DIR_OUT]) && !h2s_find(h, sid);
		ends = (hd[4] & H2_F_END_HEADERS) &&
		       (starts || (hd[3] == H2_CONTINUATION && sid == h->cont_sid));
		if (starts)
			h->cont_sid = sid;
		if (pos + H2_FRAME_HDR + len > m) {
			if (ends) {
				if (pos > 0 && short_ok)
					return cut_at(h, pos); /* whole in the next write */
				pconn_count(pc,
					    PROTO_COUNT_INJECT_SKIPPED); /* split across writes */
				h->cont_sid = 0;
			}
			break;
		}
		if (ends && pos > 0 && short_ok && !arm_room(pc, h, budget))
			return cut_at(h, pos); /* with room again in the next write */
		feed_out(pc, iov, iovcnt, pos, H2_FRAME_HDR + len, ts);
		if (ends) {
			struct h2stream *s = h2s_find(h, sid);
			size_t g = 0;
			if (s && s->open && !s->app_context) {
				g = arm_headers(pc, s, iov, iovcnt, pos, hd, len, budget);
				if (!g)
					pconn_count(pc, PROTO_COUNT_INJECT_SKIPPED);
			}
			budget -= g;
			h->cont_sid = 0;
		}
		pos += H2_FRAME_HDR + len;
	}
	if (pos < m)
		feed_out(pc, iov, iovcnt, pos, m - pos, ts);
	h->ahead = m;
	return m;
}

size_t h2c_inject(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t m,
		  size_t budget)
{
	struct h2conn *h = h2(pc);

	if (!pc->sp.n)
		h->eused = 0; /* every edit went out: the edit buffer is free again */
	if (budget > sizeof(h->ebuf))
		budget = sizeof(h->ebuf);
	return scan_feed(pc, iov, iovcnt, m, budget, pc->host->now());
}

void h2c_sent(struct proto_conn *pc, const struct iovec *iov, int iovcnt, size_t n, uint64_t ts)
{
	struct h2conn *h = h2(pc);

	(void)iov, (void)iovcnt, (void)ts;
	h->ahead = h->ahead > n ? h->ahead - n : 0;
}

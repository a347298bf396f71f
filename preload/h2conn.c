/*
 * h2conn - HTTP/2 (and gRPC over it) on a connection the shim follows.
 *
 * Both directions go through an h2 frame reader and an HPACK decoder that
 * mirrors the peer's dynamic table, so every header block is understood.
 * Each stream is an exchange: the request HEADERS open it (extracting an
 * incoming traceparent on a server), the response HEADERS give :status,
 * trailers give grpc-status, END_STREAM of the response, RST_STREAM,
 * GOAWAY or the connection's end close it, and one span is emitted.
 *
 * On a client, every new request's HEADERS frame gets a traceparent field
 * as an HPACK literal without indexing (no dynamic table changes on either
 * side): the frame header is replaced with one of the new length, or, if
 * that would exceed the peer's SETTINGS_MAX_FRAME_SIZE, END_HEADERS moves
 * to a CONTINUATION frame carrying the field. splice.c does the byte
 * accounting across partial and non-blocking writes. Only the frame that
 * ends a new request's block (HEADERS or CONTINUATION with END_HEADERS),
 * wholly inside one write, is touched; anything else passes as the app
 * wrote it. Client writes are parsed before they are sent (see scan_feed).
 *
 * The state (two readers, two HPACK tables, a stream table) is 390 KiB of
 * address space (MAP_NORESERVE: only touched pages cost memory), mapped
 * when a connection turns out to speak HTTP/2 and unmapped when it ends.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "h2.h"
#include "hpack.h"
#include "rpc.h"
#include "splice.h"
#include "str.h"
#include "shim.h"

#define H2S_MAX	   128	 /* streams followed at once per connection */
#define H2_EBUF	   16384 /* edit bytes queued per connection */
#define H2_IOV_APP 254	 /* app iovecs per write we splice */
#define H2_IOV_MAX (H2_IOV_APP + 2 * SPLICE_MAX + 2)
#define FIELD_MAX  (16 + TP_LEN + TP_TRACESTATE_MAX + 32)
#define ARM_MAX	   (2 * H2_FRAME_HDR + 1 + FIELD_MAX) /* the most one injection takes */
#define GRPC_CT	   "application/grpc"

enum { DIR_IN, DIR_OUT };

/* Requests travel in on a server connection, out on a client one. */
static int req_dir(const struct conn *c)
{
	return conn_kind(c) == CONN_SERVER ? DIR_IN : DIR_OUT;
}

struct grpc_framer {
	uint8_t hdr;   /* prefix bytes seen */
	uint32_t len;  /* the length being read */
	uint32_t left; /* message bytes still to skip */
};

struct h2stream {     /* its id is h2conn.ids[] at the same index */
	uint8_t open; /* request HEADERS seen */
	uint8_t resp_headers;
	uint64_t timeout_ns;	  /* grpc-timeout of the request */
	uint8_t app_context;	  /* the app sent its own traceparent */
	struct grpc_framer fr[2]; /* request, response messages */
	struct exchange x;
};

struct h2conn {
	uint32_t peer_max_frame; /* the peer's SETTINGS_MAX_FRAME_SIZE */
	struct h2_reader rd[2];
	struct hpack_dec hp[2];
	uint32_t ids[H2S_MAX]; /* st[i]'s stream id (0: free), packed for the lookup */
	struct h2stream st[H2S_MAX];
	struct splice sp;  /* client: injections armed for the writes to come */
	size_t ahead;	   /* bytes of the next write already fed (looked at before sent) */
	uint32_t cont_sid; /* a new request whose block continues in CONTINUATION frames */
	size_t eused;
	char ebuf[H2_EBUF];
};

/* The header fields obs reads from a block. */
struct hfields {
	char method[SPAN_METHOD_MAX];
	char path[SPAN_PATH_MAX];
	char authority[SPAN_HOST_MAX];
	uint8_t path_trunc;
	uint8_t grpc;
	int status;
	int grpc_status;
	uint64_t timeout_ns;
	int tp_count;
	char tp[TP_LEN + 16];
	size_t tp_len;
	uint8_t ts_bad;
	size_t ts_len;
	char ts[TP_TRACESTATE_MAX + 1];
};

struct h2conn *h2c_new(enum conn_kind kind)
{
	struct h2conn *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (h == MAP_FAILED)
		return NULL;
	h->peer_max_frame = H2_DEFAULT_MAX_FRAME;
	/* the client preface travels client -> server */
	h2_init(&h->rd[DIR_IN], kind == CONN_SERVER);
	h2_init(&h->rd[DIR_OUT], kind == CONN_CLIENT);
	hpack_dec_init(&h->hp[DIR_IN], HPACK_DEFAULT_TABLE);
	hpack_dec_init(&h->hp[DIR_OUT], HPACK_DEFAULT_TABLE);
	return h;
}

void h2c_free(struct h2conn *h)
{
	int e = errno;

	munmap(h, sizeof(*h));
	errno = e;
}

/* ---- streams ------------------------------------------------------------- */

static struct h2stream *stream_find(struct h2conn *h, uint32_t id)
{
	for (int i = 0; i < H2S_MAX; i++)
		if (h->ids[i] == id)
			return &h->st[i];
	return NULL;
}

static void stream_set_id(struct h2conn *h, struct h2stream *s, uint32_t id)
{
	h->ids[s - h->st] = id;
}

static struct h2stream *stream_new(struct h2conn *h, uint32_t id)
{
	struct h2stream *s = stream_find(h, 0);

	if (!s) {
		ctx_count(CTX_UNTRACKED);
		return NULL;
	}
	memset(s, 0, offsetof(struct h2stream, x));
	ctx_exchange_clear(&s->x);
	stream_set_id(h, s, id);
	return s;
}

/*
 * A gRPC call that ended without trailers has the status gRPC gives it:
 * what its reset means (RST_STREAM), or for a connection that went away
 * UNAVAILABLE on the client and CANCELLED on the server; DEADLINE_EXCEEDED
 * whenever its grpc-timeout had run out (give or take the moments between
 * the app's clock start and ours: 5% + 1 ms of slack).
 */
static void implied_status(struct conn *c, struct h2stream *s, uint16_t error)
{
	uint64_t t = s->timeout_ns, slack = t / 20 + 1000000;
	int expired = t && ctx_now() - s->x.start_ns + slack >= t;
	unsigned code;

	if (s->x.proto != SPAN_PROTO_GRPC || (s->x.flags & SPAN_F_RPC_STATUS) || !error)
		return;
	if (error == SPAN_ERR_STREAM_RESET)
		code = rpc_code_from_reset(s->x.h2_error, expired);
	else if (expired)
		code = RPC_DEADLINE_EXCEEDED;
	else
		code = conn_kind(c) == CONN_CLIENT ? RPC_UNAVAILABLE : RPC_CANCELLED;
	s->x.rpc_status = (uint16_t)code;
	s->x.flags |= SPAN_F_RPC_STATUS;
}

static void stream_end(struct conn *c, struct h2conn *h, struct h2stream *s, uint16_t error)
{
	if (s->open) {
		implied_status(c, s, error);
		conn_emit(c, &s->x, error);
		if (conn_kind(c) == CONN_SERVER)
			ctx_clear_active(&s->x);
	}
	stream_set_id(h, s, 0);
}

void h2c_eof(struct conn *c, struct h2conn *h)
{
	for (int i = 0; i < H2S_MAX; i++)
		if (h->ids[i])
			stream_end(c, h, &h->st[i], SPAN_ERR_CLOSED);
}

/* ---- header blocks ---------------------------------------------------------- */

/* A field name against a string literal (no strlen per field). */
#define name_is(n, nlen, lit) ((nlen) == sizeof(lit) - 1 && !memcmp((n), (lit), sizeof(lit) - 1))

static void keep(char *dst, size_t cap, const char *v, size_t vlen, uint8_t *trunc)
{
	size_t n = vlen < cap - 1 ? vlen : cap - 1;

	memcpy(dst, v, n);
	dst[n] = 0;
	if (trunc && n < vlen)
		*trunc = 1;
}

static int small_int(const char *v, size_t vlen)
{
	int n = 0;

	if (!vlen || vlen > 5)
		return -1;
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

static void on_field(void *arg, const char *n, size_t nlen, const char *v, size_t vlen,
		     int never_index)
{
	struct hfields *f = arg;

	(void)never_index;
	if (nlen && n[0] == ':') {
		if (name_is(n, nlen, ":method"))
			keep(f->method, sizeof(f->method), v, vlen, NULL);
		else if (name_is(n, nlen, ":path"))
			keep(f->path, sizeof(f->path), v, vlen, &f->path_trunc);
		else if (name_is(n, nlen, ":authority"))
			keep(f->authority, sizeof(f->authority), v, vlen, NULL);
		else if (name_is(n, nlen, ":status"))
			f->status = small_int(v, vlen);
	} else if (name_is(n, nlen, "content-type")) {
		f->grpc = vlen >= sizeof(GRPC_CT) - 1 && !memcmp(v, GRPC_CT, sizeof(GRPC_CT) - 1) &&
			  (vlen == sizeof(GRPC_CT) - 1 || v[sizeof(GRPC_CT) - 1] == '+' ||
			   v[sizeof(GRPC_CT) - 1] == ';');
	} else if (name_is(n, nlen, "grpc-status")) {
		f->grpc_status = small_int(v, vlen);
	} else if (name_is(n, nlen, "grpc-timeout")) {
		f->timeout_ns = rpc_parse_timeout(v, vlen);
	} else if (name_is(n, nlen, "traceparent")) {
		f->tp_count++;
		keep(f->tp, sizeof(f->tp), v, vlen, NULL);
		f->tp_len = vlen < sizeof(f->tp) ? vlen : sizeof(f->tp);
	} else if (name_is(n, nlen, "tracestate")) {
		/* several fields combine as one list (W3C 3.3.1.1) */
		size_t need = f->ts_len + (f->ts_len ? 1 : 0) + vlen;
		if (need > TP_TRACESTATE_MAX) {
			f->ts_bad = 1;
			return;
		}
		if (f->ts_len)
			f->ts[f->ts_len++] = ',';
		memcpy(f->ts + f->ts_len, v, vlen);
		f->ts_len += vlen;
		f->ts[f->ts_len] = 0;
	}
}

/* A request's HEADERS opened stream s. */
static void open_request(struct conn *c, struct h2stream *s, const struct hfields *f)
{
	struct exchange *x = &s->x;

	if (conn_kind(c) == CONN_SERVER) {
		ctx_exchange_clear(x);
		ctx_server_context(x, f->tp, f->tp_len, f->tp_count, f->ts, f->ts_len, f->ts_bad);
		ctx_set_active(x);
	} else {
		ctx_prepare_client(x);
		s->app_context = f->tp_count > 0;
		if (f->tp_count == 1)
			ctx_adopt_app_context(x, f->tp, f->tp_len);
	}
	str_copy(x->method, sizeof(x->method), f->method);
	str_copy(x->path, sizeof(x->path), f->path);
	str_copy(x->host, sizeof(x->host), f->authority);
	if (f->path_trunc)
		x->flags |= SPAN_F_PATH_TRUNC;
	x->proto = f->grpc ? SPAN_PROTO_GRPC : SPAN_PROTO_HTTP2;
	s->timeout_ns = f->timeout_ns;
	x->start_ns = ctx_now();
	s->open = 1;
}

static int on_headers(struct conn *c, struct h2conn *h, int dir, const struct h2_ev *ev)
{
	struct hfields f;
	struct h2stream *s;

	f.method[0] = f.path[0] = f.authority[0] = f.ts[0] = 0;
	f.path_trunc = f.grpc = f.ts_bad = 0;
	f.status = f.grpc_status = -1;
	f.tp_count = 0;
	f.tp_len = f.ts_len = 0;
	f.timeout_ns = 0;
	if (hpack_decode(&h->hp[dir], ev->data, ev->len, on_field, &f))
		return -1; /* the table is lost: nothing more can be understood */
	if (ev->push)
		return 0;
	s = stream_find(h, ev->stream);
	if (dir == req_dir(c)) {
		if (!s && !(s = stream_new(h, ev->stream)))
			return 0;
		if (!s->open)
			open_request(c, s, &f);
		return 0; /* else request trailers: nothing we need */
	}
	if (!s || !s->open)
		return 0;
	if (f.status >= 200 && !s->resp_headers) {
		s->x.status = (uint16_t)f.status;
		s->resp_headers = 1;
	}
	if (f.grpc_status >= 0) {
		s->x.rpc_status = (uint16_t)f.grpc_status;
		s->x.flags |= SPAN_F_RPC_STATUS;
	}
	if (ev->end_stream)
		stream_end(c, h, s, SPAN_ERR_NONE);
	return 0;
}

/* Count gRPC messages in DATA: each has a 5-byte prefix (flag, 32-bit length). */
static void count_messages(struct grpc_framer *g, const uint8_t *p, size_t n, uint32_t *count)
{
	while (n) {
		if (g->left) {
			size_t take = n < g->left ? n : g->left;
			g->left -= (uint32_t)take;
			p += take;
			n -= take;
			continue;
		}
		if (g->hdr == 0) {
			(*count)++;
			g->len = 0;
		} else {
			g->len = g->len << 8 | *p;
		}
		p++;
		n--;
		if (++g->hdr == 5) {
			g->hdr = 0;
			g->left = g->len;
		}
	}
}

static void on_data(struct conn *c, struct h2conn *h, int dir, const struct h2_ev *ev)
{
	struct h2stream *s = stream_find(h, ev->stream);

	if (!s || !s->open)
		return;
	if (dir == req_dir(c)) {
		s->x.req_bytes += ev->len;
		if (s->x.proto == SPAN_PROTO_GRPC)
			count_messages(&s->fr[0], ev->data, ev->len, &s->x.req_msgs);
	} else {
		s->x.resp_bytes += ev->len;
		if (s->x.proto == SPAN_PROTO_GRPC)
			count_messages(&s->fr[1], ev->data, ev->len, &s->x.resp_msgs);
		if (ev->end_stream)
			stream_end(c, h, s, SPAN_ERR_NONE);
	}
}

static int on_event(struct conn *c, struct h2conn *h, int dir, enum h2_event e,
		    const struct h2_ev *ev)
{
	struct h2stream *s;

	switch (e) {
	case H2_EV_HEADERS:
		return on_headers(c, h, dir, ev);
	case H2_EV_DATA:
		on_data(c, h, dir, ev);
		break;
	case H2_EV_RST:
		if ((s = stream_find(h, ev->stream)) && ev->stream) {
			s->x.h2_error = ev->error_code;
			stream_end(c, h, s, SPAN_ERR_STREAM_RESET);
		}
		break;
	case H2_EV_GOAWAY:
		/* last_stream names streams the GOAWAY's receiver opened: only
		 * a server's GOAWAY concerns the client's requests we follow */
		if (dir == req_dir(c))
			break;
		for (int i = 0; i < H2S_MAX; i++)
			if (h->ids[i] > ev->last_stream) {
				h->st[i].x.h2_error = ev->error_code;
				stream_end(c, h, &h->st[i], SPAN_ERR_GOAWAY);
			}
		break;
	case H2_EV_SETTINGS:
		/* the sender's table size bounds the blocks coming the other way */
		if (ev->has_header_table_size)
			hpack_dec_set_limit(&h->hp[!dir], ev->header_table_size);
		if (dir == DIR_IN && ev->max_frame_size)
			h->peer_max_frame = ev->max_frame_size;
		break;
	case H2_EV_ERROR:
		return -1;
	default:
		break;
	}
	return 0;
}

int h2c_feed(struct conn *c, struct h2conn *h, int out, const uint8_t *buf, size_t n)
{
	int dir = out ? DIR_OUT : DIR_IN;

	while (n) {
		struct h2_ev ev;
		enum h2_event e;
		size_t used = h2_feed(&h->rd[dir], buf, n, &ev, &e);

		if (on_event(c, h, dir, e, &ev)) {
			ctx_count(CTX_PARSE_ERROR);
			return -1;
		}
		buf += used;
		n -= used;
	}
	return 0;
}

/* ---- writes: injection ------------------------------------------------------ */

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
static void feed_out(struct conn *c, struct h2conn *h, const struct iovec *iov, int iovcnt,
		     size_t off, size_t n)
{
	for (int i = 0; i < iovcnt && n && !conn_dead(c); i++) {
		size_t len = iov[i].iov_len;
		if (off >= len) {
			off -= len;
			continue;
		}
		size_t take = len - off < n ? len - off : n;
		if (h2c_feed(c, h, 1, (const uint8_t *)iov[i].iov_base + off, take))
			conn_kill(c);
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
static size_t arm_headers(struct h2conn *h, struct h2stream *s, const struct iovec *iov, int iovcnt,
			  size_t pos, const uint8_t *hd, uint32_t len, size_t budget)
{
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
	if (pre + pad >= len || h->sp.n + 2 > SPLICE_MAX)
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
	if (splice_add(&h->sp, pos, H2_FRAME_HDR, e1, H2_FRAME_HDR) ||
	    splice_add(&h->sp, pos2, 1, e2, need - H2_FRAME_HDR))
		return 0; /* cannot happen: room and order were checked */
	h->eused += need;
	ctx_count(CTX_INJECTED);
	return grow;
}

/*
 * Feed the write's new bytes (from h->ahead) to the out direction before
 * they are sent, frame by frame: a client's blocks are then decoded with
 * the table exactly as the peer will have it, and an injection is armed
 * for each new request that did not carry its own traceparent; a server's
 * response is accounted before the peer can see it and hang up (its EOF,
 * read on another thread, would otherwise end the stream first). The app
 * re-presents whatever the kernel does not take, so nothing is fed twice.
 */

/* Is there room to arm one more injection? */
static int arm_room(const struct h2conn *h, size_t budget)
{
	return h->sp.n + 2 <= SPLICE_MAX && h->eused + ARM_MAX <= sizeof(h->ebuf) &&
	       budget >= FIELD_MAX + H2_FRAME_HDR;
}

/* Returns how many bytes of the write to send: all of them (m), or fewer
 * to stop before a request there is no room left to inject into. */
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

static size_t scan_feed(struct conn *c, struct h2conn *h, const struct iovec *iov, int iovcnt,
			size_t m, size_t budget)
{
	size_t pos = h->ahead < m ? h->ahead : m;
	int client = conn_kind(c) == CONN_CLIENT,
	    short_ok = client && conn_write_cap(c) == (size_t)-1;
	uint8_t hd[H2_FRAME_HDR];

	while (pos < m && !conn_dead(c)) {
		long b = h2_to_boundary(&h->rd[DIR_OUT]);
		uint32_t len, sid;
		int starts, ends;

		if (b != 0) { /* finish the preface, a frame or its header first */
			size_t n = b < 0 ? 1 : (size_t)b < m - pos ? (size_t)b : m - pos;
			feed_out(c, h, iov, iovcnt, pos, n);
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
			 !h2_in_block(&h->rd[DIR_OUT]) && !stream_find(h, sid);
		ends = (hd[4] & H2_F_END_HEADERS) &&
		       (starts || (hd[3] == H2_CONTINUATION && sid == h->cont_sid));
		if (starts)
			h->cont_sid = sid;
		if (pos + H2_FRAME_HDR + len > m) {
			if (ends) {
				if (pos > 0 && short_ok)
					return cut_at(h, pos); /* whole in the next write */
				ctx_count(CTX_INJECT_SKIPPED); /* split across writes */
				h->cont_sid = 0;
			}
			break;
		}
		if (ends && pos > 0 && short_ok && !arm_room(h, budget))
			return cut_at(h, pos); /* with room again in the next write */
		feed_out(c, h, iov, iovcnt, pos, H2_FRAME_HDR + len);
		if (ends) {
			struct h2stream *s = stream_find(h, sid);
			size_t g = 0;
			if (s && s->open && !s->app_context) {
				g = arm_headers(h, s, iov, iovcnt, pos, hd, len, budget);
				if (!g)
					ctx_count(CTX_INJECT_SKIPPED);
			}
			budget -= g;
			h->cont_sid = 0;
		}
		pos += H2_FRAME_HDR + len;
	}
	if (pos < m)
		feed_out(c, h, iov, iovcnt, pos, m - pos);
	h->ahead = m;
	return m;
}

/* The first m bytes of iov, into out (room for iovcnt entries). */
static int iov_cut(const struct iovec *iov, int iovcnt, size_t m, struct iovec *out)
{
	int n = 0;

	for (int i = 0; i < iovcnt && m; i++) {
		out[n] = iov[i];
		if (out[n].iov_len > m)
			out[n].iov_len = m;
		m -= out[n++].iov_len;
	}
	return n;
}

int h2c_pending(const struct h2conn *h)
{
	return h->sp.n > 0;
}

ssize_t h2c_write(struct conn *c, struct h2conn *h, const struct iovec *iov, int iovcnt,
		  conn_io_fn io, void *arg)
{
	struct iovec v[H2_IOV_MAX], cut[H2_IOV_APP];
	size_t m = 0, cap = conn_write_cap(c), budget;
	ssize_t k, rep;
	int n, applied;

	/* a write of more pieces than we can splice is made shorter: a short
	 * write is always allowed on a stream socket, and the app sends the
	 * rest next */
	if (iovcnt > H2_IOV_APP)
		iovcnt = H2_IOV_APP;
	for (int i = 0; i < iovcnt; i++)
		m += iov[i].iov_len;
	if (!h->sp.n)
		h->eused = 0;
	if (!conn_dead(c)) {
		size_t send;
		budget = cap == (size_t)-1 ? sizeof(h->ebuf) : m < cap ? cap - m : 0;
		send = scan_feed(c, h, iov, iovcnt, m, budget);
		if (send < m) {
			iovcnt = iov_cut(iov, iovcnt, send, cut);
			iov = cut;
			m = send;
		}
	}
	if (!h->sp.n) {
		rep = conn_io_unlocked(c, io, arg, iov, iovcnt);
	} else {
		n = splice_iov(&h->sp, iov, iovcnt, m, v, H2_IOV_MAX, &applied);
		if (n < 0) {
			errno = EAGAIN; /* cannot happen: H2_IOV_MAX covers every edit */
			return -1;
		}
		k = conn_io_unlocked(c, io, arg, v, n);
		if (k < 0)
			return k; /* nothing left: the edits stay as they are for the retry */
		rep = splice_settle(&h->sp, applied, m, (size_t)k);
		if (rep < 0)
			errno = EAGAIN; /* only our bytes left: the socket is full */
	}
	if (rep <= 0)
		return rep;
	h->ahead = h->ahead > (size_t)rep ? h->ahead - (size_t)rep : 0;
	return rep;
}

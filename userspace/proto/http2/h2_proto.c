#include "h2_proto.h"

#include <string.h>

#include "h2_priv.h"
#include "registry.h"
#include "rpc.h"
#include "str.h"

#define GRPC_CT "application/grpc"

static struct h2conn *h2(struct proto_conn *pc)
{
	return pc->st;
}

/* Requests travel in on a server connection, out on a client one. */
static int req_dir(const struct proto_conn *pc)
{
	return pc->side == PROTO_SERVER ? DIR_IN : DIR_OUT;
}

/*
 * A connection is HTTP/2 when its first bytes are the client preface, or,
 * from a server that speaks first, a SETTINGS frame (a server may write
 * it before it reads the client's preface).
 */
static int h2_detect(enum proto_side side, enum proto_dir dir, const uint8_t *b, size_t n)
{
	int from_client = (side == PROTO_CLIENT) == (dir == PROTO_OUT);

	if (from_client)
		return h2_is_preface(b, n);
	return n >= H2_FRAME_HDR && b[0] == 0 && b[3] == H2_SETTINGS && !(b[4] & H2_F_ACK);
}

/* The state (two readers, two HPACK tables, a stream table) is 390 KiB:
 * the host maps it when a connection turns out to speak HTTP/2, and only
 * the pages a connection touches cost memory. */
static int h2_open(struct proto_conn *pc)
{
	struct h2conn *h = h2(pc);

	h->peer_max_frame = H2_DEFAULT_MAX_FRAME;
	/* the client preface travels client -> server */
	h2_init(&h->rd[DIR_IN], pc->side == PROTO_SERVER);
	h2_init(&h->rd[DIR_OUT], pc->side == PROTO_CLIENT);
	hpack_dec_init(&h->hp[DIR_IN], HPACK_DEFAULT_TABLE);
	hpack_dec_init(&h->hp[DIR_OUT], HPACK_DEFAULT_TABLE);
	memset(h->ids, 0, sizeof(h->ids));
	h->ahead = h->eused = 0;
	h->cont_sid = 0;
	return 0;
}

/* ---- streams ------------------------------------------------------------- */

struct h2stream *h2s_find(struct h2conn *h, uint32_t id)
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

static struct h2stream *stream_new(struct proto_conn *pc, uint32_t id)
{
	struct h2conn *h = h2(pc);
	struct h2stream *s = h2s_find(h, 0);

	if (!s) {
		pconn_count(pc, PROTO_COUNT_UNTRACKED);
		return NULL;
	}
	memset(s, 0, offsetof(struct h2stream, method));
	s->method[0] = s->path[0] = s->authority[0] = 0;
	exchange_clear(&s->x);
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
static void implied_status(struct proto_conn *pc, struct h2stream *s, uint16_t error, uint64_t ts)
{
	uint64_t t = s->timeout_ns, slack = t / 20 + 1000000;
	int expired = t && ts - s->x.start_ns + slack >= t;
	unsigned code;

	if (!s->grpc || s->has_rpc_status || !error)
		return;
	if (error == SPAN_ERR_STREAM_RESET)
		code = rpc_code_from_reset(s->h2_error, expired);
	else if (expired)
		code = RPC_DEADLINE_EXCEEDED;
	else
		code = pc->side == PROTO_CLIENT ? RPC_UNAVAILABLE : RPC_CANCELLED;
	s->rpc_status = (uint16_t)code;
	s->has_rpc_status = 1;
}

/* A record for s, or, made of the same as the connection's last one and
 * no span to export from it, its point counted without one. */
static void stream_emit(struct proto_conn *pc, struct h2stream *s, uint16_t error, uint64_t ts)
{
	struct h2_key *k = &h2(pc)->last;
	struct span_rec r;

	if (pc->red_tag && h2s_same(k, s)) {
		if (pc->host->emit_again && !pc->host->emit_again(pc, &s->x, error, ts))
			return;
	} else {
		h2s_key(k, s);
		pconn_red_rename(pc);
	}
	h2s_record(s, &r);
	pconn_emit(pc, &s->x, &r, error, ts);
}

static void stream_end(struct proto_conn *pc, struct h2stream *s, uint16_t error, uint64_t ts)
{
	if (s->open) {
		implied_status(pc, s, error, ts);
		stream_emit(pc, s, error, ts);
	}
	stream_set_id(h2(pc), s, 0);
}

static void h2_eof(struct proto_conn *pc, uint64_t ts)
{
	struct h2conn *h = h2(pc);

	for (int i = 0; i < H2S_MAX; i++)
		if (h->ids[i])
			stream_end(pc, &h->st[i], SPAN_ERR_CLOSED, ts);
}

/* ---- header blocks ---------------------------------------------------------- */

/* The header fields obs reads from a block. */
struct hfields {
	char method[HTTP_METHOD_MAX];
	char path[HTTP_PATH_MAX];
	char authority[HTTP_HOST_MAX];
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

/* A field name against a string literal (no strlen per field). */
#define name_is(n, nlen, lit) ((nlen) == sizeof(lit) - 1 && !memcmp((n), (lit), sizeof(lit) - 1))

static void keep(char *dst, size_t cap, const char *v, size_t vlen)
{
	size_t n = vlen < cap - 1 ? vlen : cap - 1;

	memcpy(dst, v, n);
	dst[n] = 0;
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
			keep(f->method, sizeof(f->method), v, vlen);
		else if (name_is(n, nlen, ":path"))
			keep(f->path, sizeof(f->path), v, vlen);
		else if (name_is(n, nlen, ":authority"))
			keep(f->authority, sizeof(f->authority), v, vlen);
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
		keep(f->tp, sizeof(f->tp), v, vlen);
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
static void open_request(struct proto_conn *pc, struct h2stream *s, const struct hfields *f,
			 uint64_t ts)
{
	struct exchange *x = &s->x;

	if (pc->side == PROTO_SERVER) {
		struct proto_tp_in in = {f->tp, f->tp_len, f->tp_count,
					 f->ts, f->ts_len, f->ts_bad};
		exchange_clear(x);
		pc->host->server_begin(pc, x, &in, h2(pc)->ids[s - h2(pc)->st]);
	} else {
		pc->host->client_begin(pc, x, h2(pc)->ids[s - h2(pc)->st]);
		s->app_context = f->tp_count > 0;
		if (f->tp_count == 1)
			pc->host->client_adopt(pc, x, f->tp, f->tp_len);
	}
	str_copy(s->method, sizeof(s->method), f->method);
	str_copy(s->path, sizeof(s->path), f->path);
	str_copy(s->authority, sizeof(s->authority), f->authority);
	s->grpc = f->grpc;
	s->timeout_ns = f->timeout_ns;
	x->start_ns = ts;
	s->open = 1;
}

static int on_headers(struct proto_conn *pc, int dir, const struct h2_ev *ev, uint64_t ts)
{
	struct h2conn *h = h2(pc);
	struct hfields f;
	struct h2stream *s;

	f.method[0] = f.path[0] = f.authority[0] = f.ts[0] = 0;
	f.grpc = f.ts_bad = 0;
	f.status = f.grpc_status = -1;
	f.tp_count = 0;
	f.tp_len = f.ts_len = 0;
	f.timeout_ns = 0;
	if (hpack_decode(&h->hp[dir], ev->data, ev->len, on_field, &f))
		return -1; /* the table is lost: nothing more can be understood */
	if (ev->push)
		return 0;
	s = h2s_find(h, ev->stream);
	if (dir == req_dir(pc)) {
		if (!s && !(s = stream_new(pc, ev->stream)))
			return 0;
		if (!s->open)
			open_request(pc, s, &f, ts);
		return 0; /* else request trailers: nothing we need */
	}
	if (!s || !s->open)
		return 0;
	if (f.status >= 200 && !s->resp_headers) {
		s->status = (uint16_t)f.status;
		s->resp_headers = 1;
	}
	if (f.grpc_status >= 0) {
		s->rpc_status = (uint16_t)f.grpc_status;
		s->has_rpc_status = 1;
	}
	if (ev->end_stream)
		stream_end(pc, s, SPAN_ERR_NONE, ts);
	return 0;
}

/* Count gRPC messages in DATA: each has a 5-byte prefix (flag, 32-bit length).
 * p NULL: n bytes nobody saw (kernel-side capture's prefix ended): fine
 * inside a message, else the count is lost. */
static void count_messages(struct grpc_framer *g, const uint8_t *p, size_t n, uint32_t *count)
{
	if (g->lost)
		return;
	if (!p) {
		if (g->left >= n)
			g->left -= (uint32_t)n;
		else
			g->lost = 1;
		return;
	}
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

static void on_data(struct proto_conn *pc, int dir, const struct h2_ev *ev, uint64_t ts)
{
	struct h2stream *s = h2s_find(h2(pc), ev->stream);
	int resp = dir != req_dir(pc);

	if (!s || !s->open)
		return;
	if (s->grpc)
		count_messages(&s->fr[resp], ev->data, ev->len, &s->msgs[resp]);
	if (resp && ev->end_stream)
		stream_end(pc, s, SPAN_ERR_NONE, ts);
}

static int on_event(struct proto_conn *pc, int dir, enum h2_event e, const struct h2_ev *ev,
		    uint64_t ts)
{
	struct h2conn *h = h2(pc);
	struct h2stream *s;

	switch (e) {
	case H2_EV_HEADERS:
		return on_headers(pc, dir, ev, ts);
	case H2_EV_DATA:
		on_data(pc, dir, ev, ts);
		break;
	case H2_EV_RST:
		if ((s = h2s_find(h, ev->stream)) && ev->stream) {
			s->h2_error = ev->error_code;
			stream_end(pc, s, SPAN_ERR_STREAM_RESET, ts);
		}
		break;
	case H2_EV_GOAWAY:
		/* last_stream names streams the GOAWAY's receiver opened: only
		 * a server's GOAWAY concerns the client's requests we follow */
		if (dir == req_dir(pc))
			break;
		for (int i = 0; i < H2S_MAX; i++)
			if (h->ids[i] > ev->last_stream) {
				h->st[i].h2_error = ev->error_code;
				stream_end(pc, &h->st[i], SPAN_ERR_GOAWAY, ts);
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

int h2c_feed(struct proto_conn *pc, int dir, const uint8_t *buf, size_t n, uint64_t ts)
{
	struct h2conn *h = h2(pc);

	while (n) {
		struct h2_ev ev;
		enum h2_event e;
		size_t used = h2_feed(&h->rd[dir], buf, n, &ev, &e);

		if (on_event(pc, dir, e, &ev, ts)) {
			pconn_count(pc, PROTO_COUNT_PARSE_ERROR);
			return -1;
		}
		buf += used;
		n -= used;
	}
	return 0;
}

/* Bytes nobody saw (what kernel-side capture did not copy): only the
 * payload of the DATA frame being read can be; a gap anywhere else (a
 * frame header, a header block HPACK must decode in order) gives the
 * connection up, counted. */
static int h2_skip_dir(struct proto_conn *pc, enum proto_dir dir, uint64_t n, uint64_t ts)
{
	struct h2conn *h = h2(pc);
	struct h2_ev ev;

	if (h2_skip(&h->rd[dir], n, &ev)) {
		pconn_count(pc, PROTO_COUNT_PARSE_ERROR);
		return -1;
	}
	on_data(pc, dir, &ev, ts);
	return 0;
}

/* A client's writes are fed before they are sent (h2_inject.c); reads and
 * a server's writes as they move. */
static int h2_feed_dir(struct proto_conn *pc, enum proto_dir dir, const uint8_t *b, size_t n,
		       uint64_t ts)
{
	return h2c_feed(pc, dir, b, n, ts);
}

const struct proto_handler h2_handler = {
    .name = "http2",
    .id = PROTO_HTTP2,
    .flags = PROTO_F_MULTIPLEXED,
    .state_size = sizeof(struct h2conn),
    .detect = h2_detect,
    .open = h2_open,
    .feed = h2_feed_dir,
    .skip = h2_skip_dir,
    .inject = h2c_inject,
    .sent = h2c_sent,
    .eof = h2_eof,
    .observe = h2_observe,
    .describe = h2_describe,
    .families = h2_families,
};

/*
 * Unit tests: the protocol modules driven through the protocol interface
 * alone (pconn.h), with no shim and no socket: bytes in, records out.
 * HTTP/1 server and client (injection under every short write, any split
 * of the bytes), HTTP/2 gRPC client with its injected traceparent decoded
 * back, bytes of no protocol, and each record described as the collector
 * describes it. An unsampled exchange like the connection's last one is
 * counted with no record (emit_again).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "h2.h"
#include "h2_proto.h"
#include "hpack.h"
#include "http1_proto.h"
#include "http_sem.h"
#include "proto_testhost.h"
#include "registry.h"
#include "xspan.h"

#define TP_IN "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static struct proto_conn *new_conn(enum proto_side side)
{
	struct proto_conn *pc = calloc(1, sizeof(*pc));

	assert_non_null(pc);
	pconn_init(pc, &th_host, proto_handlers, side);
	strcpy(pc->peer, "10.1.2.3");
	pc->peer_port = 5555;
	return pc;
}

static void free_conn(struct proto_conn *pc)
{
	pconn_release(pc);
	free(pc);
}

static const struct xspan_attr *find(const struct xspan *x, const char *key)
{
	const struct xspan_attr *a = xspan_find(x, key);

	assert_non_null(a);
	return a;
}

static const char *find_str(const struct xspan *x, const char *key)
{
	const struct xspan_attr *a = find(x, key);

	return x->str + a->off;
}

/* Feed bytes in pieces: split at `cut` (0: whole). */
static void feed_split(struct proto_conn *pc, enum proto_dir dir, const char *s, size_t cut)
{
	size_t n = strlen(s);

	if (!cut || cut >= n) {
		pconn_feed(pc, dir, (const uint8_t *)s, n, th_now());
		return;
	}
	pconn_feed(pc, dir, (const uint8_t *)s, cut, th_now());
	pconn_feed(pc, dir, (const uint8_t *)s + cut, n - cut, th_now());
}

static const char req[] = "GET /users/42/orders?secret=1 HTTP/1.1\r\nHost: api.test:8080\r\n"
			  "traceparent: " TP_IN "\r\n\r\n";
static const char resp[] = "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy";

static void http1_server(void **state)
{
	struct proto_conn *pc = new_conn(PROTO_SERVER);
	struct xspan x;
	struct proto_obs obs;
	const struct span_rec *r;

	(void)state;
	th_reset();
	feed_split(pc, PROTO_IN, req, 0);
	feed_split(pc, PROTO_OUT, resp, 0);
	assert_int_equal(th.nrec, 1);
	r = &th.recs[0];
	assert_int_equal(r->proto, PROTO_HTTP1);
	assert_int_equal(r->kind, SPAN_SERVER);
	assert_true(r->flags & SPAN_F_REMOTE_PARENT);
	assert_memory_equal(r->parent_id, "\xb7\xad\x6b\x71\x69\x20\x33\x31", 8);
	assert_string_equal(spanrec_str(r, HTTP_A_METHOD), "GET");
	/* the query string never leaves the process that saw it */
	assert_string_equal(spanrec_str(r, HTTP_A_PATH), "/users/42/orders");
	assert_null(memmem(r->str, sizeof(r->str), "secret", 6));
	assert_int_equal(spanrec_int(r, HTTP_A_STATUS, 0), 503);
	assert_true(r->end_ns > r->start_ns);

	/* the collector's side: described by the protocol that wrote it */
	xspan_from_rec(&x, r);
	proto_by_id(r->proto)->describe(r, NULL, &x);
	proto_by_id(r->proto)->observe(r, NULL, &obs);
	assert_string_equal(xspan_name(&x), "GET /users/{id}/orders");
	assert_true(x.error);
	assert_string_equal(find_str(&x, "url.path"), "/users/42/orders");
	assert_string_equal(find_str(&x, "http.route"), "/users/{id}/orders");
	assert_string_equal(find_str(&x, "server.address"), "api.test");
	assert_int_equal(find(&x, "server.port")->i, 8080);
	assert_string_equal(find_str(&x, "error.type"), "503");
	assert_ptr_equal(obs.family, &http_server_duration);
	assert_int_equal(obs.nlabels, 3);
	assert_string_equal(obs.labels[0], "GET");
	assert_string_equal(obs.labels[1], "/users/{id}/orders");
	assert_string_equal(obs.labels[2], "503");
	free_conn(pc);
}

/* host->emit_again: what it was asked, and what it answers */
static struct {
	int calls, rc;
	uint32_t tag;
	uint16_t error;
} again;

static int th_again(struct proto_conn *pc, const struct exchange *x, uint16_t error, uint64_t ts)
{
	(void)ts;
	again.calls++;
	again.tag = pc->red_tag;
	again.error = error;
	/* as a host that exports spans: a sampled one needs its record */
	return x->ctx.flags & TP_FLAG_SAMPLED ? -1 : again.rc;
}

/* One exchange on a server connection: a request (unsampled unless
 * sampled) for method, target and host, answered with status. */
static void exchange_of(struct proto_conn *pc, const char *method, const char *target,
			const char *host, int status, int sampled)
{
	char q[256], a[128];

	snprintf(q, sizeof(q),
		 "%s %s HTTP/1.1\r\nHost: %s\r\ntraceparent: "
		 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0%d\r\n\r\n",
		 method, target, host, sampled);
	snprintf(a, sizeof(a), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status);
	feed_split(pc, PROTO_IN, q, 0);
	feed_split(pc, PROTO_OUT, a, 0);
}

/* An unsampled exchange made of what the connection's last record was
 * made of (method, path without its query, host, status) is counted
 * through emit_again with no record; anything else, or emit_again
 * declining, builds the record, and a new make renames it (red_tag). */
static void http1_red_again(void **state)
{
	struct proto_host h = th_host;
	struct proto_conn *pc = new_conn(PROTO_SERVER);
	uint32_t tag;

	(void)state;
	th_reset();
	memset(&again, 0, sizeof(again));
	h.emit_again = th_again;
	pc->host = &h;
	exchange_of(pc, "GET", "/a", "x", 200, 0);
	assert_int_equal(th.nrec, 1);
	assert_int_equal(again.calls, 0);
	tag = pc->red_tag;
	assert_int_not_equal(tag, 0);
	exchange_of(pc, "GET", "/a", "x", 200, 0);
	exchange_of(pc, "GET", "/a?page=2", "x", 200, 0); /* the query is no label */
	assert_int_equal(th.nrec, 1);
	assert_int_equal(again.calls, 2);
	assert_int_equal(again.tag, tag);
	assert_int_equal(again.error, SPAN_ERR_NONE);
	/* each of status, path, host, method: a record, a new name */
	exchange_of(pc, "GET", "/a", "x", 404, 0);
	exchange_of(pc, "GET", "/b", "x", 404, 0);
	exchange_of(pc, "GET", "/b", "y", 404, 0);
	exchange_of(pc, "PUT", "/b", "y", 404, 0);
	assert_int_equal(th.nrec, 5);
	assert_int_equal(again.calls, 2);
	assert_int_not_equal(pc->red_tag, tag);
	assert_string_equal(spanrec_str(&th.recs[4], HTTP_A_METHOD), "PUT");
	assert_string_equal(spanrec_str(&th.recs[4], HTTP_A_PATH), "/b");
	assert_string_equal(spanrec_str(&th.recs[4], HTTP_A_HOST), "y");
	assert_int_equal(spanrec_int(&th.recs[4], HTTP_A_STATUS, 0), 404);
	/* the same again, sampled: the host wants a record (a span), the
	 * name is kept */
	tag = pc->red_tag;
	exchange_of(pc, "PUT", "/b", "y", 404, 1);
	assert_int_equal(th.nrec, 6);
	assert_int_equal(again.calls, 3);
	assert_int_equal(pc->red_tag, tag);
	/* the host declines (its memo no longer holds): the record */
	again.rc = -1;
	exchange_of(pc, "PUT", "/b", "y", 404, 0);
	assert_int_equal(again.calls, 4);
	assert_int_equal(th.nrec, 7);
	assert_int_equal(pc->red_tag, tag);
	again.rc = 0;
	exchange_of(pc, "PUT", "/b", "y", 404, 0);
	assert_int_equal(again.calls, 5);
	assert_int_equal(th.nrec, 7);
	/* a host without emit_again: always the record */
	h.emit_again = NULL;
	exchange_of(pc, "PUT", "/b", "y", 404, 0);
	assert_int_equal(th.nrec, 8);
	assert_int_equal(again.calls, 5);
	/* the next connection in the same place (its inline state is this
	 * one's): its first exchange, the same again, is a record; the
	 * second is counted without one */
	h.emit_again = th_again;
	pconn_release(pc);
	pconn_init(pc, &h, proto_handlers, PROTO_SERVER);
	exchange_of(pc, "PUT", "/b", "y", 404, 0);
	assert_int_equal(th.nrec, 9);
	assert_int_equal(again.calls, 5);
	exchange_of(pc, "PUT", "/b", "y", 404, 0);
	assert_int_equal(th.nrec, 9);
	assert_int_equal(again.calls, 6);
	assert_int_not_equal(again.tag, 0);
	free_conn(pc);
}

/* Any split of the bytes makes the same record. */
static void http1_splits(void **state)
{
	(void)state;
	for (size_t cut = 1; cut < sizeof(req) - 1; cut++) {
		struct proto_conn *pc = new_conn(PROTO_SERVER);
		th_reset();
		feed_split(pc, PROTO_IN, req, cut);
		feed_split(pc, PROTO_OUT, resp, cut % (sizeof(resp) - 1));
		assert_int_equal(th.nrec, 1);
		assert_string_equal(spanrec_str(&th.recs[0], HTTP_A_PATH), "/users/42/orders");
		assert_int_equal(spanrec_int(&th.recs[0], HTTP_A_STATUS, 0), 503);
		free_conn(pc);
	}
}

/* A client request gets traceparent before its blank line, whatever the
 * kernel takes of each write; the app is told only of its own bytes. */
static void http1_client_injection(void **state)
{
	static const char out[] = "GET /x HTTP/1.1\r\nHost: b\r\n\r\n";
	const size_t m = sizeof(out) - 1;

	(void)state;
	for (size_t take = 0; take <= m + 60; take++) {
		struct proto_conn *pc = new_conn(PROTO_CLIENT);
		struct th_wire w = {.take = take};
		char tp[TP_LEN + 1], want[256];
		const struct span_rec *r;
		struct tp_ctx c;

		th_reset();
		th_write_all(pc, &w, out, m);
		w.take = 0;
		/* the edit went whole, exactly once, before the blank line */
		assert_int_equal(w.n, m + 13 + TP_LEN + 2);
		assert_memory_equal(w.b, out, m - 2);
		assert_memory_equal(w.b + m - 2, "traceparent: ", 13);
		assert_int_equal(tp_parse(w.b + m - 2 + 13, TP_LEN, &c), TP_OK);
		assert_memory_equal(w.b + w.n - 2, "\r\n", 2);
		assert_int_equal(th.counts[PROTO_COUNT_INJECTED], 1);
		feed_split(pc, PROTO_IN, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0);
		assert_int_equal(th.nrec, 1);
		r = &th.recs[0];
		assert_int_equal(r->kind, SPAN_CLIENT);
		/* the injected context is the client span's own */
		assert_memory_equal(r->span_id, c.span_id, 8);
		tp_format(&c, tp);
		snprintf(want, sizeof(want), "%.*straceparent: %s\r\n\r\n", (int)(m - 2), out, tp);
		assert_memory_equal(w.b, want, w.n);
		free_conn(pc);
	}
}

/* A response without a body (204, 304, to HEAD, Content-Length: 0) ends
 * its exchange at once; the next response on the connection pairs with
 * the next request, not with it. */
static void http1_bodyless(void **state)
{
	static const char *const reqs[] = {
	    "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET /c HTTP/1.1\r\nHost: h\r\n\r\n", "GET /d HTTP/1.1\r\nHost: h\r\n\r\n"};
	static const char *const resps[] = {
	    "HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
	    "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"};
	static const int status[] = {204, 200, 304, 200};

	(void)state;
	for (int side = PROTO_SERVER; side <= PROTO_CLIENT; side++) {
		struct proto_conn *pc = new_conn((enum proto_side)side);
		enum proto_dir rq = side == PROTO_SERVER ? PROTO_IN : PROTO_OUT;

		th_reset();
		for (int i = 0; i < 4; i++) {
			feed_split(pc, rq, reqs[i], 0);
			feed_split(pc, !rq, resps[i], 0);
			assert_int_equal(th.nrec, i + 1);
			assert_int_equal(spanrec_int(&th.recs[i], HTTP_A_STATUS, 0), status[i]);
			assert_int_equal(th.recs[i].error, SPAN_ERR_NONE);
		}
		pconn_eof(pc, th_now());
		assert_int_equal(th.nrec, 4);
		free_conn(pc);
	}
}

/* Bytes of no protocol we know: not followed, passed unchanged. */
static void unknown_bytes(void **state)
{
	struct proto_conn *pc = new_conn(PROTO_CLIENT);
	struct th_wire w = {0};
	static const char bin[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";

	(void)state;
	th_reset();
	th_write_all(pc, &w, bin, sizeof(bin) - 1);
	assert_true(pc->dead);
	assert_int_equal(w.n, sizeof(bin) - 1);
	assert_memory_equal(w.b, bin, w.n);
	pconn_feed(pc, PROTO_IN, (const uint8_t *)"HTTP/1.1 200 OK\r\n\r\n", 19, th_now());
	pconn_eof(pc, th_now());
	assert_int_equal(th.nrec, 0);
	free_conn(pc);
}

/* ---- HTTP/2 ------------------------------------------------------------------ */

static size_t frame(uint8_t *o, uint8_t type, uint8_t flags, uint32_t sid, const void *p, size_t n)
{
	uint8_t h[9] = {
	    (uint8_t)(n >> 16),	  (uint8_t)(n >> 8),	(uint8_t)n,	     type,	  flags,
	    (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
	memcpy(o, h, 9);
	memcpy(o + 9, p, n);
	return 9 + n;
}

static size_t block(uint8_t *o, const char *const *kv)
{
	size_t n = 0;

	for (size_t i = 0; kv[i]; i += 2)
		n += hpack_put_literal(o + n, 512, 0, kv[i], kv[i + 1], 0, 0);
	return n;
}

struct tp_found {
	char tp[TP_LEN + 1];
	int n;
};

static void on_field(void *arg, const char *n, size_t nlen, const char *v, size_t vlen, int ni)
{
	struct tp_found *f = arg;

	(void)ni;
	if (nlen == 11 && !memcmp(n, "traceparent", 11) && vlen == TP_LEN) {
		memcpy(f->tp, v, TP_LEN);
		f->tp[TP_LEN] = 0;
		f->n++;
	}
}

/* A unary call's request and response header fields. */
static const char *const reqh[] = {":method",
				   "POST",
				   ":scheme",
				   "http",
				   ":path",
				   "/shop.Cart/Get",
				   ":authority",
				   "cart:50051",
				   "content-type",
				   "application/grpc",
				   NULL};
static const char *const resph[] = {":status", "200", "content-type", "application/grpc", NULL};

static void h2_grpc_client(void **state)
{
	static const char *const trail[] = {"grpc-status", "5", NULL};
	struct proto_conn *pc = new_conn(PROTO_CLIENT);
	struct th_wire w = {0};
	uint8_t out[2048], in[1024], hb[512], msg[] = {0, 0, 0, 0, 2, 8, 1};
	size_t n = 0, k = 0, hl;
	struct hpack_dec dec;
	struct h2_reader rd;
	struct tp_found f = {.n = 0};
	struct xspan x;
	struct proto_obs obs;
	const struct span_rec *r;

	(void)state;
	th_reset();
	memcpy(out, H2_PREFACE, H2_PREFACE_LEN);
	n = H2_PREFACE_LEN;
	n += frame(out + n, H2_SETTINGS, 0, 0, "", 0);
	hl = block(hb, reqh);
	n += frame(out + n, H2_HEADERS, H2_F_END_HEADERS, 1, hb, hl);
	n += frame(out + n, H2_DATA, H2_F_END_STREAM, 1, msg, sizeof(msg));
	th_write_all(pc, &w, (const char *)out, n);
	assert_ptr_equal(pc->h, &h2_handler);

	/* what left: the app's frames, its HEADERS grown by our field */
	h2_init(&rd, 1); /* the client preface first */
	hpack_dec_init(&dec, HPACK_DEFAULT_TABLE);
	for (size_t pos = 0; pos < w.n;) {
		struct h2_ev ev;
		enum h2_event e;
		pos += h2_feed(&rd, (const uint8_t *)w.b + pos, w.n - pos, &ev, &e);
		assert_int_not_equal(e, H2_EV_ERROR);
		if (e == H2_EV_HEADERS)
			assert_int_equal(hpack_decode(&dec, ev.data, ev.len, on_field, &f), 0);
	}
	assert_int_equal(f.n, 1);
	assert_int_equal(th.counts[PROTO_COUNT_INJECTED], 1);

	/* the response: HEADERS, a message, trailers with grpc-status 5 */
	k += frame(in + k, H2_SETTINGS, 0, 0, "", 0);
	hl = block(hb, resph);
	k += frame(in + k, H2_HEADERS, H2_F_END_HEADERS, 1, hb, hl);
	k += frame(in + k, H2_DATA, 0, 1, msg, sizeof(msg));
	hl = block(hb, trail);
	k += frame(in + k, H2_HEADERS, H2_F_END_HEADERS | H2_F_END_STREAM, 1, hb, hl);
	for (size_t i = 0; i < k; i += 7) /* in odd pieces */
		pconn_feed(pc, PROTO_IN, in + i, k - i < 7 ? k - i : 7, th_now());
	assert_int_equal(th.nrec, 1);
	r = &th.recs[0];
	assert_int_equal(r->proto, PROTO_HTTP2);
	assert_int_equal(r->kind, SPAN_CLIENT);
	{
		struct tp_ctx c;
		assert_int_equal(tp_parse(f.tp, TP_LEN, &c), TP_OK);
		assert_memory_equal(r->span_id, c.span_id, 8);
	}

	xspan_from_rec(&x, r);
	proto_by_id(r->proto)->describe(r, NULL, &x);
	proto_by_id(r->proto)->observe(r, NULL, &obs);
	assert_string_equal(xspan_name(&x), "shop.Cart/Get");
	assert_string_equal(find_str(&x, "rpc.system"), "grpc");
	assert_int_equal(find(&x, "rpc.grpc.status_code")->i, 5);
	assert_int_equal(find(&x, "obs.rpc.request_messages")->i, 1);
	assert_int_equal(find(&x, "obs.rpc.response_messages")->i, 1);
	assert_string_equal(find_str(&x, "server.address"), "cart");
	assert_string_equal(find_str(&x, "error.type"), "NOT_FOUND");
	assert_true(x.error);
	assert_string_equal(obs.family->name, "rpc_client_call_duration_seconds");
	assert_string_equal(obs.labels[1], "shop.Cart");
	assert_string_equal(obs.labels[3], "5");
	free_conn(pc);
}

/* emit_again for any span, sampled or not (the test host's roots are all
 * sampled): only what the module asks is looked at here */
static int th_again_any(struct proto_conn *pc, const struct exchange *x, uint16_t error,
			uint64_t ts)
{
	(void)x, (void)ts;
	again.calls++;
	again.tag = pc->red_tag;
	again.error = error;
	return again.rc;
}

/* One unary gRPC call on a client connection, stream sid, answered with
 * grpc-status status. */
static void grpc_call(struct proto_conn *pc, struct th_wire *w, uint32_t sid, const char *status)
{
	const char *const trail[] = {"grpc-status", status, NULL};
	uint8_t out[1024], in[1024], hb[512], msg[] = {0, 0, 0, 0, 2, 8, 1};
	size_t n = 0, k = 0;

	if (sid == 1) {
		memcpy(out, H2_PREFACE, H2_PREFACE_LEN);
		n = H2_PREFACE_LEN;
		n += frame(out + n, H2_SETTINGS, 0, 0, "", 0);
		k += frame(in + k, H2_SETTINGS, 0, 0, "", 0);
	}
	n += frame(out + n, H2_HEADERS, H2_F_END_HEADERS, sid, hb, block(hb, reqh));
	n += frame(out + n, H2_DATA, H2_F_END_STREAM, sid, msg, sizeof(msg));
	w->n = 0;
	th_write_all(pc, w, (const char *)out, n);
	k += frame(in + k, H2_HEADERS, H2_F_END_HEADERS, sid, hb, block(hb, resph));
	k += frame(in + k, H2_DATA, 0, sid, msg, sizeof(msg));
	k += frame(in + k, H2_HEADERS, H2_F_END_HEADERS | H2_F_END_STREAM, sid, hb,
		   block(hb, trail));
	pconn_feed(pc, PROTO_IN, in, k, th_now());
}

/* HTTP/2: a call made of what the connection's last record was made of
 * (method, path, authority, statuses, message counts) goes to emit_again
 * with no record; another grpc-status makes a record again. */
static void h2_red_again(void **state)
{
	struct proto_host h = th_host;
	struct proto_conn *pc = new_conn(PROTO_CLIENT);
	struct th_wire w = {0};
	struct xspan x;
	uint32_t tag;

	(void)state;
	th_reset();
	memset(&again, 0, sizeof(again));
	h.emit_again = th_again_any;
	pc->host = &h;
	grpc_call(pc, &w, 1, "0");
	assert_ptr_equal(pc->h, &h2_handler);
	assert_int_equal(th.nrec, 1);
	assert_int_equal(again.calls, 0);
	tag = pc->red_tag;
	assert_int_not_equal(tag, 0);
	grpc_call(pc, &w, 3, "0");
	grpc_call(pc, &w, 5, "0");
	assert_int_equal(th.nrec, 1);
	assert_int_equal(again.calls, 2);
	assert_int_equal(again.tag, tag);
	/* another status: a record, a new name */
	grpc_call(pc, &w, 7, "5");
	assert_int_equal(th.nrec, 2);
	assert_int_equal(again.calls, 2);
	assert_int_not_equal(pc->red_tag, tag);
	xspan_from_rec(&x, &th.recs[1]);
	h2_handler.describe(&th.recs[1], NULL, &x);
	assert_int_equal(find(&x, "rpc.grpc.status_code")->i, 5);
	/* the host declines: the record */
	again.rc = -1;
	grpc_call(pc, &w, 9, "5");
	assert_int_equal(again.calls, 3);
	assert_int_equal(th.nrec, 3);
	free_conn(pc);
}

/* Every registered protocol declares a describe and its families. */
static void registry(void **state)
{
	(void)state;
	for (size_t i = 0; proto_handlers[i]; i++) {
		const struct proto_handler *h = proto_handlers[i];
		assert_ptr_equal(proto_by_id(h->id), h);
		assert_non_null(h->detect);
		assert_non_null(h->feed);
		assert_non_null(h->describe);
		assert_non_null(h->observe);
		assert_non_null(h->families);
		assert_non_null(h->families[0]);
		for (size_t j = 0; h->families[j]; j++) {
			const struct proto_family *f = h->families[j];
			assert_true(f->nbounds <= PROTO_BUCKETS_MAX);
			/* one id, one family, across every protocol */
			assert_ptr_equal(proto_family_by_id(f->id), f);
		}
	}
	assert_null(proto_by_id(PROTO_TEST));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(http1_server),   cmocka_unit_test(http1_red_again),
	    cmocka_unit_test(http1_splits),   cmocka_unit_test(http1_client_injection),
	    cmocka_unit_test(http1_bodyless), cmocka_unit_test(unknown_bytes),
	    cmocka_unit_test(h2_grpc_client), cmocka_unit_test(h2_red_again),
	    cmocka_unit_test(registry),
	};
	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}

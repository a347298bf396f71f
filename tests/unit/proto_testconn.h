/*
 * proto_testconn - what the data-store modules' unit tests share on top of
 * proto_testhost.h: a client connection to 127.0.0.1:PORT driven through
 * pconn, the app's writes (checked to reach the wire unchanged) and the
 * server's bytes fed in pieces. Needs cmocka (include it first).
 */
#ifndef OBS_PROTO_TESTCONN_H
#define OBS_PROTO_TESTCONN_H
#include <arpa/inet.h>
#include <netinet/in.h>

#include "proto_testhost.h"
#include "registry.h"

/* A client connection to 127.0.0.1:port, the test host's state reset. */
static struct proto_conn *tc_client(uint16_t port)
{
	struct proto_conn *pc = calloc(1, sizeof(*pc));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};

	th_reset();
	pconn_init(pc, &th_host, proto_handlers, PROTO_CLIENT);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	pconn_peer(pc, (struct sockaddr *)&sa, sizeof(sa));
	return pc;
}

static void tc_done(struct proto_conn *pc)
{
	pconn_release(pc);
	free(pc);
}

/* The app writes b: every byte reaches the wire, unchanged. */
static void tc_sends(struct proto_conn *pc, const void *b, size_t n)
{
	struct th_wire w = {0};

	th_write_all(pc, &w, b, n);
	assert_int_equal(w.n, n);
	assert_memory_equal(w.b, b, n);
}

/* The server's b, read by the app in pieces of step bytes (0: whole). */
static void tc_says(struct proto_conn *pc, const void *b, size_t n, size_t step)
{
	const uint8_t *p = b;

	for (size_t off = 0; off < n; off += step ? step : n)
		pconn_feed(pc, PROTO_IN, p + off, step && n - off > step ? step : n - off,
			   th_now());
}

#endif

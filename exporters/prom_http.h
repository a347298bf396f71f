/*
 * prom_http - the HTTP endpoint (libmicrohttpd): /metrics, /healthz,
 * /readyz. The server thread calls back into its owner for content.
 */
#ifndef OBS_PROM_HTTP_H
#define OBS_PROM_HTTP_H
#include <stddef.h>
#include <stdint.h>

#include "prom.h"

struct http_server;

struct http_server_cfg {
	const char *host; /* "" = every interface */
	uint16_t port;	  /* 0 = pick a free port */
	/* Render /metrics into out; return 0 or -1 (500). */
	int (*metrics)(void *ctx, enum prom_format fmt, struct sbuf *out);
	/* 1 if ready; else 0 with a human-readable reason. */
	int (*ready)(void *ctx, char *reason, size_t len);
	void *ctx;
};

/* Bind and start serving. -1 with a clear message on failure. */
int http_server_start(const struct http_server_cfg *cfg, struct http_server **out, char *err,
		      size_t errlen);
uint16_t http_server_port(const struct http_server *s);
void http_server_stop(struct http_server *s);

#endif

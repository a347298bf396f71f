/*
 * prom_http - the HTTP endpoint (libmicrohttpd): the metrics path,
 * /healthz, /readyz. The server thread calls back into its owner for
 * content. The metrics path can require a bearer token and/or basic auth
 * (401 otherwise) and the whole endpoint can serve TLS (GnuTLS, through
 * libmicrohttpd); /healthz and /readyz never ask for credentials and say
 * nothing but ok / ready / why not ready.
 */
#ifndef OBS_PROM_HTTP_H
#define OBS_PROM_HTTP_H
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "prom.h"

struct http_server;

struct http_server_cfg {
	const char *host; /* "" = every interface */
	uint16_t port;	  /* 0 = pick a free port */
	const char *path; /* of the metrics; NULL = /metrics */
	/* TLS: PEM certificate chain and key (copied); NULL = plain HTTP */
	const char *tls_cert_pem, *tls_key_pem;
	const struct auth_creds *auth; /* copied; NULL = no authentication */
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
/* Replace the credentials (SIGHUP): later requests see the new ones. */
void http_server_set_auth(struct http_server *s, const struct auth_creds *auth);
/* Replace the TLS certificate and key (SIGHUP): new handshakes get the
 * new pair, connections already up keep theirs. 1 if replaced (desc says
 * which certificate), 0 if unchanged, -1 with a message if the pair does
 * not load or the server is plain HTTP; the running pair stays then. */
int http_server_set_tls(struct http_server *s, const char *cert_pem, const char *key_pem,
			char *desc, size_t desclen, char *err, size_t errlen);
/* The served certificate's subject and expiry, for logs. */
void http_server_tls_describe(struct http_server *s, char *out, size_t outlen);
/* The served certificate's expiry (Unix seconds); 0 for plain HTTP. */
long long http_server_tls_not_after(struct http_server *s);
/* Requests for the metrics refused with 401 so far. */
unsigned long long http_server_unauthorized(struct http_server *s);
/* Read a PEM file for tls_cert_pem / tls_key_pem (caller frees). */
char *http_read_pem(const char *path, const char *what, char *err, size_t errlen);
void http_server_stop(struct http_server *s);

#endif

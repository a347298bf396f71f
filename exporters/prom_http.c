#include "prom_http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "log.h"
#include "tls_keys.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

#define PEM_MAX			 (1 << 20)
#define PROM_HTTP_CONNS		 64u /* scrape connections at once */
#define PROM_HTTP_PER_IP	 8u  /* of them from one address */
#define PROM_HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct http_server {
	struct MHD_Daemon *d;
	struct http_server_cfg cfg;
	int fd;
	uint16_t port;
	char path[128];
	/* TLS: the served set, older ones chained behind it (tls_keys.h) */
	struct tls_keys *keys;
	pthread_mutex_t lock; /* guards auth, keys and the counters below */
	struct auth_creds auth;
	unsigned long long unauthorized;
	time_t last_warn;
	size_t last_len; /* the last /metrics body: the next one's size, near enough */
};

static MHD_Result_t reply_hdr(struct MHD_Connection *conn, unsigned status, const char *ctype,
			      char *body, size_t len, int must_free, const char *hname,
			      const char *hvalue)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	MHD_Result_t ret;

	if (!r) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (hname)
		MHD_add_response_header(r, hname, hvalue);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static MHD_Result_t reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
			  char *body, size_t len, int must_free)
{
	return reply_hdr(conn, status, ctype, body, len, must_free, NULL, NULL);
}

static MHD_Result_t reply_static(struct MHD_Connection *conn, unsigned status, const char *ctype,
				 const char *body)
{
	return reply(conn, status, ctype, (char *)body, strlen(body), 0);
}

static void json_escape(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_printf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			sbuf_printf(b, "\\u%04x", (unsigned char)*s);
		else
			sbuf_putc(b, *s);
	}
}

static void peer_name(struct MHD_Connection *conn, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, len, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
			  (socklen_t)len);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)len);
}

/* Credentials: the Authorization header against the configured secrets. */
static int authorized(struct http_server *s, struct MHD_Connection *conn)
{
	const char *hdr =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	char *user = NULL, *pass = NULL, peer[64];
	int ok;
	time_t now;

	pthread_mutex_lock(&s->lock);
	if (!auth_required(&s->auth)) {
		pthread_mutex_unlock(&s->lock);
		return 1;
	}
	if (s->auth.basic_set && hdr && !strncasecmp(hdr, "Basic ", 6))
		user = MHD_basic_auth_get_username_password(conn, &pass);
	ok = auth_allows(&s->auth, hdr, user, pass);
	if (!ok)
		s->unauthorized++;
	now = time(NULL);
	if (!ok && now - s->last_warn >= 60) {
		s->last_warn = now;
		pthread_mutex_unlock(&s->lock);
		peer_name(conn, peer, sizeof(peer));
		/* never the credentials themselves */
		log_warn("metrics_unauthorized",
			 "refused %s from %s: %s credentials (401; at most one warning a "
			 "minute, all counted in obs_metrics_unauthorized_requests_total)",
			 s->path, peer, hdr ? "wrong" : "no");
	} else {
		pthread_mutex_unlock(&s->lock);
	}
	if (pass) {
		memset(pass, 0, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	return ok;
}

static MHD_Result_t handle(void *cls, struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version, const char *upload_data,
			   size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct sbuf b;
	size_t len;
	char *body;

	(void)version;
	(void)upload_data;
	(void)con_cls;
	if (*upload_size) /* we accept no bodies */
		return MHD_NO;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
				    "method not allowed\n");

	if (!strcmp(url, s->path)) {
		if (!authorized(s, conn)) {
			char challenge[128];

			pthread_mutex_lock(&s->lock);
			snprintf(challenge, sizeof(challenge), "%s", auth_challenge(&s->auth));
			pthread_mutex_unlock(&s->lock);
			return reply_hdr(conn, MHD_HTTP_UNAUTHORIZED, "text/plain",
					 (char *)"unauthorized\n", 13, 0,
					 MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
		}
		const char *accept =
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
		enum prom_format fmt = prom_negotiate(accept);

		sbuf_init(&b);
		/* room for the last body and an eighth more: a large body
		 * grown by doubling was copied and faulted in again and again */
		sbuf_reserve(&b, __atomic_load_n(&s->last_len, __ATOMIC_RELAXED) * 9 / 8);
		if (s->cfg.metrics(s->cfg.ctx, fmt, &b) || b.oom) {
			sbuf_free(&b);
			return reply_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
					    "cannot read metrics\n");
		}
		body = sbuf_detach(&b, &len);
		if (!body)
			return MHD_NO;
		__atomic_store_n(&s->last_len, len, __ATOMIC_RELAXED);
		return reply(conn, MHD_HTTP_OK,
			     fmt == PROM_OPENMETRICS ? PROM_CONTENT_TYPE_OPENMETRICS
						     : PROM_CONTENT_TYPE_TEXT,
			     body, len, 1);
	}
	if (!strcmp(url, "/healthz"))
		return reply_static(conn, MHD_HTTP_OK, "application/json", "{\"status\":\"ok\"}\n");
	if (!strcmp(url, "/readyz")) {
		char reason[256] = "";
		int ok = s->cfg.ready(s->cfg.ctx, reason, sizeof(reason));

		if (ok)
			return reply_static(conn, MHD_HTTP_OK, "application/json",
					    "{\"status\":\"ready\"}\n");
		sbuf_init(&b);
		sbuf_puts(&b, "{\"status\":\"not ready\",\"reason\":\"");
		json_escape(&b, reason);
		sbuf_puts(&b, "\"}\n");
		body = sbuf_detach(&b, &len);
		if (!body)
			return MHD_NO;
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", body, len, 1);
	}
	if (!strcmp(url, "/"))
		return reply_static(conn, MHD_HTTP_OK, "text/plain",
				    "obs\n  /healthz  liveness\n  /readyz   readiness\n");
	return reply_static(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n");
}

static int bind_socket(const char *host, uint16_t port, uint16_t *bound, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL, *ai;
	char portstr[8];
	int fd = -1, e = 0, rc;

	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(*host ? host : NULL, portstr, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve metrics address '%s': %s", host,
			 gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int one = 1;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 64))
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on %s%s%s:%u: %s%s",
			 strchr(host, ':') ? "[" : "", *host ? host : "*",
			 strchr(host, ':') ? "]" : "", port, strerror(e),
			 e == EADDRINUSE ? " (another obs or exporter is using it; choose "
					   "another with --metrics-addr HOST:PORT)"
					 : "");
		return -1;
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		getsockname(fd, (struct sockaddr *)&ss, &sl);
		*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							: ((struct sockaddr_in *)&ss)->sin_port);
	}
	return fd;
}

int http_server_start(const struct http_server_cfg *cfg, struct http_server **out, char *err,
		      size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->cfg = *cfg;
	s->fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	snprintf(s->path, sizeof(s->path), "%s", cfg->path ? cfg->path : "/metrics");
	if (cfg->auth)
		s->auth = *cfg->auth;
	if (cfg->tls_cert_pem || cfg->tls_key_pem) {
		if (!cfg->tls_cert_pem || !cfg->tls_key_pem) {
			snprintf(err, errlen, "TLS needs both a certificate and a key");
			goto fail;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errlen,
				 "this libmicrohttpd was built without TLS: cannot serve HTTPS");
			goto fail;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES) {
			snprintf(err, errlen,
				 "this libmicrohttpd cannot take a certificate callback: cannot "
				 "serve HTTPS");
			goto fail;
		}
		if (!(s->keys = tls_keys_new(cfg->tls_cert_pem, cfg->tls_key_pem, err, errlen)))
			goto fail;
	}
	s->fd = bind_socket(cfg->host, cfg->port, &s->port, err, errlen);
	if (s->fd < 0)
		goto fail;
	/* The certificate is handed to each handshake by tls_keys_retrieve,
	 * not loaded once into the daemon, so that SIGHUP can rotate it. TLS
	 * 1.2 and 1.3 only, whatever the system's GnuTLS defaults. No address
	 * may hold more than PROM_HTTP_PER_IP of the PROM_HTTP_CONNS slots: a
	 * client without credentials cannot starve the scrapers. */
	if (s->keys) {
		tls_keys_serve(s->keys);
		s->d = MHD_start_daemon(
		    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS, 0, NULL, NULL,
		    handle, s, MHD_OPTION_LISTEN_SOCKET, s->fd, MHD_OPTION_CONNECTION_LIMIT,
		    PROM_HTTP_CONNS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, PROM_HTTP_PER_IP,
		    MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_HTTPS_PRIORITIES,
		    PROM_HTTP_TLS_PRIORITIES, MHD_OPTION_HTTPS_CERT_CALLBACK, tls_keys_retrieve,
		    MHD_OPTION_END);
	} else {
		s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL,
					NULL, handle, s, MHD_OPTION_LISTEN_SOCKET, s->fd,
					MHD_OPTION_CONNECTION_LIMIT, PROM_HTTP_CONNS,
					MHD_OPTION_PER_IP_CONNECTION_LIMIT, PROM_HTTP_PER_IP,
					MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	}
	if (!s->d) {
		snprintf(err, errlen, "cannot start the HTTP%s server on port %u",
			 s->keys ? "S" : "", s->port);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->fd >= 0)
		close(s->fd);
	if (s->keys)
		tls_keys_serve(NULL);
	tls_keys_free(s->keys);
	auth_clear(&s->auth);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return -1;
}

void http_server_set_auth(struct http_server *s, const struct auth_creds *auth)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	auth_clear(&s->auth);
	if (auth)
		s->auth = *auth;
	pthread_mutex_unlock(&s->lock);
}

int http_server_set_tls(struct http_server *s, const char *cert_pem, const char *key_pem,
			char *desc, size_t desclen, char *err, size_t errlen)
{
	struct tls_keys *k;
	int same;

	if (!s || !s->keys) {
		snprintf(err, errlen, "the endpoint serves plain HTTP: restart obs to turn TLS on");
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	same = tls_keys_same(s->keys, cert_pem, key_pem);
	pthread_mutex_unlock(&s->lock);
	if (same)
		return 0;
	if (!(k = tls_keys_new(cert_pem, key_pem, err, errlen)))
		return -1;
	pthread_mutex_lock(&s->lock);
	tls_keys_chain(k, s->keys);
	s->keys = k;
	tls_keys_serve(k);
	pthread_mutex_unlock(&s->lock);
	tls_keys_describe(k, desc, desclen);
	return 1;
}

void http_server_tls_describe(struct http_server *s, char *out, size_t outlen)
{
	if (!s) {
		snprintf(out, outlen, "no certificate");
		return;
	}
	pthread_mutex_lock(&s->lock);
	tls_keys_describe(s->keys, out, outlen);
	pthread_mutex_unlock(&s->lock);
}

long long http_server_tls_not_after(struct http_server *s)
{
	time_t t;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	t = tls_keys_not_after(s->keys);
	pthread_mutex_unlock(&s->lock);
	return (long long)t;
}

unsigned long long http_server_unauthorized(struct http_server *s)
{
	unsigned long long n;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	n = s->unauthorized;
	pthread_mutex_unlock(&s->lock);
	return n;
}

char *http_read_pem(const char *path, const char *what, char *err, size_t errlen)
{
	char *buf = malloc(PEM_MAX + 1);
	size_t got = 0;
	int fd;

	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot read the TLS %s %s: %s", what, path, strerror(errno));
		free(buf);
		return NULL;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, PEM_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == PEM_MAX)
			break;
	}
	close(fd);
	buf[got] = 0;
	if (got == PEM_MAX || !strstr(buf, "-----BEGIN ")) {
		snprintf(err, errlen, "the TLS %s %s is not a PEM file%s", what, path,
			 got == PEM_MAX ? " (over 1 MiB)" : "");
		memset(buf, 0, got);
		free(buf);
		return NULL;
	}
	return buf;
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	close(s->fd);
	if (s->keys)
		tls_keys_serve(NULL);
	tls_keys_free(s->keys);
	auth_clear(&s->auth);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

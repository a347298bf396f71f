#include "prom_http.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

struct http_server {
	struct MHD_Daemon *d;
	struct http_server_cfg cfg;
	int fd;
	uint16_t port;
};

static MHD_Result_t reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
			  char *body, size_t len, int must_free)
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
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
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

	if (!strcmp(url, "/metrics")) {
		const char *accept =
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
		enum prom_format fmt = prom_negotiate(accept);

		sbuf_init(&b);
		if (s->cfg.metrics(s->cfg.ctx, fmt, &b) || b.oom) {
			sbuf_free(&b);
			return reply_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
					    "cannot read metrics\n");
		}
		body = sbuf_detach(&b, &len);
		if (!body)
			return MHD_NO;
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
				    "obs\n  /metrics  Prometheus / OpenMetrics\n"
				    "  /healthz  liveness\n  /readyz   readiness\n");
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
	s->fd = bind_socket(cfg->host, cfg->port, &s->port, err, errlen);
	if (s->fd < 0) {
		free(s);
		return -1;
	}
	s->d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, handle,
			     s, MHD_OPTION_LISTEN_SOCKET, s->fd, MHD_OPTION_CONNECTION_LIMIT, 64,
			     MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errlen, "cannot start the HTTP server on port %u", s->port);
		close(s->fd);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
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
	free(s);
}

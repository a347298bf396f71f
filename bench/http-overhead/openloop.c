/*
 * openloop - an open-loop HTTP/1.1 load generator: requests are due at a
 * fixed rate whatever the server does, and each one's latency counts from
 * when it was due, not from when a connection was free to send it (no
 * coordinated omission: a stalled server makes the requests queued behind
 * it late, and that lateness is measured). wrk's closed loop instead
 * keeps every connection busy, so at saturation its p99 is the queue that
 * any added CPU makes longer; at a rate the server can sustain, the tail
 * shows what a request itself waits for.
 *
 *   openloop HOST PORT PATH RATE SECONDS CONNECTIONS
 *
 * Keep-alive connections, one request in flight on each; responses must
 * carry Content-Length (nginx's do). Prints one line:
 *   sent N done N errors N late N rate R p50 US p90 US p99 US p999 US max US
 * ("late": requests that found every connection busy when they were due,
 * and waited for one). Exits non-zero on a connection or protocol error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#define RBUF 16384

struct lconn {
	int fd;
	int busy;
	double due; /* the request in flight: when it was due */
	size_t have;
	char buf[RBUF];
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int conn_open(const struct sockaddr_in *sa)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Bytes of one complete response at the start of c->buf, 0 if more are
 * needed, -1 if it is not one this tool can read. */
static long response_len(const struct lconn *c)
{
	const char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
	long head, body = -1;

	if (!end)
		return c->have == RBUF ? -1 : 0;
	head = end - c->buf + 4;
	/* header lines, each ending in CRLF; the last one's is end's */
	for (const char *p = c->buf, *eol; p <= end; p = eol + 2) {
		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if (!eol)
			break;
		if (eol - p > 15 && !strncasecmp(p, "Content-Length:", 15))
			body = strtol(p + 15, NULL, 10);
	}
	if (body < 0 || head + body > RBUF)
		return -1;
	return c->have >= (size_t)(head + body) ? head + body : 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct lconn *cs;
	double rate, secs, t0, *lat, *queue;
	long total, sent = 0, done = 0, late = 0, errors = 0, qhead = 0, qtail = 0, qmarked = 0;
	int nconn, ep, reqlen;
	char req[512];

	if (argc != 7 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: openloop HOST PORT PATH RATE SECONDS CONNECTIONS\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	rate = atof(argv[4]);
	secs = atof(argv[5]);
	nconn = atoi(argv[6]);
	if (rate <= 0 || secs <= 0 || nconn <= 0) {
		fprintf(stderr, "openloop: RATE, SECONDS and CONNECTIONS must be positive\n");
		return 2;
	}
	reqlen = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", argv[3],
			  argv[1], argv[2]);
	total = (long)(rate * secs);
	cs = calloc((size_t)nconn, sizeof(*cs));
	lat = calloc((size_t)total + 1, sizeof(*lat));
	queue = calloc((size_t)total + 1, sizeof(*queue));
	ep = epoll_create1(0);
	if (!cs || !lat || !queue || ep < 0) {
		perror("openloop");
		return 1;
	}
	for (int i = 0; i < nconn; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		if ((cs[i].fd = conn_open(&sa)) < 0 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev)) {
			perror("openloop: connect");
			return 1;
		}
	}
	/* wake when the next request is due, not up to 50 us later */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	t0 = now_s();
	while (done + errors < total) {
		struct epoll_event evs[64];
		double t = now_s(), next;
		struct timespec wait;
		int n;

		/* requests now due join the queue; free connections take them */
		while (sent < total && t0 + (double)sent / rate <= t)
			queue[qtail++] = t0 + (double)sent++ / rate;
		for (int i = 0; i < nconn && qhead < qtail; i++) {
			if (cs[i].busy)
				continue;
			if (write(cs[i].fd, req, (size_t)reqlen) != reqlen) {
				perror("openloop: write");
				return 1;
			}
			cs[i].busy = 1;
			cs[i].due = queue[qhead++];
		}
		/* still queued: every connection was busy when they were due */
		if (qtail > (qhead > qmarked ? qhead : qmarked))
			late += qtail - (qhead > qmarked ? qhead : qmarked);
		qmarked = qtail;
		next = sent < total ? t0 + (double)sent / rate - t : 1.0;
		if (next < 0)
			next = 0;
		wait.tv_sec = (time_t)next;
		wait.tv_nsec = (long)((next - (double)wait.tv_sec) * 1e9);
		n = epoll_pwait2(ep, evs, 64, &wait, NULL);
		if (n < 0 && errno != EINTR) {
			perror("openloop: epoll_pwait2");
			return 1;
		}
		for (int k = 0; k < n; k++) {
			struct lconn *c = &cs[evs[k].data.u32];
			ssize_t got = read(c->fd, c->buf + c->have, RBUF - c->have);
			long len;

			if (got <= 0) {
				if (got < 0 && errno == EAGAIN)
					continue;
				fprintf(stderr, "openloop: the server closed a connection\n");
				return 1;
			}
			c->have += (size_t)got;
			while (c->busy && (len = response_len(c)) != 0) {
				if (len < 0) {
					fprintf(stderr,
						"openloop: a response without Content-Length or "
						"over %d bytes\n",
						RBUF);
					return 1;
				}
				if (strncmp(c->buf + 9, "200", 3))
					errors++;
				else
					lat[done++] = now_s() - c->due;
				memmove(c->buf, c->buf + len, c->have - (size_t)len);
				c->have -= (size_t)len;
				c->busy = 0;
			}
		}
	}
	qsort(lat, (size_t)done, sizeof(*lat), cmp_double);
#define PCT(p) (done ? lat[(long)((double)(done - 1) * (p))] * 1e6 : 0)
	printf(
	    "sent %ld done %ld errors %ld late %ld rate %.0f p50 %.0f p90 %.0f p99 %.0f p999 %.0f "
	    "max %.0f\n",
	    sent, done, errors, late, (double)done / (now_s() - t0), PCT(0.5), PCT(0.9), PCT(0.99),
	    PCT(0.999), PCT(1.0));
	for (int i = 0; i < nconn; i++)
		close(cs[i].fd);
	free(cs);
	free(lat);
	free(queue);
	return errors ? 1 : 0;
}

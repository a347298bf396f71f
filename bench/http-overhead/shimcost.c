/*
 * shimcost - the shim's cost per HTTP exchange, measured in one process:
 * a loopback connection whose accepted end plays server and whose
 * connected end plays client, so each iteration drives one client span
 * (with traceparent injection) and one server span through the shim.
 * Run bare and under LD_PRELOAD; the difference per iteration is the cost.
 *   shimcost [ITERATIONS [ROUTES [FIRST [server]]]]   prints CPU ns per exchange
 * The process's CPU time (user + system), not the wall clock: on shared
 * vCPUs the wall clock moves by a third between runs (time stolen by the
 * host), the CPU time by a few percent.
 * ROUTES: spread the requests over that many distinct routes (/k<FIRST>..,
 * spelled in letters: no segment a route template would fold).
 * server: the client's side makes raw syscalls the shim does not see, so
 * only the server's span is paid (what a server like nginx pays).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static int server_only;

/* The client's I/O: through libc (the shim), or around it. */
static ssize_t cl_write(int fd, const void *b, size_t n)
{
	return server_only ? syscall(SYS_write, fd, b, n) : write(fd, b, n);
}

static ssize_t cl_read(int fd, void *b, size_t n)
{
	return server_only ? syscall(SYS_read, fd, b, n) : read(fd, b, n);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	long routes = argc > 2 ? atol(argv[2]) : 1, first = argc > 3 ? atol(argv[3]) : 0;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	char req[128];
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	char buf[4096];
	int one = 1;
	int ls = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), s;
	struct timespec t0, t1;

	if (bind(ls, (void *)&a, sizeof(a)) || listen(ls, 1) || getsockname(ls, (void *)&a, &al) ||
	    connect(c, (void *)&a, sizeof(a)) || (s = accept(ls, NULL, NULL)) < 0) {
		perror("shimcost: setup");
		return 1;
	}
	server_only = argc > 4 && !strcmp(argv[4], "server");
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	if (routes < 1)
		routes = 1;
	for (long i = 0; i < n; i++) {
		ssize_t got, want;
		char path[16];
		int len, p = 1;
		if (routes == 1) {
			memcpy(path, "users/42", 9);
		} else {
			path[0] = 'k'; /* never a hex or number segment */
			for (long v = first + i % routes; p < 12; v /= 26) {
				path[p++] = (char)('a' + v % 26);
				if (v < 26)
					break;
			}
			path[p] = 0;
		}
		len =
		    snprintf(req, sizeof(req),
			     "GET /%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: b\r\n\r\n", path);
		if (cl_write(c, req, (size_t)len) != len)
			return 1;
		/* the server reads the request head (and an injected traceparent) */
		got = 0;
		while (got < 4 || memcmp(buf + got - 4, "\r\n\r\n", 4)) {
			ssize_t r = read(s, buf + got, sizeof(buf) - (size_t)got);
			if (r <= 0)
				return 1;
			got += r;
		}
		if (write(s, resp, sizeof(resp) - 1) != (ssize_t)sizeof(resp) - 1)
			return 1;
		want = sizeof(resp) - 1;
		for (got = 0; got < want;) {
			ssize_t r = cl_read(c, buf, (size_t)(want - got));
			if (r <= 0)
				return 1;
			got += r;
		}
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	printf("%.0f\n",
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
		   (double)n);
	return 0;
}

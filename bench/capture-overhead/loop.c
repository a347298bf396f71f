/*
 * loop.c - HTTP/1.1 exchanges over one loopback TCP connection, in one
 * thread: the client writes a request, the server reads it and writes a
 * response, the client reads it (four syscalls on captured sockets, plus a
 * getppid standing for the syscalls capture only glances at). Built
 * -static, so obs follows it from the kernel side, as it would a Go
 * program. Prints the mean ns per exchange.
 *
 *   loop ITERATIONS [CPU]   (CPU: pinned there, steadier figures)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char req[] = "GET /items/42 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			  "User-Agent: loop/1\r\nAccept: */*\r\n\r\n";
static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
			   "Content-Length: 3\r\n\r\nok\n";

static int must(int v, const char *what)
{
	if (v < 0) {
		perror(what);
		exit(1);
	}
	return v;
}

static void read_n(int fd, char *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r <= 0) {
			perror("read");
			exit(1);
		}
		got += (size_t)r;
	}
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int one = 1, l, c, s;
	struct timespec t0, t1;
	char buf[512];

	if (argc > 2) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(atoi(argv[2]), &set);
		must(sched_setaffinity(0, sizeof(set), &set), "sched_setaffinity");
	}
	l = must(socket(AF_INET, SOCK_STREAM, 0), "socket");
	must(bind(l, (struct sockaddr *)&a, sizeof(a)), "bind");
	must(listen(l, 1), "listen");
	must(getsockname(l, (struct sockaddr *)&a, &alen), "getsockname");
	c = must(socket(AF_INET, SOCK_STREAM, 0), "socket");
	must(connect(c, (struct sockaddr *)&a, sizeof(a)), "connect");
	s = must(accept(l, NULL, NULL), "accept");
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		must((int)write(c, req, sizeof(req) - 1), "write");
		read_n(s, buf, sizeof(req) - 1);
		syscall(SYS_getppid);
		must((int)write(s, resp, sizeof(resp) - 1), "write");
		read_n(c, buf, sizeof(resp) - 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / (double)n);
	return 0;
}

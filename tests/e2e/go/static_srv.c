/* A statically linked HTTP/1.1 server for the kernel-side capture tests:
 * LD_PRELOAD cannot enter it. One connection at a time, keep-alive, every
 * request answered "static ok". It reads with recvmsg and answers with
 * writev, its head split over two buffers and the body in a third, as
 * servers that assemble an answer from parts do.
 *
 *   gcc -static -o static-srv static_srv.c && ./static-srv PORT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const char status[] = "HTTP/1.1 200 OK\r\n", headers[] = "Content-Length: 10\r\n\r\n",
		  body[] = "static ok\n";

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);

	if (argc < 2 || l < 0)
		return 1;
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 64))
		return perror("listen"), 1;
	for (;;) {
		int c = accept(l, NULL, NULL);
		char buf[8192];
		size_t have = 0;
		ssize_t n;

		if (c < 0)
			continue;
		for (;;) {
			struct iovec in = {buf + have, sizeof(buf) - 1 - have};
			struct msghdr m = {.msg_iov = &in, .msg_iovlen = 1};
			char *end;

			if ((n = recvmsg(c, &m, 0)) <= 0)
				break;

			have += (size_t)n;
			buf[have] = 0;
			/* every complete head gets its answer (requests carry no body) */
			while ((end = strstr(buf, "\r\n\r\n"))) {
				size_t used = (size_t)(end + 4 - buf);
				struct iovec out[3] = {{(void *)status, sizeof(status) - 1},
						       {(void *)headers, sizeof(headers) - 1},
						       {(void *)body, sizeof(body) - 1}};

				if (writev(c, out, 3) < 0)
					break;
				memmove(buf, buf + used, have - used);
				have -= used;
				buf[have] = 0;
			}
			if (have == sizeof(buf) - 1)
				break;
		}
		close(c);
	}
}

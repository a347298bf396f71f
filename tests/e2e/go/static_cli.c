/* A statically linked HTTP/1.1 client for the kernel-side capture tests:
 * N requests, each on a connection of its own, to 127.0.0.1:PORT. Its
 * sockaddr_in (16 bytes) sits at the very end of a page followed by an
 * inaccessible one, as a Go program's address can sit at the end of a
 * page whose next is not yet in: the kernel reads only those 16 bytes, and
 * so must obs (reading more at entry failed, and the connection went
 * unfollowed without a word). With "msg", each request goes by sendmsg
 * whose msghdr sits in a shared page dropped from the process's page
 * table before each call (MADV_DONTNEED on a memfd mapping: its bytes are
 * kept, but the first touch faults): the kernel faults it in, a BPF read
 * before it cannot. Prints the count of 200 answers.
 *
 *   gcc -static -o static-cli static_cli.c && ./static-cli PORT N [msg] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static const char req[] = "GET /out HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

int main(int argc, char **argv)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *m =
	    mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sockaddr_in *a;
	int n, ok = 0, msg = argc > 3 && !strcmp(argv[3], "msg");
	struct msghdr *mh = NULL;
	struct iovec iov = {(void *)req, sizeof(req) - 1};

	if (argc < 3 || m == MAP_FAILED || mprotect(m + pg, (size_t)pg, PROT_NONE))
		return 1;
	a = (struct sockaddr_in *)(m + pg - sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((unsigned short)atoi(argv[1]));
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = atoi(argv[2]);
	if (msg) {
		int mfd = memfd_create("msghdr", 0);

		if (mfd < 0 || ftruncate(mfd, pg))
			return perror("memfd"), 1;
		mh = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
		if (mh == MAP_FAILED)
			return perror("mmap"), 1;
		memset(mh, 0, sizeof(*mh));
		mh->msg_iov = &iov;
		mh->msg_iovlen = 1;
	}
	for (int i = 0; i < n; i++) {
		char buf[4096];
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		ssize_t got, all = 0;

		if (fd < 0 || connect(fd, (struct sockaddr *)a, sizeof(*a)))
			return perror("connect"), 1;
		if (msg && madvise(mh, (size_t)pg, MADV_DONTNEED))
			return perror("madvise"), 1;
		if ((msg ? sendmsg(fd, mh, 0) : write(fd, req, sizeof(req) - 1)) !=
		    (ssize_t)(sizeof(req) - 1))
			return perror("write"), 1;
		/* the head, then Content-Length bytes of body */
		for (;;) {
			const char *end, *cl;

			got = read(fd, buf + all, sizeof(buf) - 1 - (size_t)all);
			if (got <= 0)
				break;
			all += got;
			buf[all] = 0;
			end = strstr(buf, "\r\n\r\n");
			cl = strstr(buf, "Content-Length: ");
			if (end && cl && all >= end + 4 - buf + atoi(cl + 16))
				break;
		}
		buf[all] = 0;
		ok += !strncmp(buf, "HTTP/1.1 200", 12);
		close(fd);
	}
	printf("%d\n", ok);
	return 0;
}

/*
 * forge_region - a hostile local process for the agent's tests: it hands
 * the collector a region that claims to be another process's, or one that
 * breaks the rules, and says what it did.
 *
 *   forge_region SOCKET MODE [VICTIM_PID]
 *
 * MODE:
 *   claim     a well-made, sealed region whose header and span records
 *             say they are VICTIM_PID's (a server span GET /stolen and a
 *             count in the HTTP server series); then waits on stdin
 *   unsealed  the same region in a memfd that is not sealed (it could
 *             shrink under the collector)
 *   hello     a sealed region with a hello that is not obs's
 *   nofd      the hello with no memfd
 *   short     a sealed memfd too small to hold a region
 *   late      claim, with the hello sent 500 ms after connecting (a process
 *             descheduled in between, as on a busy node)
 *   mute      connects and says nothing; holds the connection until stdin
 *             closes or the agent hangs up
 *   scribble  a well-made region of its own, handed over, then written over
 *             at random (headers, index, series, the ring's cells and
 *             counters) every millisecond until stdin closes; it also
 *             tries to shrink and grow it, and says what the kernel said
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "http_sem.h"
#include "region.h"
#include "registry.h"

static int die(const char *what)
{
	fprintf(stderr, "forge_region: %s: %s\n", what, strerror(errno));
	return 2;
}

/* A memfd holding a region that says it is pid's, with one span and one count. */
static int make_region(uint32_t pid, int seal, size_t len_override)
{
	size_t len = region_bytes(64, 64);
	int fd = memfd_create("forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct region r;
	struct span_rec rec;
	struct region_series *s;
	void *m;

	if (fd < 0 || ftruncate(fd, (off_t)(len_override ? len_override : len)))
		return -1;
	if (!len_override) {
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED || region_init(&r, m, len, 64, 64, pid, 0))
			return -1;
		region_set_export(&r, 1, SPANRING_SAMPLE_PROCESS, 1.0);
		s = region_series(&r, FAMILY_HTTP_SERVER,
				  "GET\0/stolen\0"
				  "200",
				  16);
		if (!s)
			return -1;
		region_observe(s, 0, 0.001);
		memset(&rec, 0, sizeof(rec));
		memset(rec.trace_id, 0x42, sizeof(rec.trace_id));
		memset(rec.span_id, 0x24, sizeof(rec.span_id));
		rec.trace_flags = 1;
		rec.kind = SPAN_SERVER;
		rec.proto = PROTO_HTTP1;
		rec.pid = pid; /* the lie */
		rec.start_ns = 1;
		rec.end_ns = 2;
		spanrec_put_str(&rec, HTTP_A_METHOD, "GET", 3);
		spanrec_put_str(&rec, HTTP_A_PATH, "/stolen", 7);
		spanrec_put_int(&rec, HTTP_A_STATUS, 200);
		if (spanring_push(&r.ring, &rec) < 0)
			return -1;
	}
	if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		return -1;
	return fd;
}

static int hand_over(const char *path, int fd, const char *hello, size_t hello_len,
		     unsigned delay_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char ctl[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec v = {(void *)hello, hello_len};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	if (!hello)
		return s; /* mute */
	if (delay_ms)
		poll(NULL, 0, (int)delay_ms);
	if (fd >= 0) {
		struct cmsghdr *c;
		m.msg_control = ctl;
		m.msg_controllen = sizeof(ctl);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(s, &m, MSG_NOSIGNAL) != (ssize_t)hello_len)
		return -1;
	return s;
}

/* xorshift: fast, and the same run for the same seed */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Write over the region at random until stdin has something or closes. */
static int scribble(int fd)
{
	size_t len = region_bytes(64, 64);
	unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct region_hdr *h = (struct region_hdr *)m;
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid(), writes = 0;
	struct pollfd p = {.fd = 0, .events = POLLIN};

	if (m == MAP_FAILED)
		return die("mmap");
	printf("ftruncate shrink: %s\n", ftruncate(fd, 4096) ? strerror(errno) : "allowed");
	printf("ftruncate grow: %s\n", ftruncate(fd, (off_t)len * 2) ? strerror(errno) : "allowed");
	fflush(stdout);
	while (poll(&p, 1, 1) == 0) {
		for (int i = 0; i < 64; i++) {
			uint64_t r = rnd(&seed);
			size_t off = (size_t)(r % len), n = 1 + (size_t)(r >> 40) % 64;

			for (size_t k = 0; k < n && off + k < len; k++)
				m[off + k] = (unsigned char)rnd(&seed);
		}
		/* and the fields a reader trusts most */
		h->nclaimed = (uint32_t)rnd(&seed);
		h->nseries = (uint32_t)rnd(&seed);
		h->ring_cap = (uint32_t)rnd(&seed);
		h->ring_off = rnd(&seed);
		writes++;
	}
	printf("scribbled %llu rounds\n", (unsigned long long)writes);
	return 0;
}

int main(int argc, char **argv)
{
	static const char hello[] = "obs-region 1 ";
	const char *mode = argc > 2 ? argv[2] : "";
	uint32_t victim = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 1;
	int fd = -1, s;
	char b;

	if (argc < 3) {
		fprintf(stderr, "usage: forge_region SOCKET "
				"claim|unsealed|hello|nofd|short|scribble|late|mute [PID]\n");
		return 2;
	}
	if (!strcmp(mode, "claim") || !strcmp(mode, "hello") || !strcmp(mode, "nofd") ||
	    !strcmp(mode, "scribble") || !strcmp(mode, "late") || !strcmp(mode, "mute"))
		fd = make_region(victim, 1, 0);
	else if (!strcmp(mode, "unsealed"))
		fd = make_region(victim, 0, 0);
	else if (!strcmp(mode, "short"))
		fd = make_region(victim, 1, 100);
	else
		return fprintf(stderr, "forge_region: unknown mode %s\n", mode), 2;
	if (fd < 0)
		return die("making the region");
	if (!strcmp(mode, "hello"))
		s = hand_over(argv[1], fd, "GET / HTTP/1.1\r\n", 16, 0);
	else if (!strcmp(mode, "mute"))
		s = hand_over(argv[1], fd, NULL, 0, 0);
	else
		s = hand_over(argv[1], !strcmp(mode, "nofd") ? -1 : fd, hello, sizeof(hello),
			      !strcmp(mode, "late") ? 500 : 0);
	if (s < 0)
		return die("handing it over");
	printf("handed over (%s) as pid %d claiming %u\n", mode, (int)getpid(), victim);
	fflush(stdout);
	if (!strcmp(mode, "scribble")) {
		int rc = scribble(fd);

		close(s);
		return rc;
	}
	/* hold the connection until told (stdin closes) or the agent hangs up */
	if (read(0, &b, 1) < 0)
		return die("read");
	close(s);
	return 0;
}

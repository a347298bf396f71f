#include "gohelper.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "collector.h"
#include "elfkind.h"
#include "golayout.h"
#include "privs.h"

enum { REQ_FOLLOW = 1, REQ_FORGET = 2 };

struct req {
	int op;
	pid_t pid;
};

struct gohelper {
	pid_t pid;
	int sock;
};

/* The helper holds nothing it does not need: every fd but its socket,
 * stderr and the BPF objects (programs, maps, links) is closed. */
static void close_others(int keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int dfd = d ? dirfd(d) : -1;

	while (d && (de = readdir(d))) {
		char link[64], path[64];
		int fd = atoi(de->d_name);
		ssize_t n;

		if (de->d_name[0] == '.' || fd == keep || fd == dfd || fd == STDERR_FILENO)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = 0;
		if (strncmp(link, "anon_inode:bpf", 14))
			close(fd);
	}
	if (d)
		closedir(d);
}

static void follow(struct collector *c, pid_t pid, struct gohelper_reply *r)
{
	char path[64], version[64] = "", why[128] = "";
	struct golayout gl;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (elfkind_of(path, version, sizeof(version)) != ELFKIND_GO) {
		snprintf(r->why, sizeof(r->why), "not a Go program, or gone");
		return;
	}
	if (golayout_read(path, version, &gl, why, sizeof(why))) {
		snprintf(r->why, sizeof(r->why), "%s", why);
		return;
	}
	if (!golayout_http(&gl) && !golayout_grpc(&gl)) {
		snprintf(r->why, sizeof(r->why), "it uses neither net/http's client nor grpc-go");
		return;
	}
	if (collector_go_follow(c, pid, path, &gl, r->why, sizeof(r->why)))
		return;
	r->ok = 1;
	snprintf(r->why, sizeof(r->why), "%s%s%s", golayout_http(&gl) ? "net/http" : "",
		 golayout_http(&gl) && golayout_grpc(&gl) ? " and " : "",
		 golayout_grpc(&gl) ? "grpc-go" : "");
}

static void helper_main(struct collector *c, int sock)
{
	const uint64_t keep = 1ULL << CAP_PERFMON | 1ULL << CAP_BPF | 1ULL << CAP_SYS_PTRACE |
			      1ULL << CAP_DAC_READ_SEARCH;
	char kept[256], err[256];
	struct req q;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "obs-gohelper");
	/* (signals stay blocked, as in the agent: it ends when the agent
	 * closes the socket, or dies) */
	close_others(sock);
	if (privs_drop(keep, 0, 0, kept, sizeof(kept), err, sizeof(err)))
		_exit(1);
	while (recv(sock, &q, sizeof(q), 0) == (ssize_t)sizeof(q)) {
		struct gohelper_reply r = {.pid = q.pid};

		if (q.op == REQ_FORGET) {
			collector_go_forget(c, q.pid);
			continue;
		}
		follow(c, q.pid, &r);
		if (send(sock, &r, sizeof(r), MSG_NOSIGNAL) < 0)
			break;
	}
	_exit(0);
}

int gohelper_start(struct collector *c, struct gohelper **out, char *err, size_t errlen)
{
	struct gohelper *g = calloc(1, sizeof(*g));
	int sv[2];

	if (!g || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		free(g);
		return -1;
	}
	fflush(NULL);
	g->pid = fork();
	if (g->pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free(g);
		return -1;
	}
	if (g->pid == 0) {
		close(sv[0]);
		helper_main(c, sv[1]);
	}
	close(sv[1]);
	g->sock = sv[0];
	*out = g;
	return 0;
}

void gohelper_stop(struct gohelper *g)
{
	if (!g)
		return;
	close(g->sock); /* it reads end-of-file and exits */
	waitpid(g->pid, NULL, 0);
	free(g);
}

static void ask(struct gohelper *g, int op, pid_t pid)
{
	struct req q = {.op = op, .pid = pid};

	if (g)
		(void)send(g->sock, &q, sizeof(q), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void gohelper_follow(struct gohelper *g, pid_t pid)
{
	ask(g, REQ_FOLLOW, pid);
}

void gohelper_forget(struct gohelper *g, pid_t pid)
{
	ask(g, REQ_FORGET, pid);
}

int gohelper_fd(const struct gohelper *g)
{
	return g ? g->sock : -1;
}

int gohelper_read(struct gohelper *g, struct gohelper_reply *r)
{
	ssize_t n = recv(g->sock, r, sizeof(*r), MSG_DONTWAIT);

	if (n == (ssize_t)sizeof(*r)) {
		r->why[sizeof(r->why) - 1] = 0;
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return -1;
}

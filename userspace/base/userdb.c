#include "userdb.h"
#include "monotime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define USERDB_NAMES_MAX 8
#define USERDB_OUT_MAX	 8192 /* a passwd line each: far more than enough */

static const char *const getent_paths[] = {"/usr/bin/getent", "/bin/getent"};

/* A name as a plain argument: not an option, no field separator. */
static int plain_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= sizeof(((struct userdb_user *)0)->name) || s[0] == '-')
		return 0;
	return strcspn(s, ":\n") == n;
}

/* getent's output into fds[0] until EOF or the deadline; its length, or -1
 * when time ran out. */
static ssize_t read_all(int fd, char *buf, size_t cap, uint64_t deadline)
{
	size_t got = 0;

	for (;;) {
		uint64_t now = monotime_ns();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (now >= deadline)
			return -1;
		if (poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (!p.revents)
			continue;
		r = read(fd, buf + got, cap - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (got += (size_t)r) == cap - 1)
			break; /* EOF (or more than any answer: the rest unread) */
	}
	buf[got] = 0;
	return (ssize_t)got;
}

/* name's line ("name:x:uid:gid:...") in out; 1 if there, parsed. */
static int parse_line(const char *out, const char *name, struct userdb_user *u)
{
	size_t n = strlen(name);

	for (const char *l = out; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *f;
		char *end;
		unsigned long uid, gid;

		if (strncmp(l, name, n) || l[n] != ':')
			continue;
		f = strchr(l + n + 1, ':'); /* past the password field */
		if (!f)
			return 0;
		uid = strtoul(f + 1, &end, 10);
		if (end == f + 1 || *end != ':')
			return 0;
		gid = strtoul(end + 1, &end, 10);
		if (*end != ':')
			return 0;
		u->uid = (uid_t)uid;
		u->gid = (gid_t)gid;
		memcpy(u->name, name, n + 1);
		return 1;
	}
	return 0;
}

int userdb_first(const char *const *names, size_t n, struct userdb_user *out, int timeout_ms)
{
	char *argv[USERDB_NAMES_MAX + 3] = {"getent", "passwd"};
	char *envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};
	const char *exe = NULL;
	posix_spawn_file_actions_t fa;
	char *buf = NULL;
	int fds[2], st = 0, rc = -1;
	ssize_t got;
	pid_t pid;

	if (!n || n > USERDB_NAMES_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!plain_name(names[i]))
			return -1;
		argv[2 + i] = (char *)names[i];
	}
	for (size_t i = 0; i < sizeof(getent_paths) / sizeof(getent_paths[0]) && !exe; i++)
		if (!access(getent_paths[i], X_OK))
			exe = getent_paths[i];
	if (!exe || !(buf = malloc(USERDB_OUT_MAX)))
		goto out;
	if (pipe2(fds, O_CLOEXEC))
		goto out;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, exe, &fa, NULL, argv, envp)) {
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		goto out;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	got = read_all(fds[0], buf, USERDB_OUT_MAX, monotime_ns() + (uint64_t)timeout_ms * 1000000);
	close(fds[0]);
	if (got < 0)
		kill(pid, SIGKILL); /* a name service that does not answer */
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got < 0) {
		rc = -2;
		goto out;
	}
	/* 0: all found, 2: some not found; anything else: no answer */
	if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 2))
		goto out;
	rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = parse_line(buf, names[i], out);
out:
	free(buf);
	return rc;
}

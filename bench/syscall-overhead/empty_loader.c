/*
 * Attach two reference programs on sys_enter/sys_exit, run a command, then
 * detach: the empty pair, or with --clock the pair that reads the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <bpf/libbpf.h>
#include "empty.skel.h"

int main(int argc, char **argv)
{
	struct empty_bpf *s;
	int status = 1, clock = argc > 1 && !strcmp(argv[1], "--clock");
	pid_t pid;

	argv += clock;
	argc -= clock;
	if (argc < 2) {
		fprintf(stderr, "usage: empty_loader [--clock] CMD [ARGS...]\n");
		return 2;
	}
	s = empty_bpf__open();
	if (s) {
		bpf_program__set_autoload(clock ? s->progs.empty_enter : s->progs.clock_enter,
					  false);
		bpf_program__set_autoload(clock ? s->progs.empty_exit : s->progs.clock_exit, false);
	}
	if (!s || empty_bpf__load(s) || empty_bpf__attach(s)) {
		fprintf(stderr, "empty_loader: cannot load/attach\n");
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	empty_bpf__destroy(s);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/*
 * seccomp_exec - run a command under a seccomp allowlist, as a container
 * runtime applies a pod's Localhost profile: the filter is loaded, then
 * the command is exec'd (so its very first syscalls are filtered too).
 *
 *   seccomp_exec LIST CMD [ARG...]
 *
 * LIST is what tests/e2e/k8s_pod.py writes from an OCI seccomp profile:
 * "default ERRNO" on its first line, then one allowed syscall name per
 * line. Needs no_new_privs (setpriv --no-new-privs) or CAP_SYS_ADMIN.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

int main(int argc, char **argv)
{
	char line[128];
	unsigned allowed = 0, unknown = 0;
	int errno_ret = -1, rc;
	scmp_filter_ctx ctx = NULL;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: seccomp_exec LIST CMD [ARG...]\n");
		return 2;
	}
	if (!(f = fopen(argv[1], "r"))) {
		perror(argv[1]);
		return 2;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!ctx) {
			if (sscanf(line, "default %d", &errno_ret) != 1 || errno_ret < 1) {
				fprintf(stderr,
					"seccomp_exec: %s: first line must be 'default ERRNO'\n",
					argv[1]);
				return 2;
			}
			if (!(ctx = seccomp_init(SCMP_ACT_ERRNO((unsigned)errno_ret))))
				return 2;
			continue;
		}
		int nr = seccomp_syscall_resolve_name(line);

		if (nr == __NR_SCMP_ERROR) { /* a name of another architecture */
			unknown++;
			continue;
		}
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0) {
			fprintf(stderr, "seccomp_exec: %s: %s\n", line, strerror(-rc));
			return 2;
		}
		allowed++;
	}
	fclose(f);
	if (!ctx)
		return 2;
	fprintf(stderr,
		"seccomp_exec: %u syscalls allowed (%u not on this architecture), others fail with "
		"errno %d\n",
		allowed, unknown, errno_ret);
	if ((rc = seccomp_load(ctx)) < 0) {
		fprintf(stderr, "seccomp_exec: loading the filter: %s\n", strerror(-rc));
		return 2;
	}
	seccomp_release(ctx);
	execvp(argv[2], argv + 2);
	perror(argv[2]);
	return 127;
}

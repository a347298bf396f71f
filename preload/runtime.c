/*
 * runtime - load obs's context helpers into runtimes that interleave
 * requests on one thread (helpers/: Node.js, Python asyncio), with no
 * change to the app: in the shim's constructor, before the runtime's
 * main reads its environment, a node process gets
 * NODE_OPTIONS=--require <helper> and a python process the helper's
 * folder at the front of PYTHONPATH. The helpers sit beside the shim
 * (obs-helpers/); without them, or with OBS_RUNTIME_HELPERS=0, nothing
 * changes. Children inherit the settings, as they inherit LD_PRELOAD.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shim.h"

extern char *program_invocation_short_name;

void runtime_shim_dir(char *out, size_t len)
{
	Dl_info info;
	const char *slash;

	out[0] = 0;
	if (!dladdr((void *)runtime_shim_dir, &info) || !info.dli_fname)
		return;
	slash = strrchr(info.dli_fname, '/');
	if (!slash || (size_t)(slash - info.dli_fname) + 2 > len)
		return;
	memcpy(out, info.dli_fname, (size_t)(slash - info.dli_fname) + 1);
	out[slash - info.dli_fname + 1] = 0;
}

static int exists(const char *p)
{
	struct stat st;

	return !stat(p, &st);
}

/* name=value<sep>old, or value alone; unchanged if value is there already. */
static void prepend_env(const char *name, const char *value, const char *sep, int after)
{
	const char *old = getenv(name);
	char buf[8192];

	if (old && strstr(old, value))
		return;
	if (old && *old) {
		if ((size_t)snprintf(buf, sizeof(buf), "%s%s%s", after ? old : value, sep,
				     after ? value : old) >= sizeof(buf))
			return; /* too long to extend: no helper rather than a cut setting */
		setenv(name, buf, 1);
	} else {
		setenv(name, value, 1);
	}
}

void runtime_helpers_setup(void)
{
	const char *off = getenv("OBS_RUNTIME_HELPERS"), *me = program_invocation_short_name;
	char dir[4096], path[4200];
	int e = errno;

	if ((off && !strcmp(off, "0")) || !me)
		goto out;
	if (!strcmp(me, "node") || !strcmp(me, "nodejs")) {
		runtime_shim_dir(dir, sizeof(dir));
		snprintf(path, sizeof(path), "%sobs-helpers/node/obs-context.js", dir);
		if (dir[0] && exists(path) && !strchr(path, '"')) {
			char opt[4300];
			snprintf(opt, sizeof(opt), "--require \"%s\"", path);
			prepend_env("NODE_OPTIONS", opt, " ", 1);
		}
	} else if (!strncmp(me, "python", 6)) {
		runtime_shim_dir(dir, sizeof(dir));
		snprintf(path, sizeof(path), "%sobs-helpers/python", dir);
		if (dir[0] && exists(path))
			prepend_env("PYTHONPATH", path, ":", 0);
	}
out:
	errno = e;
}

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum log_level level = LOG_INFO;
static char prog[32] = "obs";

void log_init(const char *p)
{
	static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
	const char *env = getenv("OBS_LOG");

	snprintf(prog, sizeof(prog), "%s", p);
	if (!env)
		return;
	for (int i = 0; i <= LOG_TRACE; i++)
		if (!strcmp(env, names[i]))
			level = (enum log_level)i;
}

int log_enabled(enum log_level l)
{
	return l <= level;
}

const char *log_prog(void)
{
	return prog;
}

void log_msg(enum log_level l, const char *fmt, ...)
{
	static const char *const tags[] = {"error: ", "warning: ", "", "debug: ", "trace: "};
	char line[2048];
	va_list ap;

	if (!log_enabled(l))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line so concurrent threads don't interleave. */
	fprintf(stderr, "%s: %s%s\n", prog, tags[l], line);
}

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Module state, read by every thread: atomics, set by log_init/configure. */
static int level = LOG_INFO;
static int format = LOG_FORMAT_TEXT;
static char logger[32] = "obs";

void log_init(const char *p)
{
	enum log_level l;
	enum log_format f;

	snprintf(logger, sizeof(logger), "%s", p);
	if (!logfmt_parse_level(getenv("OBS_LOG"), &l))
		level = l;
	if (!logfmt_parse_format(getenv("OBS_LOG_FORMAT"), &f))
		format = f;
}

void log_configure(enum log_level l, enum log_format f)
{
	__atomic_store_n(&level, (int)l, __ATOMIC_RELAXED);
	__atomic_store_n(&format, (int)f, __ATOMIC_RELAXED);
}

enum log_level log_get_level(void)
{
	return (enum log_level)__atomic_load_n(&level, __ATOMIC_RELAXED);
}

enum log_format log_get_format(void)
{
	return (enum log_format)__atomic_load_n(&format, __ATOMIC_RELAXED);
}

int log_enabled(enum log_level l)
{
	return (int)l <= __atomic_load_n(&level, __ATOMIC_RELAXED);
}

const char *log_prog(void)
{
	return logger;
}

void log_emit(enum log_level l, const char *code, const char *trace_id, const char *span_id,
	      const char *fmt, ...)
{
	char msg[2048], line[LOGFMT_LINE_MAX];
	struct log_record r = {.level = l,
			       .logger = logger,
			       .code = code,
			       .trace_id = trace_id,
			       .span_id = span_id,
			       .msg = msg,
			       .pid = (long)getpid()};
	va_list ap;
	size_t n;

	if (!log_enabled(l))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &r.ts);
	n = logfmt_line(line, sizeof(line), log_get_format(), &r);
	/* One write per line so concurrent threads don't interleave. */
	if (n && write(STDERR_FILENO, line, n) < 0)
		return;
}

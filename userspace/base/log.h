/*
 * log - obs's own diagnostics on stderr, as text (terminals) or JSON lines
 * (log pipelines). Level and format come from $OBS_LOG / $OBS_LOG_FORMAT at
 * start and from the config file's logging section (log_configure), and
 * can change at run time (SIGHUP). Thread-safe: one write per line.
 *
 * Warnings and errors carry an error_code: a stable snake_case id that
 * alerting and log queries can match on (docs/obs.md lists them).
 */
#ifndef OBS_LOG_H
#define OBS_LOG_H
#include "logfmt.h"

/* logger prefixes every text line ("obs-run: ..."). */
void log_init(const char *logger);
void log_configure(enum log_level level, enum log_format fmt);
enum log_level log_get_level(void);
enum log_format log_get_format(void);
int log_enabled(enum log_level level);
const char *log_prog(void);
/* One line; code, trace_id and span_id may be NULL. */
void log_emit(enum log_level level, const char *code, const char *trace_id, const char *span_id,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_error(code, ...) log_emit(LOG_ERROR, code, NULL, NULL, __VA_ARGS__)
#define log_warn(code, ...)  log_emit(LOG_WARN, code, NULL, NULL, __VA_ARGS__)
#define log_info(...)	     log_emit(LOG_INFO, NULL, NULL, NULL, __VA_ARGS__)
#define log_debug(...)	     log_emit(LOG_DEBUG, NULL, NULL, NULL, __VA_ARGS__)

#endif

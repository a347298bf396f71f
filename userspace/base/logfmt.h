/*
 * logfmt - format one line of obs's own log, as text for terminals or as
 * a JSON object per line for log pipelines. Pure: writes into a caller's
 * buffer, always a whole line (a long message is cut, the JSON stays
 * valid).
 */
#ifndef OBS_LOGFMT_H
#define OBS_LOGFMT_H
#include <stddef.h>
#include <time.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

struct log_record {
	enum log_level level;
	const char *logger;   /* "obs-run", "obs": the text prefix */
	const char *code;     /* error_code: stable snake_case id, or NULL */
	const char *trace_id; /* 32 hex digits when the line concerns a span, or NULL */
	const char *span_id;  /* 16 hex digits, or NULL */
	const char *msg;
	struct timespec ts; /* CLOCK_REALTIME */
	long pid;
};

/* Bytes needed for a line: at most this (longer messages are cut). */
#define LOGFMT_LINE_MAX 4096

/* Format r as one '\n'-terminated line into buf[len]; returns its length. */
size_t logfmt_line(char *buf, size_t len, enum log_format fmt, const struct log_record *r);
/* "error", "warn", ... -> level; 0, or -1 if unknown. */
int logfmt_parse_level(const char *s, enum log_level *out);
/* "text" or "json" -> format; 0, or -1 if unknown. */
int logfmt_parse_format(const char *s, enum log_format *out);
const char *logfmt_level_name(enum log_level l);

#endif

#include "logfmt.h"

#include <stdio.h>
#include <string.h>

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

const char *logfmt_level_name(enum log_level l)
{
	return (unsigned)l <= LOG_TRACE ? level_names[l] : "info";
}

int logfmt_parse_level(const char *s, enum log_level *out)
{
	if (!s)
		return -1;
	for (int i = 0; i <= LOG_TRACE; i++) {
		if (!strcmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (!strcmp(s, "warning")) {
		*out = LOG_WARN;
		return 0;
	}
	return -1;
}

int logfmt_parse_format(const char *s, enum log_format *out)
{
	if (s && !strcmp(s, "text"))
		*out = LOG_FORMAT_TEXT;
	else if (s && !strcmp(s, "json"))
		*out = LOG_FORMAT_JSON;
	else
		return -1;
	return 0;
}

/* A bounded writer: never past cap, which leaves room for the line's tail. */
struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (n > o->cap - o->len)
		n = o->cap - o->len;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* JSON string body; a character is written whole or not at all, and one
 * byte is always left for the closing quote. */
static void put_json(struct out *o, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		size_t n;

		if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c, n = 2;
		} else if (c == '\n') {
			memcpy(esc, "\\n", 2), n = 2;
		} else if (c == '\t') {
			memcpy(esc, "\\t", 2), n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
		} else {
			esc[0] = (char)c, n = 1;
		}
		if (n + 1 > o->cap - o->len)
			break;
		put(o, esc, n);
	}
}

static void put_field(struct out *o, const char *name, const char *value)
{
	puts_(o, ",\"");
	puts_(o, name);
	puts_(o, "\":\"");
	put_json(o, value);
	puts_(o, "\"");
}

size_t logfmt_line(char *buf, size_t len, enum log_format fmt, const struct log_record *r)
{
	static const char *const tags[] = {"error: ", "warning: ", "", "debug: ", "trace: "};
	/* the tail written after the message: ids, code, closing brace */
	const size_t tail = 160;
	struct out o = {buf, 0, 0};
	char tsbuf[64];

	if (len < tail + 64) {
		if (len)
			buf[0] = 0;
		return 0;
	}
	o.cap = len - tail;
	if (fmt == LOG_FORMAT_TEXT) {
		puts_(&o, r->logger ? r->logger : "obs");
		puts_(&o, ": ");
		puts_(&o, tags[(unsigned)r->level <= LOG_TRACE ? r->level : LOG_INFO]);
		/* a message is one line on a terminal too */
		for (const char *s = r->msg ? r->msg : ""; *s && o.len < o.cap; s++)
			o.p[o.len++] = *s == '\n' ? ' ' : *s;
		o.cap = len - 1;
		if (r->trace_id)
			o.len += (size_t)snprintf(o.p + o.len, o.cap - o.len, " trace_id=%.32s",
						  r->trace_id);
		if (r->span_id)
			o.len += (size_t)snprintf(o.p + o.len, o.cap - o.len, " span_id=%.16s",
						  r->span_id);
		put(&o, "\n", 1);
		buf[o.len] = 0;
		return o.len;
	}

	struct tm tm;
	gmtime_r(&r->ts.tv_sec, &tm);
	strftime(tsbuf, sizeof(tsbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	o.len = (size_t)snprintf(buf, o.cap, "{\"timestamp\":\"%s.%06ldZ\",\"level\":\"%s\"", tsbuf,
				 r->ts.tv_nsec / 1000, logfmt_level_name(r->level));
	put_field(&o, "service", "obs");
	put_field(&o, "logger", r->logger ? r->logger : "obs");
	o.len += (size_t)snprintf(o.p + o.len, o.cap - o.len, ",\"pid\":%ld", r->pid);
	put_field(&o, "msg", r->msg ? r->msg : "");
	/* the tail has room reserved: ids and code are short and fixed-size */
	o.cap = len - 1;
	if (r->code) {
		puts_(&o, ",\"error_code\":\"");
		char code[48];
		snprintf(code, sizeof(code), "%s", r->code);
		put_json(&o, code);
		puts_(&o, "\"");
	}
	if (r->trace_id) {
		char id[33];
		snprintf(id, sizeof(id), "%s", r->trace_id);
		put_field(&o, "trace_id", id);
	}
	if (r->span_id) {
		char id[17];
		snprintf(id, sizeof(id), "%s", r->span_id);
		put_field(&o, "span_id", id);
	}
	puts_(&o, "}\n");
	buf[o.len] = 0;
	return o.len;
}

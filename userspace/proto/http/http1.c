#include "http1.h"

#include <string.h>

#include "http1_name.h"

enum {
	ST_START,  /* before the start line (empty lines ignored) */
	ST_HEADER, /* header lines */
	ST_BODY,   /* Content-Length bytes */
	ST_CHUNK,  /* chunk-size line */
	ST_CHUNK_DATA,
	ST_CHUNK_END, /* CRLF after chunk data */
	ST_TRAILER,
	ST_TO_CLOSE, /* response body delimited by close */
	ST_DEAD,
};

void http1_init(struct http1_parser *p, enum http1_dir dir)
{
	p->dir = (uint8_t)dir;
	p->state = ST_START;
	p->line_over = 0;
	p->no_body = 0;
	p->line_len = 0;
	p->head_bytes = 0;
	p->remaining = 0;
}

int http1_idle(const struct http1_parser *p)
{
	return p->state == ST_START && p->line_len == 0;
}

int http1_status_no_body(int status)
{
	return (status >= 100 && status < 200) || status == 204 || status == 304;
}

/* RFC 9110 5.6.2 token characters, as a table: the hot path checks every
 * byte of every header name. */
static const uint8_t tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1,		['&'] = 1,	   ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,		['^'] = 1,	   ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

static int is_tchar(unsigned char c)
{
	return tchar[c];
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int name_is(const char *name, size_t len, const char *want)
{
	size_t i = 0;

	for (; i < len && want[i]; i++)
		if (lower((unsigned char)name[i]) != want[i])
			return 0;
	return i == len && !want[i];
}

/* "HTTP/1.x" at s: returns x or -1. */
static int version_at(const char *s, size_t len)
{
	if (len < 8 || memcmp(s, "HTTP/1.", 7) || s[7] < '0' || s[7] > '9')
		return -1;
	return s[7] - '0';
}

static int parse_request_line(struct http1_msg *m, const char *l, size_t len, int truncated)
{
	size_t i = 0, t;

	while (i < len && l[i] >= 'A' && l[i] <= 'Z')
		i++;
	if (i == 0 || i >= HTTP1_METHOD_MAX || i >= len || l[i] != ' ')
		return -1;
	memcpy(m->method, l, i);
	m->method[i] = 0;
	t = ++i;
	while (i < len && l[i] != ' ')
		i++;
	if (i == t)
		return -1;
	size_t tl = i - t;
	m->target_truncated = tl >= HTTP1_TARGET_MAX;
	if (tl >= HTTP1_TARGET_MAX)
		tl = HTTP1_TARGET_MAX - 1;
	memcpy(m->target, l + t, tl);
	m->target[tl] = 0;
	if (truncated) {
		/* the version was cut off with the line: still HTTP if the target was long */
		m->target_truncated = 1;
		m->minor = 1;
		return 0;
	}
	if (i >= len || i + 1 + 8 != len)
		return -1;
	int v = version_at(l + i + 1, len - i - 1);
	if (v < 0)
		return -1;
	m->minor = (uint8_t)v;
	return 0;
}

static int parse_status_line(struct http1_msg *m, const char *l, size_t len)
{
	int v = version_at(l, len);

	if (v < 0 || len < 12 || l[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (l[i] < '0' || l[i] > '9')
			return -1;
	if (len > 12 && l[12] != ' ')
		return -1;
	m->minor = (uint8_t)v;
	m->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	return m->status < 100 ? -1 : 0;
}

static void trim(const char **v, size_t *len)
{
	while (*len && (**v == ' ' || **v == '\t'))
		(*v)++, (*len)--;
	while (*len && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
		(*len)--;
}

/* The next element of the comma-separated list v (len bytes) from *at,
 * blanks trimmed, in e and el; 0 when none is left. */
static int list_next(const char *v, size_t len, size_t *at, const char **e, size_t *el)
{
	const char *comma;

	if (*at >= len)
		return 0;
	*e = v + *at;
	comma = memchr(*e, ',', len - *at);
	*el = comma ? (size_t)(comma - *e) : len - *at;
	*at += *el + 1;
	trim(e, el);
	return 1;
}

/* Does a comma-separated list contain token (case-insensitive)? last: only as the last one. */
static int list_has(const char *v, size_t len, const char *tok, int last)
{
	size_t at = 0, el;
	const char *e;
	int found = 0;

	while (list_next(v, len, &at, &e, &el)) {
		found = name_is(e, el, tok);
		if (found && !last)
			return 1;
	}
	return found;
}

/* Connection's options (RFC 9110 7.6.1): close, upgrade, in one pass
 * ("keep-alive" on nearly every message). */
static void conn_tokens(struct http1_msg *m, const char *v, size_t len)
{
	size_t at = 0, el;
	const char *e;

	while (list_next(v, len, &at, &e, &el)) {
		if (el == 5 && name_is(e, el, "close"))
			m->conn_close = 1;
		else if (el == 7 && name_is(e, el, "upgrade"))
			m->upgrade = 1;
	}
}

/* l[len] is never a tchar: the line's CR or LF in the caller's buffer,
 * or the NUL http1_feed puts after a line it gathered. The name's scan
 * needs no bound. */
static inline __attribute__((always_inline)) int parse_header(struct http1_msg *m, const char *l,
							      size_t len, int truncated)
{
	size_t n = 0;

	while (is_tchar((unsigned char)l[n]))
		n++;
	if (n == len)
		return truncated ? 0 : -1; /* a header cut before ':' is one we skip */
	if (n == 0 || l[n] != ':')
		return -1; /* includes whitespace before ':' (RFC 9112 5.1) */
	const char *v = l + n + 1;
	size_t vl = len - n - 1;

	/* Only these names matter; the length picks the one a name can be. */
	const char *want;
	switch (n) {
	case 4:
		want = "host";
		break;
	case 6:
		want = "expect";
		break;
	case 10:
		want = (l[0] | 0x20) == 'c' ? "connection" : "tracestate";
		break;
	case 11:
		want = "traceparent";
		break;
	case 14:
		want = "content-length";
		break;
	case 17:
		want = "transfer-encoding";
		break;
	default:
		return 0;
	}
	if (!http1_name_eq(l, want, n)) /* (each case's want is n bytes) */
		return 0;
	trim(&v, &vl);
	if (n == 14) { /* content-length */
		int64_t cl = 0;
		if (truncated || vl == 0 || vl > 18)
			return -1;
		for (size_t i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				return -1;
			cl = cl * 10 + (v[i] - '0');
		}
		if (m->content_length >= 0 && m->content_length != cl)
			return -1; /* conflicting lengths: request smuggling territory */
		m->content_length = cl;
	} else if (n == 17) { /* transfer-encoding */
		if (truncated)
			return -1;
		m->chunked = (uint8_t)list_has(v, vl, "chunked", 1);
		if (!m->chunked)
			return -1; /* a coding we can't delimit */
	} else if (n == 4) {	   /* host */
		if (vl >= HTTP1_HOST_MAX)
			vl = HTTP1_HOST_MAX - 1;
		memcpy(m->host, v, vl);
		m->host[vl] = 0;
	} else if (n == 11) { /* traceparent */
		m->traceparent_count++;
		if (vl >= sizeof(m->traceparent)) {
			/* too long to keep: its start decides (a later version's
			 * fields go on after '-'), and a last byte that is not a
			 * blank stands for the rest, so that a cut after blanks
			 * cannot make a value that ends there (fuzz_inj_scan) */
			vl = sizeof(m->traceparent) - 1;
			memcpy(m->traceparent, v, vl);
			m->traceparent[vl - 1] = '.';
		} else {
			memcpy(m->traceparent, v, vl);
		}
		m->traceparent[vl] = 0;
		m->traceparent_len = (uint8_t)vl;
	} else if (n == 10 && want[0] == 't') { /* tracestate */
		/* several tracestate fields combine with commas (RFC 9110 5.3) */
		size_t need = vl + (m->tracestate_len ? 1 : 0);
		if (truncated || m->tracestate_len + need > TP_TRACESTATE_MAX) {
			m->tracestate_bad = 1;
		} else if (vl) {
			if (m->tracestate_len)
				m->tracestate[m->tracestate_len++] = ',';
			memcpy(m->tracestate + m->tracestate_len, v, vl);
			m->tracestate_len = (uint16_t)(m->tracestate_len + vl);
			m->tracestate[m->tracestate_len] = 0;
		}
	} else if (n == 6) { /* expect */
		m->expect_continue = (uint8_t)list_has(v, vl, "100-continue", 0);
	} else { /* connection */
		conn_tokens(m, v, vl);
	}
	return 0;
}

static void msg_reset(struct http1_msg *m)
{
	m->method[0] = m->target[0] = m->host[0] = 0;
	m->traceparent[0] = m->tracestate[0] = 0;
	m->target_truncated = m->chunked = m->expect_continue = m->conn_close = m->upgrade = 0;
	m->traceparent_count = m->traceparent_len = m->tracestate_bad = 0;
	m->tracestate_len = 0;
	m->status = 0;
	m->minor = 1;
	m->content_length = -1;
}

/* The head ended: pick how the body is delimited. */
static void head_done(struct http1_parser *p)
{
	struct http1_msg *m = &p->msg;

	if (p->dir == HTTP1_RESPONSE && (p->no_body || http1_status_no_body(m->status)))
		p->state = ST_START, p->remaining = 0;
	else if (m->chunked)
		p->state = ST_CHUNK;
	else if (m->content_length > 0)
		p->state = ST_BODY, p->remaining = (uint64_t)m->content_length;
	else if (m->content_length == 0 || p->dir == HTTP1_REQUEST)
		p->state = ST_START;
	else
		p->state = ST_TO_CLOSE;
}

static int parse_chunk_size(const char *l, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < len; i++) {
		char c = l[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			break;
		if (i >= 15)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	if (i == 0 || (i < len && l[i] != ';' && l[i] != ' ' && l[i] != '\t'))
		return -1;
	*out = v;
	return 0;
}

/* A header line, or the blank one that ends the head (over: cut at
 * HTTP1_LINE_MAX). Inline in both of http1_feed's paths. */
static inline __attribute__((always_inline)) enum http1_event
header_line(struct http1_parser *p, const char *l, size_t len, int over)
{
	if (len == 0 && !over) {
		head_done(p);
		return HTTP1_HEAD_DONE;
	}
	if (l[0] == ' ' || l[0] == '\t')
		return HTTP1_ERROR; /* obsolete line folding */
	return parse_header(&p->msg, l, len, over) ? HTTP1_ERROR : HTTP1_NEED_MORE;
}

/* A complete line (without CR/LF): l, len (over: cut at HTTP1_LINE_MAX),
 * in the caller's buffer or gathered in p->line. Returns the event. */
static enum http1_event on_line(struct http1_parser *p, const char *l, size_t len, int over)
{
	p->line_len = 0;
	p->line_over = 0;
	switch (p->state) {
	case ST_START:
		if (len == 0 && !over)
			return HTTP1_NEED_MORE; /* RFC 9112 2.2: ignore CRLF before a request */
		msg_reset(&p->msg);
		if (p->dir == HTTP1_REQUEST ? parse_request_line(&p->msg, l, len, over)
					    : (over ? -1 : parse_status_line(&p->msg, l, len)))
			return HTTP1_ERROR;
		p->state = ST_HEADER;
		return HTTP1_NEED_MORE;
	case ST_HEADER:
		return header_line(p, l, len, over);
	case ST_CHUNK:
		if (over || parse_chunk_size(l, len, &p->remaining))
			return HTTP1_ERROR;
		p->state = p->remaining ? ST_CHUNK_DATA : ST_TRAILER;
		return HTTP1_NEED_MORE;
	case ST_CHUNK_END:
		if (len || over)
			return HTTP1_ERROR;
		p->state = ST_CHUNK;
		return HTTP1_NEED_MORE;
	case ST_TRAILER:
		if (len == 0 && !over) {
			p->state = ST_START;
			return HTTP1_MESSAGE_DONE;
		}
		return HTTP1_NEED_MORE;
	default:
		return HTTP1_ERROR;
	}
}

/* Header lines whole in buf, none begun before: most of every head, read
 * in place with less bookkeeping than http1_feed's general path. Returns
 * the bytes used; *e is the last line's event, HTTP1_NEED_MORE where it
 * stopped before a line that is not whole here or too long to keep. */
static size_t header_lines(struct http1_parser *p, const char *buf, size_t len, enum http1_event *e)
{
	size_t i = 0;

	*e = HTTP1_NEED_MORE;
	while (i < len) {
		const char *l = buf + i, *nl = memchr(l, '\n', len - i);
		size_t n = nl ? (size_t)(nl - l) : 0;

		if (!nl || n > HTTP1_LINE_MAX)
			return i;
		if ((p->head_bytes += (uint32_t)(n + 1)) > HTTP1_HEAD_MAX) {
			*e = HTTP1_ERROR;
			return len;
		}
		i += n + 1;
		*e = header_line(p, l, n && l[n - 1] == '\r' ? n - 1 : n, 0);
		if (*e != HTTP1_NEED_MORE)
			return *e == HTTP1_ERROR ? len : i;
	}
	return i;
}

/* A line's event other than HTTP1_NEED_MORE ends http1_feed's call, i
 * bytes in: what it returns. */
static size_t line_event(struct http1_parser *p, enum http1_event e, size_t i, size_t len,
			 enum http1_event *ev)
{
	*ev = e;
	if (e == HTTP1_ERROR) {
		p->state = ST_DEAD;
		return len;
	}
	if (e == HTTP1_HEAD_DONE)
		p->head_bytes = 0;
	return i;
}

size_t http1_feed(struct http1_parser *p, const char *buf, size_t len, enum http1_event *ev)
{
	size_t i = 0;

	*ev = HTTP1_NEED_MORE;
	while (i < len) {
		if (p->state == ST_HEADER && !p->line_len) {
			enum http1_event e;

			i += header_lines(p, buf + i, len - i, &e);
			if (e != HTTP1_NEED_MORE)
				return line_event(p, e, i, len, ev);
			if (i == len)
				return i;
			/* a line not whole here, or too long: the general path */
		}
		if (p->state == ST_DEAD) {
			*ev = HTTP1_ERROR;
			return len;
		}
		if (p->state == ST_BODY || p->state == ST_CHUNK_DATA) {
			uint64_t take = len - i < p->remaining ? len - i : p->remaining;
			i += take;
			p->remaining -= take;
			if (p->remaining)
				continue;
			if (p->state == ST_CHUNK_DATA) {
				p->state = ST_CHUNK_END;
				continue;
			}
			p->state = ST_START;
			*ev = HTTP1_MESSAGE_DONE;
			return i;
		}
		if (p->state == ST_TO_CLOSE)
			return len;
		/* line-oriented states */
		int in_head = p->state == ST_START || p->state == ST_HEADER;
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t n = end - i;
		if (in_head && (p->head_bytes += (uint32_t)(n + (nl ? 1 : 0))) > HTTP1_HEAD_MAX) {
			p->state = ST_DEAD;
			*ev = HTTP1_ERROR;
			return len;
		}
		if (!in_head && p->state != ST_TRAILER && p->line_len + n > 64) {
			p->state = ST_DEAD; /* chunk-size lines are short */
			*ev = HTTP1_ERROR;
			return len;
		}
		size_t room = HTTP1_LINE_MAX - p->line_len;
		const char *l = p->line;
		size_t ll;
		if (n > room) {
			p->line_over = 1;
			n = room;
		}
		if (nl && !p->line_len && !p->line_over) {
			l = buf + i; /* a whole line in the buffer: read in place */
			ll = n;
		} else {
			memcpy(p->line + p->line_len, buf + i, n);
			p->line_len += (uint32_t)n;
			ll = p->line_len;
		}
		if (!nl)
			return len;
		i = end + 1;
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (l == p->line)
			p->line[ll] = 0; /* parse_header's stop */
		int was_start = p->state == ST_START;
		enum http1_event e = on_line(p, l, ll, p->line_over);
		if (was_start && p->state == ST_HEADER)
			p->head_bytes = 0;
		if (e != HTTP1_NEED_MORE)
			return line_event(p, e, i, len, ev);
	}
	return i;
}

int http1_eof(struct http1_parser *p)
{
	int done = p->state == ST_TO_CLOSE;

	p->state = ST_DEAD;
	return done;
}

int http1_skip(struct http1_parser *p, uint64_t n, enum http1_event *ev)
{
	*ev = HTTP1_NEED_MORE;
	if (p->state == ST_TO_CLOSE)
		return 0;
	/* Inside a chunk's data, too: a Go server's chunked answer's first
	 * write is its head, a chunk of the 512 bytes it sniffed and that
	 * chunk's CRLF, of which kernel-side capture copies 512 bytes. The
	 * CRLF is passed by its length; the next size line must be seen. */
	if (p->state == ST_CHUNK_DATA && n > p->remaining && n - p->remaining <= 2) {
		p->state = n - p->remaining == 2 ? ST_CHUNK : ST_CHUNK_END;
		p->remaining = 0;
		return 0;
	}
	if ((p->state != ST_BODY && p->state != ST_CHUNK_DATA) || p->remaining < n) {
		p->state = ST_DEAD;
		*ev = HTTP1_ERROR;
		return -1;
	}
	p->remaining -= n;
	if (!p->remaining && p->state == ST_CHUNK_DATA) {
		p->state = ST_CHUNK_END;
	} else if (!p->remaining) {
		p->state = ST_START;
		*ev = HTTP1_MESSAGE_DONE;
	}
	return 0;
}

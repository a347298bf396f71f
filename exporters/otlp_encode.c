#include "otlp_encode.h"

#include <stdlib.h>
#include <string.h>

#include "otlp_response.pb-c.h"
#include "pbwire.h"
#include "sbuf.h"
#include "str.h"
#include "tp.h"
#include "version.h"

#define RES_ATTRS (OTLP_MAX_RES_ATTRS + 10)

/* Copy s[0..n) percent-decoded and trimmed into buf; returns start or NULL. */
static char *decode_part(const char *s, size_t n, char **buf, char *end)
{
	char *o = *buf, *start = o;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%' && i + 2 < n && str_hexval(s[i + 1]) >= 0 &&
		    str_hexval(s[i + 2]) >= 0) {
			c = (char)(str_hexval(s[i + 1]) << 4 | str_hexval(s[i + 2]));
			i += 2;
		}
		if (o + 1 >= end)
			return NULL;
		*o++ = c;
	}
	if (o >= end)
		return NULL;
	*o++ = 0;
	*buf = o;
	return start;
}

int otlp_parse_resource_attrs(const char *s, struct otlp_resource *res, char *buf, size_t buflen,
			      char *err, size_t errlen)
{
	char *end = buf + buflen;

	res->nattrs = 0;
	while (s && *s) {
		const char *comma = strchr(s, ','), *eq;
		size_t n = comma ? (size_t)(comma - s) : strlen(s);

		eq = memchr(s, '=', n);
		if (n && !eq) {
			snprintf(err, errlen, "OTEL_RESOURCE_ATTRIBUTES: '%.*s' is not key=value",
				 (int)n, s);
			return -1;
		}
		if (n) {
			char *k, *v;
			if (res->nattrs >= OTLP_MAX_RES_ATTRS) {
				snprintf(err, errlen,
					 "OTEL_RESOURCE_ATTRIBUTES: more than %d entries",
					 OTLP_MAX_RES_ATTRS);
				return -1;
			}
			k = decode_part(s, (size_t)(eq - s), &buf, end);
			v = decode_part(eq + 1, n - (size_t)(eq - s) - 1, &buf, end);
			if (!k || !v) {
				snprintf(err, errlen, "OTEL_RESOURCE_ATTRIBUTES: too long");
				return -1;
			}
			if (!*k) {
				snprintf(err, errlen, "OTEL_RESOURCE_ATTRIBUTES: empty key");
				return -1;
			}
			res->keys[res->nattrs] = k;
			res->vals[res->nattrs++] = v;
		}
		s = comma ? comma + 1 : NULL;
	}
	return 0;
}

/* ---- protobuf ------------------------------------------------------------- */

/*
 * Written straight to the wire (pbwire.h) with the field numbers of the
 * official protos, rather than built as protobuf-c message trees: packing
 * a tree measured ~0.9 us per span, most of it strlen and two walks over
 * every KeyValue. The output is what protobuf-c would pack for the same
 * request (test_otlp_encode re-packs the decoded request and compares).
 */
enum {
	F_REQ_RESOURCE_SPANS = 1, /* ExportTraceServiceRequest */
	F_RS_RESOURCE = 1,	  /* ResourceSpans */
	F_RS_SCOPE_SPANS = 2,
	F_RES_ATTRIBUTES = 1, /* Resource */
	F_SS_SCOPE = 1,	      /* ScopeSpans */
	F_SS_SPANS = 2,
	F_SCOPE_NAME = 1, /* InstrumentationScope */
	F_SCOPE_VERSION = 2,
	F_SPAN_TRACE_ID = 1, /* Span */
	F_SPAN_SPAN_ID = 2,
	F_SPAN_TRACE_STATE = 3,
	F_SPAN_PARENT_SPAN_ID = 4,
	F_SPAN_NAME = 5,
	F_SPAN_KIND = 6,
	F_SPAN_START = 7,
	F_SPAN_END = 8,
	F_SPAN_ATTRIBUTES = 9,
	F_SPAN_STATUS = 15,
	F_STATUS_CODE = 3, /* Status */
	F_KV_KEY = 1,	   /* KeyValue */
	F_KV_VALUE = 2,
	F_ANY_STRING = 1, /* AnyValue */
	F_ANY_INT = 3,
};
enum { KIND_SERVER = 2, KIND_CLIENT = 3, STATUS_ERROR = 2 };

/* An attribute with its lengths known. */
struct kv {
	const char *key, *s; /* s == NULL: an int */
	size_t klen, slen;
	int64_t i;
	int fix; /* s may not be UTF-8: fix it where it is written */
};

static size_t any_size(const struct kv *a)
{
	return a->s ? pbw_len_field_size(F_ANY_STRING, a->slen)
		    : pbw_varint_field_size(F_ANY_INT, (uint64_t)a->i);
}

static size_t kv_size(const struct kv *a)
{
	return pbw_len_field_size(F_KV_KEY, a->klen) + pbw_len_field_size(F_KV_VALUE, any_size(a));
}

static void kv_write(struct pbw *w, unsigned field, const struct kv *a)
{
	pbw_open(w, field, kv_size(a));
	pbw_bytes(w, F_KV_KEY, a->key, a->klen);
	pbw_open(w, F_KV_VALUE, any_size(a));
	if (!a->s) {
		pbw_uint(w, F_ANY_INT, (uint64_t)a->i);
		return;
	}
	pbw_bytes(w, F_ANY_STRING, a->s, a->slen);
	/* protobuf strings must be UTF-8: a receiver refuses the whole batch */
	if (a->fix)
		str_utf8_fix_n((char *)w->p - a->slen, a->slen);
}

/* A string attribute; an empty or absent value is no attribute. */
static void kv_str(struct kv *out, size_t *n, const char *key, const char *v, int fix)
{
	if (!v || !*v)
		return;
	out[(*n)++] =
	    (struct kv){.key = key, .klen = strlen(key), .s = v, .slen = strlen(v), .fix = fix};
}

static void kv_int(struct kv *out, size_t *n, const char *key, int64_t v)
{
	out[(*n)++] = (struct kv){.key = key, .klen = strlen(key), .i = v};
}

/* A span's fields in field-number order.
 * Its own strings are UTF-8 already (xspan fixes them as they are put). */
static void span_fields(struct pbw *w, const struct xspan *s, int64_t unix_off)
{
	const char *name = xspan_name(s);
	size_t tsl = s->ts_len, nl = s->name_len;
	uint64_t start = (uint64_t)((int64_t)s->start_ns + unix_off);
	uint64_t end = (uint64_t)((int64_t)s->end_ns + unix_off);

	pbw_bytes(w, F_SPAN_TRACE_ID, s->trace_id, 16);
	pbw_bytes(w, F_SPAN_SPAN_ID, s->span_id, 8);
	if (tsl)
		pbw_bytes(w, F_SPAN_TRACE_STATE, xspan_tracestate(s), tsl);
	if (s->has_parent)
		pbw_bytes(w, F_SPAN_PARENT_SPAN_ID, s->parent_id, 8);
	if (nl)
		pbw_bytes(w, F_SPAN_NAME, name, nl);
	pbw_uint(w, F_SPAN_KIND, s->kind == SPAN_SERVER ? KIND_SERVER : KIND_CLIENT);
	if (start) /* proto3: a zero scalar is not written */
		pbw_fixed64(w, F_SPAN_START, start);
	if (end)
		pbw_fixed64(w, F_SPAN_END, end);
	for (size_t i = 0; i < s->nattrs; i++) {
		const struct xspan_attr *at = &s->attrs[i];
		struct kv a = {.key = at->key, .klen = at->klen, .i = at->i};

		if (at->type != XSPAN_INT) {
			a.s = xspan_str(s, i);
			a.slen = at->len;
			if (!a.slen)
				continue;
		}
		kv_write(w, F_SPAN_ATTRIBUTES, &a);
	}
	if (s->error) {
		pbw_open(w, F_SPAN_STATUS, pbw_varint_field_size(F_STATUS_CODE, STATUS_ERROR));
		pbw_uint(w, F_STATUS_CODE, STATUS_ERROR);
	} else {
		pbw_open(w, F_SPAN_STATUS, 0); /* present and unset */
	}
}

/* The resource of a process's spans, s being one of them. */
static size_t resource_attrs(struct kv *a, const struct otlp_resource *res, const struct xspan *s)
{
	size_t n = 0;

	/* the process's own service (node agent), else OTEL_SERVICE_NAME,
	 * which wins over service.name in OTEL_RESOURCE_ATTRIBUTES */
	kv_str(a, &n, "service.name", *xspan_service(s) ? xspan_service(s) : res->service, 1);
	for (size_t i = 0; i < res->nattrs; i++)
		if (strcmp(res->keys[i], "service.name"))
			kv_str(a, &n, res->keys[i], res->vals[i], 1);
	kv_int(a, &n, "process.pid", s->pid);
	kv_str(a, &n, "container.id", xspan_container(s), 1);
	kv_str(a, &n, "k8s.pod.uid", xspan_pod(s), 1);
	kv_str(a, &n, "process.executable.name", xspan_exe(s), 1);
	kv_str(a, &n, "host.name", res->host, 1);
	kv_str(a, &n, "telemetry.sdk.name", "obs", 0);
	kv_str(a, &n, "telemetry.sdk.language", "c", 0);
	kv_str(a, &n, "telemetry.sdk.version", OBS_VERSION, 0);
	return n;
}

/* Spans of one process share a resource. The labels' id spares reading
 * the strings (a cache miss per span: the exporter's first touch of a span
 * its producer wrote on another core); 0: not given, compare them. */
static int same_resource(const struct xspan *a, const struct xspan *b)
{
	if (a->pid != b->pid || a->labels_id != b->labels_id)
		return 0;
	return a->labels_id || (!strcmp(xspan_service(a), xspan_service(b)) &&
				!strcmp(xspan_container(a), xspan_container(b)) &&
				!strcmp(xspan_pod(a), xspan_pod(b)));
}

/* Encoder buffers, kept from batch to batch (page faults on fresh
 * megabytes were once most of the encoder's time). */
struct otlp_encoder {
	size_t cap, out_cap;
	size_t *first; /* each resource group's first span */
	size_t *group; /* each span's group */
	uint8_t *out;
};

static int reserve_spans(struct otlp_encoder *e, size_t m)
{
	if (m <= e->cap)
		return 0;
	free(e->first);
	free(e->group);
	e->first = malloc(m * sizeof(*e->first));
	e->group = malloc(m * sizeof(*e->group));
	e->cap = e->first && e->group ? m : 0;
	return e->cap ? 0 : -1;
}

/* Room for m bytes past the used ones in e->out; *w follows the move. */
static int reserve_out(struct otlp_encoder *e, struct pbw *w, size_t m)
{
	size_t used = e->out ? (size_t)(w->p - e->out) : 0, cap;
	uint8_t *nb;

	if (used + m <= e->out_cap)
		return 0;
	cap = (used + m) * 2;
	nb = realloc(e->out, cap);
	if (!nb)
		return -1;
	e->out = nb;
	e->out_cap = cap;
	w->p = nb + used;
	return 0;
}

struct otlp_encoder *otlp_encoder_new(void)
{
	return calloc(1, sizeof(struct otlp_encoder));
}

void otlp_encoder_free(struct otlp_encoder *e)
{
	if (!e)
		return;
	free(e->first);
	free(e->group);
	free(e->out);
	free(e);
}

/*
 * One pass: a message whose length is known only once it is written gets
 * room for a varint of `room` bytes after its tag; closing it writes the
 * length there, moving the content only if the varint came out another
 * size (a span is 128 bytes to 16 KiB: its 2 bytes fit). A sizing pass
 * over every field before the writing one was ~40% of the encoder's time.
 */
enum { SPAN_ROOM = 2, GROUP_ROOM = 3 /* up to 2 MiB */, ROOM_MAX = 10 };

static uint8_t *open_later(struct pbw *w, unsigned field, size_t room)
{
	pbw_tag(w, field, PBW_LEN);
	w->p += room;
	return w->p;
}

/* Needs ROOM_MAX - room bytes past w->p spare (a longer varint). */
static void close_later(struct pbw *w, uint8_t *start, size_t room)
{
	size_t len = (size_t)(w->p - start), k = pbw_varint_size(len);
	struct pbw at = {.p = start - room};

	if (k != room)
		memmove(start - room + k, start, len);
	pbw_varint(&at, len);
	w->p = at.p + len;
}

/* Most bytes span_fields writes for s (the room a span is given). */
static size_t span_bound(const struct xspan *s)
{
	size_t n = 96 + s->ts_len + s->name_len; /* ids, times, kind, status, tags */

	for (size_t i = 0; i < s->nattrs; i++)
		n += 24u + s->attrs[i].klen + s->attrs[i].len; /* tags, lengths, an int */
	return n;
}

/* Group g's ResourceSpans, in one pass (it makes its own room). */
static int group_fields(struct pbw *w, struct otlp_encoder *e, const struct otlp_resource *res,
			const struct xspan *const *s, size_t n, size_t g, int64_t unix_off)
{
	const struct xspan *head = s[e->first[g]];
	struct kv a[RES_ATTRS];
	size_t na = resource_attrs(a, res, head), res_len = 0, scope_len, rs_off, ss_off;
	static const size_t vlen = sizeof(OBS_VERSION) - 1;

	for (size_t i = 0; i < na; i++)
		res_len += pbw_len_field_size(F_RES_ATTRIBUTES, kv_size(&a[i]));
	scope_len = pbw_len_field_size(F_SCOPE_NAME, 3) + pbw_len_field_size(F_SCOPE_VERSION, vlen);
	if (reserve_out(e, w, 2 * ROOM_MAX + 16 + res_len + scope_len))
		return -1;
	/* offsets, not pointers: the buffer may move while the spans go in */
	rs_off = (size_t)(open_later(w, F_REQ_RESOURCE_SPANS, GROUP_ROOM) - e->out);
	pbw_open(w, F_RS_RESOURCE, res_len);
	for (size_t i = 0; i < na; i++)
		kv_write(w, F_RES_ATTRIBUTES, &a[i]);
	ss_off = (size_t)(open_later(w, F_RS_SCOPE_SPANS, GROUP_ROOM) - e->out);
	pbw_open(w, F_SS_SCOPE, scope_len);
	pbw_bytes(w, F_SCOPE_NAME, "obs", 3);
	pbw_bytes(w, F_SCOPE_VERSION, OBS_VERSION, vlen);
	for (size_t i = e->first[g]; i < n; i++) {
		uint8_t *sp;
		if (e->group[i] != g)
			continue;
		if (reserve_out(e, w, span_bound(s[i]) + 2 * ROOM_MAX))
			return -1;
		sp = open_later(w, F_SS_SPANS, SPAN_ROOM);
		span_fields(w, s[i], unix_off);
		close_later(w, sp, SPAN_ROOM);
	}
	if (reserve_out(e, w, 2 * ROOM_MAX))
		return -1;
	close_later(w, e->out + ss_off, GROUP_ROOM);
	close_later(w, e->out + rs_off, GROUP_ROOM);
	return 0;
}

int otlp_encoder_run(struct otlp_encoder *e, const struct otlp_resource *res,
		     const struct xspan *const *s, size_t n, int64_t unix_off, const uint8_t **out,
		     size_t *len)
{
	struct pbw w = {0};
	size_t ngroups = 0;

	/* one ResourceSpans per process (the resource carries process.pid) */
	w.p = e->out;
	if (reserve_spans(e, n ? n : 1) || reserve_out(e, &w, 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t g = 0;

		while (g < ngroups && !same_resource(s[e->first[g]], s[i]))
			g++;
		if (g == ngroups)
			e->first[ngroups++] = i;
		e->group[i] = g;
	}
	for (size_t g = 0; g < ngroups; g++)
		if (group_fields(&w, e, res, s, n, g, unix_off))
			return -1;
	*out = e->out;
	*len = (size_t)(w.p - e->out);
	return 0;
}

int otlp_decode_response(const uint8_t *buf, size_t len, int64_t *rejected, char *msg,
			 size_t msglen)
{
	Obs__Otlp__ExportTraceServiceResponse *r;

	*rejected = 0;
	if (msglen)
		msg[0] = 0;
	if (len == 0)
		return 0;
	r = obs__otlp__export_trace_service_response__unpack(NULL, len, buf);
	if (!r)
		return -1;
	if (r->partial_success) {
		*rejected = r->partial_success->rejected_spans;
		if (r->partial_success->error_message && msglen)
			snprintf(msg, msglen, "%s", r->partial_success->error_message);
	}
	obs__otlp__export_trace_service_response__free_unpacked(r, NULL);
	return 0;
}

/* ---- JSON lines ------------------------------------------------------------ */

/* A JSON string: UTF-8 passes as is, a byte that is not UTF-8 becomes '?'. */
static void json_str(FILE *f, const char *s)
{
	size_t n = strlen(s);

	fputc('"', f);
	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t ok;

		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else if (c < 0x80) {
			fputc(c, f);
		} else if ((ok = str_utf8_valid(s, n < 4 ? n : 4)) > 0) {
			/* the one well-formed sequence at s (a window of 4 bytes
			 * holds it whole; past it may be more of the string) */
			size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

			fwrite(s, 1, len, f);
			s += len - 1;
			n -= len - 1;
		} else {
			fputc('?', f);
		}
		s++;
		n--;
	}
	fputc('"', f);
}

void otlp_write_json(FILE *f, const struct otlp_resource *res, const struct xspan *const *spans,
		     size_t n, int64_t unix_off)
{
	for (size_t i = 0; i < n; i++) {
		const struct xspan *x = spans[i];
		char hex[33];

		fputs("{\"name\":", f);
		json_str(f, xspan_name(x));
		tp_hex(x->trace_id, 16, hex);
		fprintf(f, ",\"kind\":\"%s\",\"trace_id\":\"%s\"",
			x->kind == SPAN_SERVER ? "server" : "client", hex);
		tp_hex(x->span_id, 8, hex);
		fprintf(f, ",\"span_id\":\"%s\"", hex);
		if (x->has_parent) {
			tp_hex(x->parent_id, 8, hex);
			fprintf(f, ",\"parent_span_id\":\"%s\"", hex);
		}
		fprintf(f, ",\"start_time_unix_nano\":%lld,\"end_time_unix_nano\":%lld",
			(long long)((int64_t)x->start_ns + unix_off),
			(long long)((int64_t)x->end_ns + unix_off));
		fprintf(f, ",\"duration_ms\":%.3f", (double)(x->end_ns - x->start_ns) / 1e6);
		fprintf(f, ",\"status\":\"%s\"", x->error ? "error" : "unset");
		fputs(",\"attributes\":{", f);
		for (size_t j = 0; j < x->nattrs; j++) {
			if (j)
				fputc(',', f);
			json_str(f, x->attrs[j].key);
			fputc(':', f);
			if (x->attrs[j].type == XSPAN_INT)
				fprintf(f, "%lld", (long long)x->attrs[j].i);
			else
				json_str(f, xspan_str(x, j));
		}
		fputs("},\"resource\":{\"service.name\":", f);
		json_str(f, *xspan_service(x) ? xspan_service(x)
			    : res->service    ? res->service
					      : "");
		if (*xspan_container(x)) {
			fputs(",\"container.id\":", f);
			json_str(f, xspan_container(x));
		}
		if (*xspan_pod(x)) {
			fputs(",\"k8s.pod.uid\":", f);
			json_str(f, xspan_pod(x));
		}
		fprintf(f, ",\"process.pid\":%u}}\n", x->pid);
	}
	fflush(f);
}

#include "otlp_encode.h"

#include <stdlib.h>
#include <string.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otlp_response.pb-c.h"
#include "sbuf.h"
#include "str.h"
#include "tp.h"
#include "version.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;

#define SPAN_ATTRS   XSPAN_ATTR_MAX
#define SPAN_STR_MAX (XSPAN_STR_MAX + 64) /* a span's strings, copied into the arena */
#define RES_ATTRS    (OTLP_MAX_RES_ATTRS + 10)

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

struct arena {
	KeyValue *kv;
	AnyValue *av;
	KeyValue **kvp;
	size_t used, cap;
	char *str;
	size_t sused, scap;
};

static char *arena_str(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;

	if (a->sused + n > a->scap)
		return NULL;
	memcpy(a->str + a->sused, s, n);
	a->sused += n;
	/* protobuf strings must be UTF-8: a receiver refuses the whole batch */
	str_utf8_fix(a->str + a->sused - n);
	return a->str + a->sused - n;
}

static KeyValue *arena_kv(struct arena *a, const char *key)
{
	KeyValue *kv;
	AnyValue *av;

	if (a->used >= a->cap)
		return NULL;
	kv = &a->kv[a->used];
	av = &a->av[a->used];
	a->kvp[a->used++] = kv;
	opentelemetry__proto__common__v1__key_value__init(kv);
	opentelemetry__proto__common__v1__any_value__init(av);
	kv->key = (char *)key;
	kv->value = av;
	return kv;
}

static void kv_str(struct arena *a, size_t *n, const char *key, const char *v)
{
	KeyValue *kv;
	char *copy;

	if (!v || !*v || !(copy = arena_str(a, v)) || !(kv = arena_kv(a, key)))
		return;
	kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	kv->value->string_value = copy;
	(*n)++;
}

static void kv_int(struct arena *a, size_t *n, const char *key, int64_t v)
{
	KeyValue *kv = arena_kv(a, key);

	if (!kv)
		return;
	kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	kv->value->int_value = v;
	(*n)++;
}

/* The span's own attributes, as the protocol described them. */
static void span_attrs(struct arena *a, const struct xspan *s, size_t *n)
{
	for (size_t i = 0; i < s->nattrs; i++) {
		if (s->attrs[i].type == XSPAN_INT)
			kv_int(a, n, s->attrs[i].key, s->attrs[i].i);
		else
			kv_str(a, n, s->attrs[i].key, xspan_str(s, i));
	}
}

static void fill_span(struct arena *a, Span *sp, Status *st, const struct xspan *s,
		      int64_t unix_off)
{
	size_t first = a->used, n = 0;

	opentelemetry__proto__trace__v1__span__init(sp);
	opentelemetry__proto__trace__v1__status__init(st);
	sp->trace_id.data = (uint8_t *)s->trace_id;
	sp->trace_id.len = 16;
	sp->span_id.data = (uint8_t *)s->span_id;
	sp->span_id.len = 8;
	if (s->has_parent) {
		sp->parent_span_id.data = (uint8_t *)s->parent_id;
		sp->parent_span_id.len = 8;
	}
	if (s->tracestate[0])
		sp->trace_state = (char *)s->tracestate;
	sp->name = arena_str(a, xspan_name(s));
	if (!sp->name)
		sp->name = "";
	sp->kind = s->kind == SPAN_SERVER
		       ? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
		       : OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
	sp->start_time_unix_nano = (uint64_t)((int64_t)s->start_ns + unix_off);
	sp->end_time_unix_nano = (uint64_t)((int64_t)s->end_ns + unix_off);
	span_attrs(a, s, &n);
	sp->n_attributes = n;
	sp->attributes = a->kvp + first;
	if (s->error)
		st->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
	sp->status = st;
}

static void resource_attrs(struct arena *a, Resource *r, const struct otlp_resource *res,
			   const struct xspan *s)
{
	size_t first = a->used, n = 0;

	opentelemetry__proto__resource__v1__resource__init(r);
	/* the process's own service (node agent), else OTEL_SERVICE_NAME,
	 * which wins over service.name in OTEL_RESOURCE_ATTRIBUTES */
	kv_str(a, &n, "service.name", s->service[0] ? s->service : res->service);
	for (size_t i = 0; i < res->nattrs; i++)
		if (strcmp(res->keys[i], "service.name"))
			kv_str(a, &n, res->keys[i], res->vals[i]);
	kv_int(a, &n, "process.pid", s->pid);
	if (s->container_id[0])
		kv_str(a, &n, "container.id", s->container_id);
	if (s->pod_uid[0])
		kv_str(a, &n, "k8s.pod.uid", s->pod_uid);
	kv_str(a, &n, "process.executable.name", s->exe);
	kv_str(a, &n, "host.name", res->host);
	kv_str(a, &n, "telemetry.sdk.name", "obs");
	kv_str(a, &n, "telemetry.sdk.language", "c");
	kv_str(a, &n, "telemetry.sdk.version", OBS_VERSION);
	r->attributes = a->kvp + first;
	r->n_attributes = n;
}

/* Spans of one process share a resource. */
static int same_resource(const struct xspan *a, const struct xspan *b)
{
	return a->pid == b->pid && !strcmp(a->service, b->service) &&
	       !strcmp(a->container_id, b->container_id);
}

/*
 * Encoder buffers, kept from batch to batch: allocating megabytes per
 * batch made every batch fault its pages in afresh, which was most of
 * the encoder's time. Arrays sized by span count share span_cap.
 */
struct otlp_encoder {
	size_t span_cap, kv_cap, str_cap, out_cap;
	size_t *first; /* each resource group's first span */
	ResourceSpans *rs;
	ResourceSpans **rsp;
	ScopeSpans *ss;
	ScopeSpans **ssp;
	Resource *resv;
	Span *spans;
	Span **spp;
	Status *sts;
	KeyValue *kv;
	AnyValue *av;
	KeyValue **kvp;
	char *str;
	uint8_t *out;
};

static void free_span_arrays(struct otlp_encoder *e)
{
	free(e->first);
	free(e->rs);
	free(e->rsp);
	free(e->ss);
	free(e->ssp);
	free(e->resv);
	free(e->spans);
	free(e->spp);
	free(e->sts);
	e->first = NULL, e->rs = NULL, e->rsp = NULL, e->ss = NULL, e->ssp = NULL;
	e->resv = NULL, e->spans = NULL, e->spp = NULL, e->sts = NULL;
	e->span_cap = 0;
}

static void free_kv_arrays(struct otlp_encoder *e)
{
	free(e->kv);
	free(e->av);
	free(e->kvp);
	e->kv = NULL, e->av = NULL, e->kvp = NULL;
	e->kv_cap = 0;
}

/* Room for m spans (and as many resource groups). Contents are not kept. */
static int reserve_spans(struct otlp_encoder *e, size_t m)
{
	if (m <= e->span_cap)
		return 0;
	free_span_arrays(e);
	e->first = malloc(m * sizeof(*e->first));
	e->rs = malloc(m * sizeof(*e->rs));
	e->rsp = malloc(m * sizeof(*e->rsp));
	e->ss = malloc(m * sizeof(*e->ss));
	e->ssp = malloc(m * sizeof(*e->ssp));
	e->resv = malloc(m * sizeof(*e->resv));
	e->spans = malloc(m * sizeof(*e->spans));
	e->spp = malloc(m * sizeof(*e->spp));
	e->sts = malloc(m * sizeof(*e->sts));
	if (!e->first || !e->rs || !e->rsp || !e->ss || !e->ssp || !e->resv || !e->spans ||
	    !e->spp || !e->sts) {
		free_span_arrays(e);
		return -1;
	}
	e->span_cap = m;
	return 0;
}

static int reserve_kv(struct otlp_encoder *e, size_t m)
{
	if (m <= e->kv_cap)
		return 0;
	free_kv_arrays(e);
	e->kv = malloc(m * sizeof(*e->kv));
	e->av = malloc(m * sizeof(*e->av));
	e->kvp = malloc(m * sizeof(*e->kvp));
	if (!e->kv || !e->av || !e->kvp) {
		free_kv_arrays(e);
		return -1;
	}
	e->kv_cap = m;
	return 0;
}

/* Room for m bytes in *buf (capacity *cap); contents are not kept. */
static int reserve_bytes(void *bufp, size_t *cap, size_t m)
{
	char **buf = bufp;

	if (m <= *cap)
		return 0;
	free(*buf);
	*buf = malloc(m);
	*cap = *buf ? m : 0;
	return *buf ? 0 : -1;
}

struct otlp_encoder *otlp_encoder_new(void)
{
	return calloc(1, sizeof(struct otlp_encoder));
}

void otlp_encoder_free(struct otlp_encoder *e)
{
	if (!e)
		return;
	free_span_arrays(e);
	free_kv_arrays(e);
	free(e->str);
	free(e->out);
	free(e);
}

int otlp_encoder_run(struct otlp_encoder *e, const struct otlp_resource *res, const struct xspan *s,
		     size_t n, int64_t unix_off, const uint8_t **out, size_t *len)
{
	Request req =
	    OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	Scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	struct arena a = {0};
	size_t ngroups = 0, res_bytes = 0;

	/* one ResourceSpans per process (the resource carries process.pid);
	 * everything below is initialised before use */
	if (reserve_spans(e, n ? n : 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t g = 0;
		while (g < ngroups && !same_resource(&s[e->first[g]], &s[i]))
			g++;
		if (g == ngroups)
			e->first[ngroups++] = i;
	}
	for (size_t i = 0; i < res->nattrs; i++)
		res_bytes += strlen(res->keys[i]) + strlen(res->vals[i]) + 2;
	res_bytes += (res->service ? strlen(res->service) : 0) +
		     (res->host ? strlen(res->host) : 0) + sizeof(s->exe) + sizeof(s->service) +
		     sizeof(s->container_id) + sizeof(s->pod_uid) + 64;
	if (reserve_kv(e, n * SPAN_ATTRS + ngroups * RES_ATTRS + 8) ||
	    reserve_bytes(&e->str, &e->str_cap, n * SPAN_STR_MAX + ngroups * res_bytes + 64))
		return -1;
	a.kv = e->kv, a.av = e->av, a.kvp = e->kvp, a.cap = e->kv_cap;
	a.str = e->str, a.scap = e->str_cap;

	scope.name = "obs";
	scope.version = OBS_VERSION;
	for (size_t g = 0; g < ngroups; g++) {
		opentelemetry__proto__trace__v1__resource_spans__init(&e->rs[g]);
		opentelemetry__proto__trace__v1__scope_spans__init(&e->ss[g]);
		resource_attrs(&a, &e->resv[g], res, &s[e->first[g]]);
		e->rs[g].resource = &e->resv[g];
		e->ss[g].scope = &scope;
		e->ssp[g] = &e->ss[g];
		e->rs[g].scope_spans = &e->ssp[g];
		e->rs[g].n_scope_spans = 1;
		e->rsp[g] = &e->rs[g];
	}
	/* spans grouped: pointer arrays per group, in order */
	size_t k = 0;
	for (size_t g = 0; g < ngroups; g++) {
		e->ss[g].spans = e->spp + k;
		for (size_t i = 0; i < n; i++) {
			if (!same_resource(&s[e->first[g]], &s[i]))
				continue;
			fill_span(&a, &e->spans[k], &e->sts[k], &s[i], unix_off);
			e->spp[k] = &e->spans[k];
			k++;
			e->ss[g].n_spans++;
		}
	}
	req.resource_spans = e->rsp;
	req.n_resource_spans = ngroups;
	*len =
	    opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
		&req);
	if (reserve_bytes(&e->out, &e->out_cap, *len ? *len : 1))
		return -1;
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req,
										       e->out);
	*out = e->out;
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

void otlp_write_json(FILE *f, const struct otlp_resource *res, const struct xspan *s, size_t n,
		     int64_t unix_off)
{
	for (size_t i = 0; i < n; i++) {
		char hex[33];

		fputs("{\"name\":", f);
		json_str(f, xspan_name(&s[i]));
		tp_hex(s[i].trace_id, 16, hex);
		fprintf(f, ",\"kind\":\"%s\",\"trace_id\":\"%s\"",
			s[i].kind == SPAN_SERVER ? "server" : "client", hex);
		tp_hex(s[i].span_id, 8, hex);
		fprintf(f, ",\"span_id\":\"%s\"", hex);
		if (s[i].has_parent) {
			tp_hex(s[i].parent_id, 8, hex);
			fprintf(f, ",\"parent_span_id\":\"%s\"", hex);
		}
		fprintf(f, ",\"start_time_unix_nano\":%lld,\"end_time_unix_nano\":%lld",
			(long long)((int64_t)s[i].start_ns + unix_off),
			(long long)((int64_t)s[i].end_ns + unix_off));
		fprintf(f, ",\"duration_ms\":%.3f", (double)(s[i].end_ns - s[i].start_ns) / 1e6);
		fprintf(f, ",\"status\":\"%s\"", s[i].error ? "error" : "unset");
		fputs(",\"attributes\":{", f);
		for (size_t j = 0; j < s[i].nattrs; j++) {
			if (j)
				fputc(',', f);
			json_str(f, s[i].attrs[j].key);
			fputc(':', f);
			if (s[i].attrs[j].type == XSPAN_INT)
				fprintf(f, "%lld", (long long)s[i].attrs[j].i);
			else
				json_str(f, xspan_str(&s[i], j));
		}
		fputs("},\"resource\":{\"service.name\":", f);
		json_str(f, s[i].service[0] ? s[i].service : res->service ? res->service : "");
		if (s[i].container_id[0]) {
			fputs(",\"container.id\":", f);
			json_str(f, s[i].container_id);
		}
		if (s[i].pod_uid[0]) {
			fputs(",\"k8s.pod.uid\":", f);
			json_str(f, s[i].pod_uid);
		}
		fprintf(f, ",\"process.pid\":%u}}\n", s[i].pid);
	}
	fflush(f);
}

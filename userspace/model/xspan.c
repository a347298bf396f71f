#include "xspan.h"

#include <stddef.h>
#include <string.h>

#include "str.h"

/* Store s, cut to max - 1 bytes and to what fits; the offset of its copy,
 * or 0 (the empty string) if full or empty; *len its length as stored. */
static uint16_t put(struct xspan *x, const char *s, size_t max, uint16_t *len)
{
	size_t n = s ? strlen(s) : 0, room = XSPAN_STR_MAX - x->str_used;
	uint16_t off = x->str_used;

	*len = 0;
	if (!n || room < 2)
		return 0;
	if (n > max - 1)
		n = max - 1;
	if (n > room - 1)
		n = room - 1;
	memcpy(x->str + off, s, n);
	x->str[off + n] = 0;
	str_utf8_fix_n(x->str + off, n); /* OTLP strings must be UTF-8 (a path need not be) */
	x->str_used = (uint16_t)(off + n + 1);
	*len = (uint16_t)n;
	return off;
}

void xspan_from_rec(struct xspan *x, const struct span_rec *r)
{
	memcpy(x->trace_id, r->trace_id, 16);
	memcpy(x->span_id, r->span_id, 8);
	memcpy(x->parent_id, r->parent_id, 8);
	x->has_parent = !!(r->flags & SPAN_F_HAS_PARENT);
	x->kind = r->kind;
	x->error = 0;
	x->nattrs = 0;
	x->pid = r->pid;
	x->labels_id = 0;
	x->start_ns = r->start_ns;
	x->end_ns = r->end_ns;
	x->str[0] = 0;
	x->str_used = 1; /* str[0] is the empty string */
	x->name_off = x->name_len = 0;
	x->exe_off = x->service_off = x->container_off = x->pod_off = 0;
	x->ts_off = put(x, r->tracestate, TP_TRACESTATE_MAX + 1, &x->ts_len);
}

void xspan_set_labels(struct xspan *x, const char *service, const char *container_id,
		      const char *pod_uid)
{
	uint16_t len;

	x->service_off = put(x, service, XSPAN_SERVICE_MAX, &len);
	x->container_off = put(x, container_id, XSPAN_CONTAINER_MAX, &len);
	x->pod_off = put(x, pod_uid, XSPAN_POD_MAX, &len);
}

void xspan_set_exe(struct xspan *x, const char *exe)
{
	uint16_t len;

	x->exe_off = put(x, exe, XSPAN_EXE_MAX, &len);
}

const char *xspan_tracestate(const struct xspan *x)
{
	return x->str + x->ts_off;
}

const char *xspan_service(const struct xspan *x)
{
	return x->str + x->service_off;
}

const char *xspan_container(const struct xspan *x)
{
	return x->str + x->container_off;
}

const char *xspan_pod(const struct xspan *x)
{
	return x->str + x->pod_off;
}

const char *xspan_exe(const struct xspan *x)
{
	return x->str + x->exe_off;
}

size_t xspan_size(const struct xspan *x)
{
	size_t used = x->str_used > XSPAN_STR_MAX ? XSPAN_STR_MAX : x->str_used;

	return (offsetof(struct xspan, str) + used + 7) & ~(size_t)7;
}

void xspan_set_name(struct xspan *x, const char *name)
{
	x->name_off = put(x, name, XSPAN_NAMES_MAX, &x->name_len);
}

const char *xspan_name(const struct xspan *x)
{
	return x->str + x->name_off;
}

void xspan_put_str_n(struct xspan *x, const char *key, size_t kl, const char *v)
{
	struct xspan_attr *a;

	if (!v || !*v || x->nattrs >= XSPAN_ATTR_MAX || kl > UINT8_MAX)
		return;
	a = &x->attrs[x->nattrs++];
	*a = (struct xspan_attr){.key = key, .klen = (uint8_t)kl, .type = XSPAN_STR};
	a->off = put(x, v, XSPAN_NAMES_MAX, &a->len);
}

void xspan_put_int_n(struct xspan *x, const char *key, size_t kl, int64_t v)
{
	if (x->nattrs >= XSPAN_ATTR_MAX || kl > UINT8_MAX)
		return;
	x->attrs[x->nattrs++] =
	    (struct xspan_attr){.key = key, .klen = (uint8_t)kl, .type = XSPAN_INT, .i = v};
}

const char *xspan_str(const struct xspan *x, size_t i)
{
	return x->str + x->attrs[i].off;
}

const struct xspan_attr *xspan_find(const struct xspan *x, const char *key)
{
	for (size_t i = 0; i < x->nattrs; i++)
		if (!strcmp(x->attrs[i].key, key))
			return &x->attrs[i];
	return NULL;
}

#include "spanrec.h"

#include <string.h>

void spanrec_clear_attrs(struct span_rec *r)
{
	r->nattrs = 0;
	r->str_used = 0;
}

static struct spanrec_attr *add(struct span_rec *r, unsigned key, uint8_t type)
{
	struct spanrec_attr *a;

	if (r->nattrs >= SPANREC_ATTR_MAX || key > 0xff)
		return NULL;
	a = &r->attrs[r->nattrs];
	a->key = (uint8_t)key;
	a->type = type;
	a->off = a->len = a->reserved = 0;
	a->i = 0;
	return a;
}

int spanrec_put_int(struct span_rec *r, unsigned key, int64_t v)
{
	struct spanrec_attr *a = add(r, key, SPANREC_INT);

	if (!a)
		return -1;
	a->i = v;
	r->nattrs++;
	return 0;
}

int spanrec_put_str(struct span_rec *r, unsigned key, const char *s, size_t n)
{
	const char *nul = memchr(s, 0, n);

	return spanrec_put_bytes(r, key, s, nul ? (size_t)(nul - s) : n);
}

int spanrec_put_bytes(struct span_rec *r, unsigned key, const char *s, size_t n)
{
	struct spanrec_attr *a = add(r, key, SPANREC_STR);
	size_t room = SPANREC_STR_MAX - r->str_used;

	if (!a || room < 1)
		return -1;
	if (n > room - 1)
		n = room - 1;
	memcpy(r->str + r->str_used, s, n);
	r->str[r->str_used + n] = 0;
	a->off = r->str_used;
	a->len = (uint16_t)n;
	r->str_used = (uint16_t)(r->str_used + n + 1);
	r->nattrs++;
	return 0;
}

unsigned spanrec_check(struct span_rec *r)
{
	unsigned kept = 0, dropped = 0, n = r->nattrs;

	r->peer[sizeof(r->peer) - 1] = 0;
	if (r->tracestate_len > TP_TRACESTATE_MAX)
		r->tracestate_len = 0;
	r->tracestate[r->tracestate_len] = 0;
	if (r->end_ns < r->start_ns)
		r->end_ns = r->start_ns;
	if (n > SPANREC_ATTR_MAX) {
		dropped += n - SPANREC_ATTR_MAX;
		n = SPANREC_ATTR_MAX;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct spanrec_attr *a = &r->attrs[i];
		/* a string within the used part: what lies past it was not
		 * this record's to write (the ring copies only what is used) */
		int ok = a->type == SPANREC_INT ||
			 (a->type == SPANREC_STR && (size_t)a->off + a->len < SPANREC_STR_MAX &&
			  (size_t)a->off + a->len < r->str_used && r->str[a->off + a->len] == 0);
		if (ok)
			r->attrs[kept++] = *a;
		else
			dropped++;
	}
	r->nattrs = (uint8_t)kept;
	return dropped;
}

const struct spanrec_attr *spanrec_get(const struct span_rec *r, unsigned key)
{
	for (unsigned i = 0; i < r->nattrs; i++)
		if (r->attrs[i].key == key)
			return &r->attrs[i];
	return NULL;
}

int64_t spanrec_int(const struct span_rec *r, unsigned key, int64_t def)
{
	const struct spanrec_attr *a = spanrec_get(r, key);

	return a && a->type == SPANREC_INT ? a->i : def;
}

const char *spanrec_str(const struct span_rec *r, unsigned key)
{
	const struct spanrec_attr *a = spanrec_get(r, key);

	return a && a->type == SPANREC_STR ? r->str + a->off : "";
}

void spanrec_copy(struct span_rec *d, const struct span_rec *s)
{
	size_t ts = s->tracestate_len > TP_TRACESTATE_MAX ? 0 : s->tracestate_len;
	size_t na = s->nattrs > SPANREC_ATTR_MAX ? SPANREC_ATTR_MAX : s->nattrs;
	size_t su = s->str_used > SPANREC_STR_MAX ? SPANREC_STR_MAX : s->str_used;

	memcpy(d, s, offsetof(struct span_rec, tracestate_len));
	d->tracestate_len = (uint16_t)ts;
	memcpy(d->tracestate, s->tracestate, ts);
	d->tracestate[ts] = 0;
	d->nattrs = (uint8_t)na;
	d->str_used = (uint16_t)su;
	memcpy(d->attrs, s->attrs, na * sizeof(s->attrs[0]));
	memcpy(d->str, s->str, su);
}

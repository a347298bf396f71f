#include "proto_red.h"

#include <string.h>

static size_t peer_bytes(const struct span_rec *r)
{
	size_t n = strnlen(r->peer, sizeof(r->peer));

	return n < sizeof(r->peer) ? n + 1 : n;
}

static int memo_hit(const struct proto_red_memo *m, const struct region *reg,
		    const struct route_table *routes, const struct span_rec *r)
{
	return m->region == reg->hdr && m->routes == routes && m->kind == r->kind &&
	       m->proto == r->proto && m->flags == r->flags && m->error == r->error &&
	       m->peer_port == r->peer_port && m->nattrs == r->nattrs &&
	       m->str_used == r->str_used && !memcmp(m->str, r->str, r->str_used) &&
	       !memcmp(m->attrs, r->attrs, r->nattrs * sizeof(r->attrs[0])) &&
	       !memcmp(m->peer, r->peer, peer_bytes(r));
}

static void memo_set(struct proto_red_memo *m, const struct region *reg,
		     const struct route_table *routes, const struct span_rec *r,
		     const struct proto_family *family, struct region_series *s, uint32_t tag)
{
	m->region = NULL;
	m->tag = tag;
	if (r->str_used > sizeof(m->str) || r->nattrs > SPANREC_ATTR_MAX)
		return; /* too big to keep: looked up each time */
	m->routes = routes;
	m->family = family;
	m->s = s;
	m->kind = r->kind;
	m->proto = r->proto;
	m->flags = r->flags;
	m->error = r->error;
	m->peer_port = r->peer_port;
	m->nattrs = r->nattrs;
	m->str_used = r->str_used;
	memcpy(m->str, r->str, r->str_used);
	memcpy(m->attrs, r->attrs, r->nattrs * sizeof(r->attrs[0]));
	memcpy(m->peer, r->peer, peer_bytes(r));
	m->region = reg->hdr;
}

/* The series of the record's point, and its family; NULL when none. */
static struct region_series *series_of(const struct proto_handler *h, struct region *reg,
				       const struct route_table *routes, const struct span_rec *r,
				       struct proto_red_memo *memo, uint32_t tag,
				       const struct proto_family **family, double *value)
{
	struct proto_env env = {.routes = routes};
	struct proto_obs obs;
	struct region_series *s;
	char key[REGION_KEY_MAX];
	size_t at = 0;

	if (memo && memo->region && memo_hit(memo, reg, routes, r)) {
		memo->tag = tag; /* the same record, by another name */
		*family = memo->family;
		*value = proto_seconds(r);
		return memo->s;
	}
	obs.family = NULL;
	h->observe(r, &env, &obs);
	if (!(*family = obs.family))
		return NULL;
	*value = obs.value;
	for (size_t i = 0; i < obs.nlabels; i++) {
		size_t n = strlen(obs.labels[i]) + 1;
		if (at + n > sizeof(key)) {
			region_count(reg, REGION_BAD_POINTS);
			at = 0; /* cannot happen: labels are bounded; the overflow series */
			break;
		}
		memcpy(key + at, obs.labels[i], n);
		at += n;
	}
	s = region_series(reg, obs.family->id, key, at);
	if (!s) {
		region_count(reg, REGION_SERIES_OVERFLOW);
		return region_series(reg, obs.family->id, "", 0);
	}
	/* (a point's value is its record's duration, as every observe says
	 * now: a memo of one that said otherwise would file a wrong one) */
	if (memo && obs.value == proto_seconds(r))
		memo_set(memo, reg, routes, r, obs.family, s, tag);
	return s;
}

static unsigned bucket_of(const struct proto_family *family, double value)
{
	size_t b = 0;

	while (b < family->nbounds && value > family->bounds[b])
		b++;
	return (unsigned)b;
}

void proto_red_observe(const struct proto_handler *h, struct region *reg,
		       const struct route_table *routes, const struct span_rec *r,
		       struct proto_red_memo *memo, uint32_t tag)
{
	const struct proto_family *family;
	double value;
	struct region_series *s = series_of(h, reg, routes, r, memo, tag, &family, &value);
	unsigned b;

	if (!s)
		return;
	b = bucket_of(family, value);
	region_observe(s, b, value);
	if ((r->trace_flags & TP_FLAG_SAMPLED) &&
	    __atomic_load_n(&reg->hdr->export_spans, __ATOMIC_RELAXED))
		region_exemplar(s, b, r->trace_id, r->span_id, value, r->end_ns);
}

int proto_red_again(struct region *reg, const struct route_table *routes,
		    struct proto_red_memo *memo, uint32_t tag, const struct proto_red_same *same,
		    double value)
{
	const struct proto_red_memo *m = memo;

	if (!tag || !m->region || m->region != reg->hdr || m->routes != routes || m->tag != tag ||
	    m->kind != same->kind || m->proto != same->proto || m->flags != same->flags ||
	    m->error != same->error || m->peer_port != same->peer_port)
		return -1;
	region_observe(m->s, bucket_of(m->family, value), value);
	return 0;
}

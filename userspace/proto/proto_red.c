#include "proto_red.h"

#include <string.h>

void proto_red_observe(const struct proto_handler *h, struct region *reg,
		       const struct route_table *routes, const struct span_rec *r)
{
	struct proto_env env = {.routes = routes};
	struct proto_obs obs;
	struct region_series *s;
	char key[REGION_KEY_MAX];
	size_t at = 0, b = 0;

	obs.family = NULL;
	h->observe(r, &env, &obs);
	if (!obs.family)
		return;
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
		if (!(s = region_series(reg, obs.family->id, "", 0)))
			return;
	}
	while (b < obs.family->nbounds && obs.value > obs.family->bounds[b])
		b++;
	region_observe(s, (unsigned)b, obs.value);
	if ((r->trace_flags & TP_FLAG_SAMPLED) &&
	    __atomic_load_n(&reg->hdr->export_spans, __ATOMIC_RELAXED))
		region_exemplar(s, (unsigned)b, r->trace_id, r->span_id, obs.value, r->end_ns);
}

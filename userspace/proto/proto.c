#include "proto.h"

#include <string.h>

const double proto_otel_duration_bounds[PROTO_OTEL_DURATION_NBOUNDS] = {
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10};

void exchange_clear(struct exchange *x)
{
	memset(x, 0, offsetof(struct exchange, tracestate));
	x->tracestate[0] = 0;
}

void proto_obs_init(struct proto_obs *o, const struct proto_family *f, double v)
{
	o->family = f;
	o->value = v;
	o->nlabels = 0;
	o->used = 0;
}

void proto_obs_label(struct proto_obs *o, const char *v)
{
	size_t n = strlen(v), room = sizeof(o->buf) - o->used;

	if (o->nlabels >= PROTO_LABELS_MAX)
		return;
	if (room < 1) {
		o->labels[o->nlabels++] = ""; /* cannot happen: labels are bounded */
		return;
	}
	if (n > room - 1)
		n = room - 1; /* never over: a cut label, not a lost point */
	memcpy(o->buf + o->used, v, n);
	o->buf[o->used + n] = 0;
	o->labels[o->nlabels++] = o->buf + o->used;
	o->used += n + 1;
}

double proto_seconds(const struct span_rec *r)
{
	return (double)(r->end_ns - r->start_ns) / 1e9;
}

#include "redagg.h"

#include <stdlib.h>
#include <string.h>

#include "str.h"
#include "tp.h"

#define REDAGG_HASH 4096
#define PROC_LABELS 3 /* service, container_id, pod_uid */
#define SET_BYTES   (PROTO_LABEL_BYTES + 256)

struct agg {
	const struct proto_family *family;
	__u64 counts[PROTO_BUCKETS_MAX + 1];
	double sum;
	struct metric_exemplar *ex; /* per bucket, the newest sampled point; lazily */
	struct agg *next;
	uint16_t len; /* bytes of key; 0: the family's overflow series */
	/* the label values then service, container_id, pod_uid, each NUL-ended
	 * (as long as they are: a node holds thousands of these) */
	char key[];
};

struct redagg {
	struct agg *htab[REDAGG_HASH];
	size_t n, max;
	uint64_t dropped;
};

struct redagg *redagg_new(size_t max_sets)
{
	struct redagg *a = calloc(1, sizeof(*a));

	if (a)
		a->max = max_sets;
	return a;
}

void redagg_free(struct redagg *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < REDAGG_HASH; i++) {
		struct agg *g = a->htab[i];
		while (g) {
			struct agg *n = g->next;
			free(g->ex);
			free(g);
			g = n;
		}
	}
	free(a);
}

/* Do the process labels at the end of g's key name this service? */
static int agg_of(const struct agg *g, const char *const proc[PROC_LABELS])
{
	const char *k = g->key, *end = g->key + g->len;

	if (!g->len)
		return 0; /* an overflow series belongs to no one */
	for (size_t i = 0; i < g->family->nlabels && k < end; i++)
		k += strlen(k) + 1;
	for (size_t i = 0; i < PROC_LABELS; i++) {
		if (k >= end || strcmp(k, proc[i]))
			return 0;
		k += strlen(k) + 1;
	}
	return 1;
}

size_t redagg_forget(struct redagg *a, const char *svc, const char *container_id,
		     const char *pod_uid)
{
	const char *proc[PROC_LABELS] = {svc, container_id, pod_uid};
	size_t gone = 0;

	for (size_t i = 0; a && i < REDAGG_HASH; i++) {
		struct agg **p = &a->htab[i];

		while (*p) {
			struct agg *g = *p;

			if (!agg_of(g, proc)) {
				p = &g->next;
				continue;
			}
			*p = g->next;
			free(g->ex);
			free(g);
			a->n--;
			gone++;
		}
	}
	return gone;
}

uint64_t redagg_dropped(const struct redagg *a)
{
	return a->dropped;
}

/* The key of a point: its label values and process labels, NUL-separated. */
static size_t make_key(char *key, const char *const *labels, size_t nlabels,
		       const char *const proc[PROC_LABELS])
{
	size_t at = 0;

	for (size_t i = 0; i < nlabels + PROC_LABELS; i++) {
		const char *v = i < nlabels ? labels[i] : proc[i - nlabels];
		at += str_copy(key + at, SET_BYTES - at, v ? v : "") + 1;
		if (at >= SET_BYTES) /* cannot happen: labels and process labels are bounded */
			return SET_BYTES;
	}
	return at;
}

/* The row of family f with this key (labels NULL: its overflow row), made
 * if new (NULL: table full, counted). */
static struct agg *row(struct redagg *a, const struct proto_family *f, const char *const *labels,
		       size_t nlabels, const char *const proc[PROC_LABELS])
{
	char key[SET_BYTES];
	size_t len = labels ? make_key(key, labels, nlabels, proc) : 0;
	uint64_t h = str_fnv1a(str_fnv1a(STR_FNV1A_INIT, &f, sizeof(f)), key, len);
	struct agg *g;

	for (g = a->htab[h % REDAGG_HASH]; g; g = g->next)
		if (g->family == f && g->len == len && !memcmp(g->key, key, len))
			return g;
	if (a->n >= a->max || !(g = calloc(1, sizeof(*g) + len))) {
		a->dropped++;
		return NULL;
	}
	g->family = f;
	g->len = (uint16_t)len;
	memcpy(g->key, key, len);
	g->next = a->htab[h % REDAGG_HASH];
	a->htab[h % REDAGG_HASH] = g;
	a->n++;
	return g;
}

static void set_exemplar(struct agg *g, size_t b, const struct metric_exemplar *e)
{
	if (!e->trace_id[0])
		return;
	if (!g->ex && !(g->ex = calloc(PROTO_BUCKETS_MAX + 1, sizeof(*g->ex))))
		return;
	if (e->timestamp >= g->ex[b].timestamp) /* the newest one wins */
		g->ex[b] = *e;
}

void redagg_observe(struct redagg *a, const struct proto_obs *o, const char *svc,
		    const char *container_id, const char *pod_uid, const struct xspan *x,
		    int64_t unix_off)
{
	const char *proc[PROC_LABELS] = {svc, container_id, pod_uid};
	const struct proto_family *f = o->family;
	struct agg *g = row(a, f, o->labels, o->nlabels, proc);
	struct metric_exemplar e;
	size_t b = 0;

	if (!g)
		return;
	while (b < f->nbounds && o->value > f->bounds[b])
		b++;
	g->counts[b]++;
	g->sum += o->value;
	/* exemplars link a bucket to a trace the backend has: sampled only */
	if (!x)
		return;
	tp_hex(x->trace_id, 16, e.trace_id);
	tp_hex(x->span_id, 8, e.span_id);
	e.value = o->value;
	e.timestamp = (double)((int64_t)x->end_ns + unix_off) / 1e9;
	set_exemplar(g, b, &e);
}

void redagg_add(struct redagg *a, const struct proto_family *f, const char *const *labels,
		const char *svc, const char *container_id, const char *pod_uid,
		const uint64_t *counts, double sum, const struct metric_exemplar *ex)
{
	const char *proc[PROC_LABELS] = {svc, container_id, pod_uid};
	struct agg *g = row(a, f, labels, f->nlabels, proc);

	if (!g)
		return;
	for (size_t b = 0; b <= f->nbounds && b <= PROTO_BUCKETS_MAX; b++) {
		g->counts[b] += counts[b];
		if (ex)
			set_exemplar(g, b, &ex[b]);
	}
	g->sum += sum;
}

void redagg_add_overflow(struct redagg *a, const struct proto_family *f, const uint64_t *counts,
			 double sum)
{
	struct agg *g = row(a, f, NULL, 0, NULL);

	if (!g)
		return;
	for (size_t b = 0; b <= f->nbounds && b <= PROTO_BUCKETS_MAX; b++)
		g->counts[b] += counts[b];
	g->sum += sum;
}

void redagg_merge(struct redagg *a, const struct redagg *from, int agent)
{
	for (size_t i = 0; i < REDAGG_HASH; i++) {
		for (const struct agg *g = from->htab[i]; g; g = g->next) {
			const char *v[PROTO_LABELS_MAX + PROC_LABELS];
			const char *p = g->key;
			size_t n = g->family->nlabels + PROC_LABELS;
			uint64_t counts[PROTO_BUCKETS_MAX + 1];

			for (size_t b = 0; b <= PROTO_BUCKETS_MAX; b++)
				counts[b] = g->counts[b];
			if (!g->len) {
				redagg_add_overflow(a, g->family, counts, g->sum);
				continue;
			}
			for (size_t k = 0; k < n; k++) {
				v[k] = p;
				p += strlen(p) + 1;
			}
			redagg_add(a, g->family, v, v[n - 3], agent ? v[n - 2] : "",
				   agent ? v[n - 1] : "", counts, g->sum, g->ex);
		}
	}
}

/* The registry's family for f, registered with the process labels. */
static struct metric_family *family_of(struct metrics_registry *r, const struct proto_family *f,
				       size_t nproc)
{
	static const char *const proc[PROC_LABELS] = {"service", "container_id", "pod_uid"};
	const char *labels[PROTO_LABELS_MAX + PROC_LABELS];
	struct metric_family *mf;
	size_t n = 0;

	for (size_t i = 0; i < f->nlabels && i < PROTO_LABELS_MAX; i++)
		labels[n++] = f->labels[i];
	for (size_t i = 0; i < nproc; i++)
		labels[n++] = proc[i];
	mf = metrics_family(r, f->name, f->help, f->unit, METRIC_HISTOGRAM, labels, n);
	if (mf && !mf->bounds)
		metrics_family_bounds(mf, f->bounds, f->nbounds);
	return mf;
}

void redagg_render(const struct redagg *a, struct metrics_registry *r,
		   const struct proto_handler *const *table, const char *service)
{
	/* obs-run: one service for all; a node agent labels each point's own */
	size_t nproc = service ? 1 : PROC_LABELS;

	for (size_t i = 0; table[i]; i++)
		for (size_t j = 0; table[i]->families && table[i]->families[j]; j++)
			family_of(r, table[i]->families[j], nproc);
	for (size_t i = 0; i < REDAGG_HASH; i++) {
		for (const struct agg *g = a->htab[i]; g; g = g->next) {
			const char *v[PROTO_LABELS_MAX + PROC_LABELS];
			struct metric_family *mf = family_of(r, g->family, nproc);
			const char *p = g->key;
			size_t n = g->family->nlabels + nproc;

			if (!g->len) {
				metrics_hist_add_overflow(r, mf, g->counts, g->sum);
				continue;
			}
			for (size_t k = 0; k < g->family->nlabels + PROC_LABELS; k++) {
				if (k < n)
					v[k] = p;
				p += strlen(p) + 1;
			}
			if (service)
				v[g->family->nlabels] = service;
			if (mf)
				metrics_hist_add_buckets(r, mf, v, g->counts, g->sum, g->ex);
		}
	}
}

void redagg_each(const struct redagg *a, redagg_row_fn fn, void *arg)
{
	for (size_t i = 0; i < REDAGG_HASH; i++) {
		for (const struct agg *g = a->htab[i]; g; g = g->next) {
			const char *v[PROTO_LABELS_MAX];
			const char *p = g->key;
			size_t n = g->len ? g->family->nlabels : 0;
			uint64_t counts[PROTO_BUCKETS_MAX + 1];

			for (size_t k = 0; k < n; k++) {
				v[k] = p;
				p += strlen(p) + 1;
			}
			for (size_t b = 0; b <= PROTO_BUCKETS_MAX; b++)
				counts[b] = g->counts[b];
			fn(arg, g->family, n ? v : NULL, counts, g->sum);
		}
	}
}

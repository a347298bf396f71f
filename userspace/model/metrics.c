#include "metrics.h"

#include <stdlib.h>
#include <string.h>

#include "str.h"

#define GUARD_MAX_FAMS 64

struct card_guard {
	size_t limit, used;
	uint64_t *set; /* open addressing, 0 = empty */
	size_t setsize, setused;
	struct {
		char name[96];
		uint64_t count;
	} over[GUARD_MAX_FAMS];
	size_t nover;
};

static uint64_t series_hash(const char *fam, const char *const *values, size_t n)
{
	uint64_t h = str_fnv1a(STR_FNV1A_INIT, fam, strlen(fam));

	for (size_t i = 0; i < n; i++) {
		h = str_fnv1a(h, "\x1f", 1);
		h = str_fnv1a(h, values[i], strlen(values[i]));
	}
	return h ? h : 1;
}

struct card_guard *card_guard_new(size_t limit)
{
	struct card_guard *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->limit = limit;
	g->setsize = 1024;
	g->set = calloc(g->setsize, sizeof(uint64_t));
	if (!g->set) {
		free(g);
		return NULL;
	}
	return g;
}

void card_guard_free(struct card_guard *g)
{
	if (!g)
		return;
	free(g->set);
	free(g);
}

size_t card_guard_used(const struct card_guard *g)
{
	return g->used;
}

size_t card_guard_limit(const struct card_guard *g)
{
	return g->limit;
}

void card_guard_set_limit(struct card_guard *g, size_t limit)
{
	g->limit = limit;
}

void card_guard_reset(struct card_guard *g)
{
	if (!g)
		return;
	memset(g->set, 0, g->setsize * sizeof(*g->set));
	g->setused = 0;
	g->used = 0;
}

static int set_has(const struct card_guard *g, uint64_t h)
{
	for (size_t i = h & (g->setsize - 1);; i = (i + 1) & (g->setsize - 1)) {
		if (g->set[i] == h)
			return 1;
		if (!g->set[i])
			return 0;
	}
}

static int set_insert(struct card_guard *g, uint64_t h)
{
	if ((g->setused + 1) * 2 > g->setsize) {
		size_t nsize = g->setsize * 2;
		uint64_t *n = calloc(nsize, sizeof(uint64_t));

		if (!n)
			return -1;
		for (size_t i = 0; i < g->setsize; i++) {
			uint64_t v = g->set[i];
			size_t j;

			if (!v)
				continue;
			for (j = v & (nsize - 1); n[j]; j = (j + 1) & (nsize - 1))
				;
			n[j] = v;
		}
		free(g->set);
		g->set = n;
		g->setsize = nsize;
	}
	size_t i;

	for (i = h & (g->setsize - 1); g->set[i]; i = (i + 1) & (g->setsize - 1))
		;
	g->set[i] = h;
	g->setused++;
	return 0;
}

static void guard_count_overflow(struct card_guard *g, const char *fam)
{
	size_t i;

	for (i = 0; i < g->nover; i++)
		if (!strcmp(g->over[i].name, fam))
			break;
	if (i == g->nover) {
		if (g->nover == GUARD_MAX_FAMS)
			i = GUARD_MAX_FAMS - 1; /* last bucket collects the rest */
		else {
			strncpy(g->over[i].name, fam, sizeof(g->over[i].name) - 1);
			g->nover++;
		}
	}
	g->over[i].count++;
}

/*
 * Admit a label set: 1 if admitted (now or before), 0 if refused. Refused
 * sets are remembered under a derived marker hash, so each
 * distinct refused set is counted once.
 */
static int guard_admit(struct card_guard *g, const char *fam, uint64_t h, size_t cost)
{
	uint64_t refused = h ^ 0x9e3779b97f4a7c15ULL;

	if (!refused)
		refused = 2;
	if (set_has(g, h))
		return 1;
	if (set_has(g, refused))
		return 0;
	if (g->used + cost <= g->limit && !set_insert(g, h)) {
		g->used += cost;
		return 1;
	}
	/* Remember the refusal; if even that fails, count it every time. */
	if (g->setused < 4 * g->limit + 4096)
		set_insert(g, refused);
	guard_count_overflow(g, fam);
	return 0;
}

uint64_t card_guard_overflows(const struct card_guard *g, const char *family)
{
	for (size_t i = 0; i < g->nover; i++)
		if (!strcmp(g->over[i].name, family))
			return g->over[i].count;
	return 0;
}

const char *card_guard_overflow_at(const struct card_guard *g, size_t i, uint64_t *count)
{
	if (i >= g->nover)
		return NULL;
	*count = g->over[i].count;
	return g->over[i].name;
}

void metrics_init(struct metrics_registry *r, struct card_guard *guard)
{
	memset(r, 0, sizeof(*r));
	r->guard = guard;
}

static void series_free(struct metric_series *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s->values[i]);
	free(s->ex);
	free(s);
}

static void family_free(struct metric_family *f)
{
	for (size_t i = 0; i < f->nseries; i++)
		series_free(f->series[i], f->nlabels);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->series);
	free(f->htab);
	free(f->name);
	free(f->help);
	free(f->unit);
	free(f);
}

void metrics_free(struct metrics_registry *r)
{
	for (size_t i = 0; i < r->nfams; i++)
		family_free(r->fams[i]);
	r->nfams = 0;
}

size_t metrics_series_cost(const struct metric_family *f)
{
	if (f->type != METRIC_HISTOGRAM)
		return 1;
	return (f->bounds ? f->nbounds : HIST_EXPORT_BUCKETS) + 3;
}

int metrics_family_bounds(struct metric_family *f, const double *bounds, size_t n)
{
	if (!f || f->type != METRIC_HISTOGRAM || n == 0 || n >= OBS_HIST_SLOTS || f->nseries)
		return -1;
	f->bounds = bounds;
	f->nbounds = n;
	return 0;
}

static char *xstrdup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct metric_family *metrics_family(struct metrics_registry *r, const char *name, const char *help,
				     const char *unit, enum metric_type type,
				     const char *const *labels, size_t nlabels)
{
	struct metric_family *f;

	for (size_t i = 0; i < r->nfams; i++)
		if (!strcmp(r->fams[i]->name, name))
			return r->fams[i]->type == type && r->fams[i]->nlabels == nlabels
				   ? r->fams[i]
				   : NULL;
	if (nlabels > METRICS_MAX_LABELS || r->nfams == METRICS_MAX_FAMILIES)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		goto oom;
	f->type = type;
	f->nlabels = nlabels;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->unit = xstrdup_opt(unit);
	f->hsize = 64;
	f->htab = calloc(f->hsize, sizeof(*f->htab));
	if (!f->name || !f->help || (unit && !f->unit) || !f->htab)
		goto oom_free;
	for (size_t i = 0; i < nlabels; i++) {
		f->labels[i] = strdup(labels[i]);
		if (!f->labels[i])
			goto oom_free;
	}
	r->fams[r->nfams++] = f;
	return f;
oom_free:
	family_free(f);
oom:
	r->oom = 1;
	return NULL;
}

static int family_rehash(struct metric_family *f)
{
	size_t nsize = f->hsize * 2;
	struct metric_series **n = calloc(nsize, sizeof(*n));

	if (!n)
		return -1;
	for (size_t i = 0; i < f->nseries; i++) {
		struct metric_series *s = f->series[i];
		const char *const *vals = (const char *const *)s->values;
		uint64_t h = s->overflow ? 0 : series_hash(f->name, vals, f->nlabels);

		s->hnext = n[h & (nsize - 1)];
		n[h & (nsize - 1)] = s;
	}
	free(f->htab);
	f->htab = n;
	f->hsize = nsize;
	return 0;
}

static int values_equal(const struct metric_series *s, const char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->values[i], values[i]))
			return 0;
	return 1;
}

static struct metric_series *series_new(struct metrics_registry *r, struct metric_family *f,
					const char *const *values, int overflow, uint64_t h)
{
	struct metric_series *s;

	if (f->nseries == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 16;
		struct metric_series **n = realloc(f->series, ncap * sizeof(*n));

		if (!n)
			goto oom;
		f->series = n;
		f->cap = ncap;
	}
	if (f->nseries * 2 >= f->hsize && family_rehash(f))
		goto oom;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto oom;
	s->overflow = overflow;
	for (size_t i = 0; i < f->nlabels; i++) {
		s->values[i] = strdup(overflow ? "" : values[i]);
		if (!s->values[i]) {
			series_free(s, i);
			goto oom;
		}
	}
	f->series[f->nseries++] = s;
	s->hnext = f->htab[h & (f->hsize - 1)];
	f->htab[h & (f->hsize - 1)] = s;
	return s;
oom:
	r->oom = 1;
	return NULL;
}

static struct metric_series *series_overflow(struct metrics_registry *r, struct metric_family *f,
					     const char *const *values)
{
	for (struct metric_series *s = f->htab[0]; s; s = s->hnext)
		if (s->overflow)
			return s;
	return series_new(r, f, values, 1, 0);
}

/* Find or create the series for values, through the guard. */
static struct metric_series *series_get(struct metrics_registry *r, struct metric_family *f,
					const char *const *values)
{
	uint64_t h;
	struct metric_series *s;

	if (!f)
		return NULL;
	for (size_t i = 0; i < f->nlabels; i++)
		if (!values[i])
			return NULL;
	h = series_hash(f->name, values, f->nlabels);
	for (s = f->htab[h & (f->hsize - 1)]; s; s = s->hnext)
		if (!s->overflow && values_equal(s, values, f->nlabels))
			return s;
	if (!r->guard || f->unguarded || guard_admit(r->guard, f->name, h, metrics_series_cost(f)))
		return series_new(r, f, values, 0, h);
	return series_overflow(r, f, values); /* refused: folded (hash 0) */
}

int metrics_hist_add_overflow(struct metrics_registry *r, struct metric_family *f,
			      const __u64 *counts, double sum)
{
	struct metric_series *s;

	if (!f || !f->bounds || !(s = series_overflow(r, f, NULL)))
		return -1;
	for (size_t i = 0; i <= f->nbounds; i++)
		s->slots[i] += counts[i];
	s->sum += sum;
	return 0;
}

int metrics_counter_add(struct metrics_registry *r, struct metric_family *f,
			const char *const *values, double v)
{
	struct metric_series *s = series_get(r, f, values);

	if (!s)
		return -1;
	s->value += v;
	return 0;
}

int metrics_gauge_set(struct metrics_registry *r, struct metric_family *f,
		      const char *const *values, double v)
{
	struct metric_series *s = series_get(r, f, values);

	if (!s)
		return -1;
	s->value = v;
	return 0;
}

int metrics_hist_add(struct metrics_registry *r, struct metric_family *f, const char *const *values,
		     const __u64 *slots, double sum_ns)
{
	struct metric_series *s = series_get(r, f, values);

	if (!s)
		return -1;
	hist_add(s->slots, slots);
	s->sum += sum_ns;
	return 0;
}

int metrics_hist_add_buckets(struct metrics_registry *r, struct metric_family *f,
			     const char *const *values, const __u64 *counts, double sum,
			     const struct metric_exemplar *ex)
{
	struct metric_series *s;

	if (!f || !f->bounds)
		return -1;
	s = series_get(r, f, values);
	if (!s)
		return -1;
	for (size_t i = 0; i <= f->nbounds; i++)
		s->slots[i] += counts[i];
	s->sum += sum;
	if (!ex)
		return 0;
	if (!s->ex && !(s->ex = calloc(f->nbounds + 1, sizeof(*s->ex)))) {
		r->oom = 1;
		return -1;
	}
	for (size_t i = 0; i <= f->nbounds; i++)
		if (ex[i].trace_id[0] && ex[i].timestamp >= s->ex[i].timestamp)
			s->ex[i] = ex[i];
	return 0;
}

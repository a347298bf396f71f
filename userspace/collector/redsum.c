#include "redsum.h"

#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "str.h"

#define REDSUM_ROWS 256 /* kept, the slowest in total (the rest are counted) */

struct redsum_row {
	char what[96];
	uint64_t count;
	double sum; /* seconds */
	char p50[16], p99[16];
};

struct redsum {
	struct redsum_row rows[REDSUM_ROWS];
	size_t n, more;
};

/* "http server", "db client": the family name's first two words. */
static size_t family_words(const char *name, char *out, size_t len)
{
	size_t at = 0;
	int words = 0;

	for (size_t i = 0; name[i] && at + 1 < len; i++) {
		if (name[i] == '_' && ++words == 2)
			break;
		out[at++] = name[i] == '_' ? ' ' : name[i];
	}
	out[at] = 0;
	return at;
}

/* The bound the share q of counts lies under ("<=1ms", ">10s"). */
static void quantile(const struct proto_family *f, const uint64_t *counts, uint64_t total, double q,
		     char *out, size_t len)
{
	uint64_t want = (uint64_t)((double)total * q + 0.999999), seen = 0;
	size_t b = 0;
	char t[24];

	for (; b < f->nbounds; b++)
		if ((seen += counts[b]) >= want)
			break;
	report_fmt_ns(t, sizeof(t),
		      (uint64_t)(f->bounds[b < f->nbounds ? b : f->nbounds - 1] * 1e9));
	str_append(out, len, str_copy(out, len, b < f->nbounds ? "" : ">"), t);
}

static void add_row(void *arg, const struct proto_family *f, const char *const *labels,
		    const uint64_t *counts, double sum)
{
	struct redsum *s = arg;
	struct redsum_row r = {.sum = sum};
	size_t at, min = 0;

	for (size_t b = 0; b <= f->nbounds; b++)
		r.count += counts[b];
	if (!r.count || !f->nbounds)
		return;
	at = family_words(f->name, r.what, sizeof(r.what));
	for (size_t i = 0; i < f->nlabels; i++) {
		const char *v = labels ? labels[i] : (i ? "" : "(other series)");
		if (!v[0])
			continue;
		at = str_append(r.what, sizeof(r.what), at, " ");
		at = str_append(r.what, sizeof(r.what), at, v);
	}
	quantile(f, counts, r.count, 0.5, r.p50, sizeof(r.p50));
	quantile(f, counts, r.count, 0.99, r.p99, sizeof(r.p99));
	if (s->n < REDSUM_ROWS) {
		s->rows[s->n++] = r;
		return;
	}
	for (size_t i = 1; i < s->n; i++) /* full: the row least in total gives way */
		if (s->rows[i].sum < s->rows[min].sum)
			min = i;
	s->more++;
	if (s->rows[min].sum < r.sum)
		s->rows[min] = r;
}

static int by_sum_desc(const void *a, const void *b)
{
	const struct redsum_row *x = a, *y = b;

	return x->sum < y->sum ? 1 : x->sum > y->sum ? -1 : 0;
}

void redsum_print(FILE *f, const struct redagg *a, unsigned top)
{
	struct redsum *s = calloc(1, sizeof(*s));
	char total[16], avg[16];

	if (!s)
		return;
	redagg_each(a, add_row, s);
	if (s->n) {
		qsort(s->rows, s->n, sizeof(s->rows[0]), by_sum_desc);
		fprintf(f,
			"\nrequests, calls and commands (by total time; P50/P99: the bucket bound "
			"they fall under):\n");
		fprintf(f, "  %-54s %8s %9s %9s %8s %8s\n", "WHAT", "COUNT", "TOTAL", "AVG",
			"P50<=", "P99<=");
		for (size_t i = 0; i < s->n && i < top; i++) {
			const struct redsum_row *r = &s->rows[i];
			report_fmt_ns(total, sizeof(total), (uint64_t)(r->sum * 1e9));
			report_fmt_ns(avg, sizeof(avg),
				      (uint64_t)(r->sum * 1e9 / (double)r->count));
			fprintf(f, "  %-54.54s %8llu %9s %9s %8s %8s\n", r->what,
				(unsigned long long)r->count, total, avg, r->p50, r->p99);
		}
		if (s->n + s->more > top)
			fprintf(f, "  (%zu more: /metrics has every series)\n",
				s->n + s->more - (top < s->n ? top : s->n));
	}
	free(s);
}

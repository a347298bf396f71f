#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "str.h"

enum prom_format prom_negotiate(const char *accept)
{
	/* Prometheus sends application/openmetrics-text first when it wants it. */
	if (accept && strstr(accept, "application/openmetrics-text"))
		return PROM_OPENMETRICS;
	return PROM_TEXT;
}

void prom_escape_label(struct sbuf *out, const char *v)
{
	while (*v) {
		size_t run = strcspn(v, "\\\"\n"); /* most values: one run, no escape */
		size_t ok = str_utf8_valid(v, run);

		sbuf_append(out, v, ok);
		if (ok < run) { /* not UTF-8: Prometheus would refuse the whole scrape */
			sbuf_puts(out, "?");
			v += ok + 1;
			continue;
		}
		v += run;
		if (!*v)
			break;
		sbuf_puts(out, *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : "\\n");
		v++;
	}
}

void prom_escape_help(struct sbuf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			sbuf_puts(out, "\\\\");
		else if (*v == '\n')
			sbuf_puts(out, "\\n");
		else
			sbuf_putc(out, *v);
	}
}

void prom_format_double(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "NaN");
	else if (isinf(v))
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else if (v == (double)(long long)v && fabs(v) < 1e15 && len >= 24) {
		/* counts: the common case, without printf */
		if (v < 0)
			*buf++ = '-';
		str_u64(buf, (uint64_t)fabs(v));
	} else if (v == (double)(long long)v && fabs(v) < 1e15)
		snprintf(buf, len, "%lld", (long long)v);
	else {
		/* The shortest representation that round-trips. 6 digits
		 * where they do (bounds, round figures); else 15 gives the
		 * same as 7 to 14 would (%g drops the trailing zeros, and a
		 * double's 15-digit rounding of a shorter exact form is that
		 * form); then 16, 17. Trying 7 to 14 in turn, each a printf
		 * and a strtod, was a tenth of a large scrape. */
		static const int precs[] = {6, 15, 16, 17};

		for (size_t i = 0; i < sizeof(precs) / sizeof(precs[0]); i++) {
			snprintf(buf, len, "%.*g", precs[i], v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
}

int prom_valid_name(const char *name, int label)
{
	if (!name || !*name)
		return 0;
	for (const char *p = name; *p; p++) {
		int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
			    (!label && *p == ':');
		int digit = *p >= '0' && *p <= '9';

		if (!alpha && !(digit && p != name))
			return 0;
	}
	return 1;
}

/* A series' labels, escaped, without braces: a="x",b="y" (made once per
 * series, written on each of its samples). */
static void series_labels(struct sbuf *lab, const struct metric_family *f,
			  const struct metric_series *s)
{
	sbuf_reset(lab);
	if (s->overflow) {
		sbuf_puts(lab, "otel_metric_overflow=\"true\"");
		return;
	}
	for (size_t i = 0; i < f->nlabels; i++) {
		if (i)
			sbuf_putc(lab, ',');
		sbuf_puts(lab, f->labels[i]);
		sbuf_puts(lab, "=\"");
		prom_escape_label(lab, s->values[i]);
		sbuf_putc(lab, '"');
	}
}

/* " # {trace_id="..",span_id=".."} VALUE TIMESTAMP" (OpenMetrics). */
static void put_exemplar(struct sbuf *out, const struct metric_exemplar *e)
{
	char num[64], ts[64];

	prom_format_double(num, sizeof(num), e->value);
	snprintf(ts, sizeof(ts), "%.3f", e->timestamp);
	sbuf_puts(out, " # {trace_id=\"");
	prom_escape_label(out, e->trace_id);
	if (e->span_id[0]) {
		sbuf_puts(out, "\",span_id=\"");
		prom_escape_label(out, e->span_id);
	}
	sbuf_printf(out, "\"} %s %s", num, ts);
}

/* NAME SUFFIX{LABELS[,EXTRA="VALUE"]} V [EXEMPLAR] */
static void put_sample_ex(struct sbuf *out, const char *name, const char *suffix,
			  const struct sbuf *lab, const char *extra_name, const char *extra_value,
			  double v, const struct metric_exemplar *ex)
{
	char num[64];

	prom_format_double(num, sizeof(num), v);
	sbuf_puts(out, name);
	sbuf_puts(out, suffix);
	if (lab->len || extra_name) {
		sbuf_putc(out, '{');
		sbuf_append(out, lab->buf, lab->len);
		if (extra_name) {
			if (lab->len)
				sbuf_putc(out, ',');
			sbuf_puts(out, extra_name);
			sbuf_puts(out, "=\"");
			sbuf_puts(out, extra_value);
			sbuf_putc(out, '"');
		}
		sbuf_putc(out, '}');
	}
	sbuf_putc(out, ' ');
	sbuf_puts(out, num);
	if (ex && ex->trace_id[0])
		put_exemplar(out, ex);
	sbuf_putc(out, '\n');
}

static void put_sample(struct sbuf *out, const char *name, const char *suffix,
		       const struct sbuf *lab, const char *extra_name, const char *extra_value,
		       double v)
{
	put_sample_ex(out, name, suffix, lab, extra_name, extra_value, v, NULL);
}

static void encode_family(struct sbuf *out, const struct metric_family *f, enum prom_format fmt)
{
	static const char *const tnames[] = {"counter", "gauge", "histogram"};
	char base[256];
	size_t n = strlen(f->name);

	if (!f->nseries)
		return;
	snprintf(base, sizeof(base), "%s", f->name);
	/* OpenMetrics names the counter family without _total. */
	if (fmt == PROM_OPENMETRICS && f->type == METRIC_COUNTER && n > 6 &&
	    !strcmp(f->name + n - 6, "_total"))
		base[n - 6] = '\0';

	sbuf_printf(out, "# HELP %s ", base);
	prom_escape_help(out, f->help);
	sbuf_printf(out, "\n# TYPE %s %s\n", base, tnames[f->type]);
	if (fmt == PROM_OPENMETRICS && f->unit)
		sbuf_printf(out, "# UNIT %s %s\n", base, f->unit);

	/* the bounds' le values, formatted once for every series */
	char les[HIST_EXPORT_BUCKETS > 64 ? HIST_EXPORT_BUCKETS : 64][32];
	size_t nle = 0;
	if (f->type == METRIC_HISTOGRAM && f->bounds)
		for (; nle < f->nbounds && nle < sizeof(les) / sizeof(les[0]); nle++)
			prom_format_double(les[nle], sizeof(les[0]), f->bounds[nle]);
	else if (f->type == METRIC_HISTOGRAM)
		for (; nle < HIST_EXPORT_BUCKETS; nle++)
			prom_format_double(les[nle], sizeof(les[0]),
					   (double)hist_slot_upper_ns(hist_export_slots[nle]) /
					       1e9);

	struct sbuf lab;
	sbuf_init(&lab);
	for (size_t i = 0; i < f->nseries; i++) {
		const struct metric_series *s = f->series[i];

		series_labels(&lab, f, s);
		if (f->type != METRIC_HISTOGRAM) {
			put_sample(out, base,
				   f->type == METRIC_COUNTER && strcmp(base, f->name) ? "_total"
										      : "",
				   &lab, NULL, NULL, s->value);
			continue;
		}
		uint64_t cum[HIST_EXPORT_BUCKETS];
		uint64_t total = hist_total(s->slots);

		if (f->bounds) {
			/* exemplars: OpenMetrics only (the 0.0.4 text format has none) */
			const struct metric_exemplar *ex = fmt == PROM_OPENMETRICS ? s->ex : NULL;
			uint64_t c = 0;
			for (size_t b = 0; b < nle; b++) {
				c += s->slots[b];
				put_sample_ex(out, base, "_bucket", &lab, "le", les[b], (double)c,
					      ex ? &ex[b] : NULL);
			}
			put_sample_ex(out, base, "_bucket", &lab, "le", "+Inf", (double)total,
				      ex ? &ex[f->nbounds] : NULL);
			put_sample(out, base, "_sum", &lab, NULL, NULL, s->sum);
			put_sample(out, base, "_count", &lab, NULL, NULL, (double)total);
			continue;
		}

		hist_cumulative(s->slots, cum);
		for (unsigned b = 0; b < HIST_EXPORT_BUCKETS; b++)
			put_sample(out, base, "_bucket", &lab, "le", les[b], (double)cum[b]);
		put_sample(out, base, "_bucket", &lab, "le", "+Inf", (double)total);
		put_sample(out, base, "_sum", &lab, NULL, NULL, s->sum / 1e9);
		put_sample(out, base, "_count", &lab, NULL, NULL, (double)total);
	}
	if (lab.oom)
		out->oom = 1;
	sbuf_free(&lab);
}

void prom_encode(struct sbuf *out, const struct metrics_registry *r, enum prom_format fmt)
{
	for (size_t i = 0; i < r->nfams; i++)
		encode_family(out, r->fams[i], fmt);
	if (fmt == PROM_OPENMETRICS)
		sbuf_puts(out, "# EOF\n");
}

#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum prom_format prom_negotiate(const char *accept)
{
	/* Prometheus sends application/openmetrics-text first when it wants it. */
	if (accept && strstr(accept, "application/openmetrics-text"))
		return PROM_OPENMETRICS;
	return PROM_TEXT;
}

void prom_escape_label(struct sbuf *out, const char *v)
{
	for (; *v; v++) {
		switch (*v) {
		case '\\':
			sbuf_puts(out, "\\\\");
			break;
		case '"':
			sbuf_puts(out, "\\\"");
			break;
		case '\n':
			sbuf_puts(out, "\\n");
			break;
		default:
			sbuf_putc(out, *v);
		}
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
	else if (v == (double)(long long)v && fabs(v) < 1e15)
		snprintf(buf, len, "%lld", (long long)v);
	else {
		/* Shortest representation that round-trips. */
		for (int prec = 6; prec <= 17; prec++) {
			snprintf(buf, len, "%.*g", prec, v);
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

/* {a="x",b="y"[,extra]} ; nothing when there are no labels at all. */
static void put_labels(struct sbuf *out, const struct metric_family *f,
		       const struct metric_series *s, const char *extra_name,
		       const char *extra_value)
{
	int first = 1;

	if (s->overflow) {
		sbuf_puts(out, "{otel_metric_overflow=\"true\"");
		first = 0;
	} else {
		for (size_t i = 0; i < f->nlabels; i++) {
			sbuf_putc(out, first ? '{' : ',');
			first = 0;
			sbuf_printf(out, "%s=\"", f->labels[i]);
			prom_escape_label(out, s->values[i]);
			sbuf_putc(out, '"');
		}
	}
	if (extra_name) {
		sbuf_putc(out, first ? '{' : ',');
		first = 0;
		sbuf_printf(out, "%s=\"%s\"", extra_name, extra_value);
	}
	if (!first)
		sbuf_putc(out, '}');
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

static void put_sample_ex(struct sbuf *out, const char *name, const char *suffix,
			  const struct metric_family *f, const struct metric_series *s,
			  const char *extra_name, const char *extra_value, double v,
			  const struct metric_exemplar *ex)
{
	char num[64];

	prom_format_double(num, sizeof(num), v);
	sbuf_printf(out, "%s%s", name, suffix);
	put_labels(out, f, s, extra_name, extra_value);
	sbuf_printf(out, " %s", num);
	if (ex && ex->trace_id[0])
		put_exemplar(out, ex);
	sbuf_putc(out, '\n');
}

static void put_sample(struct sbuf *out, const char *name, const char *suffix,
		       const struct metric_family *f, const struct metric_series *s,
		       const char *extra_name, const char *extra_value, double v)
{
	put_sample_ex(out, name, suffix, f, s, extra_name, extra_value, v, NULL);
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

	for (size_t i = 0; i < f->nseries; i++) {
		const struct metric_series *s = f->series[i];

		if (f->type != METRIC_HISTOGRAM) {
			put_sample(out, base,
				   f->type == METRIC_COUNTER && strcmp(base, f->name) ? "_total"
										      : "",
				   f, s, NULL, NULL, s->value);
			continue;
		}
		uint64_t cum[HIST_EXPORT_BUCKETS];
		uint64_t total = hist_total(s->slots);
		char le[64];

		if (f->bounds) {
			/* exemplars: OpenMetrics only (the 0.0.4 text format has none) */
			const struct metric_exemplar *ex = fmt == PROM_OPENMETRICS ? s->ex : NULL;
			uint64_t c = 0;
			for (size_t b = 0; b < f->nbounds; b++) {
				c += s->slots[b];
				prom_format_double(le, sizeof(le), f->bounds[b]);
				put_sample_ex(out, base, "_bucket", f, s, "le", le, (double)c,
					      ex ? &ex[b] : NULL);
			}
			put_sample_ex(out, base, "_bucket", f, s, "le", "+Inf", (double)total,
				      ex ? &ex[f->nbounds] : NULL);
			put_sample(out, base, "_sum", f, s, NULL, NULL, s->sum);
			put_sample(out, base, "_count", f, s, NULL, NULL, (double)total);
			continue;
		}

		hist_cumulative(s->slots, cum);
		for (unsigned b = 0; b < HIST_EXPORT_BUCKETS; b++) {
			prom_format_double(le, sizeof(le),
					   (double)hist_slot_upper_ns(hist_export_slots[b]) / 1e9);
			put_sample(out, base, "_bucket", f, s, "le", le, (double)cum[b]);
		}
		put_sample(out, base, "_bucket", f, s, "le", "+Inf", (double)total);
		put_sample(out, base, "_sum", f, s, NULL, NULL, s->sum / 1e9);
		put_sample(out, base, "_count", f, s, NULL, NULL, (double)total);
	}
}

void prom_encode(struct sbuf *out, const struct metrics_registry *r, enum prom_format fmt)
{
	for (size_t i = 0; i < r->nfams; i++)
		encode_family(out, r->fams[i], fmt);
	if (fmt == PROM_OPENMETRICS)
		sbuf_puts(out, "# EOF\n");
}

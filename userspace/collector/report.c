#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "devname.h"
#include "hist.h"
#include "syscalls.h"

void report_fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns == UINT64_MAX)
		snprintf(buf, len, "inf");
	else if (ns < 1000)
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
	else if (ns < 10000)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 1000000)
		snprintf(buf, len, "%.0fus", ns / 1e3);
	else if (ns < 10000000)
		snprintf(buf, len, "%.1fms", ns / 1e6);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.0fms", ns / 1e6);
	else
		snprintf(buf, len, "%.1fs", ns / 1e9);
}

void report_hist(FILE *f, const char *title, const __u64 *slots)
{
	int lo = -1, hi = hist_max_slot(slots);
	uint64_t max = 0;

	if (hi < 0)
		return;
	for (int i = 0; i <= hi; i++) {
		if (slots[i] && lo < 0)
			lo = i;
		if (slots[i] > max)
			max = slots[i];
	}
	fprintf(f, "\n%s\n", title);
	fprintf(f, "%20s : %-10s %s\n", "latency", "count", "distribution");
	for (int i = lo; i <= hi; i++) {
		char a[16], b[16], stars[41];
		int n = max ? (int)((slots[i] * 40 + max - 1) / max) : 0;

		report_fmt_ns(a, sizeof(a), i ? hist_slot_upper_ns((unsigned)i - 1) : 0);
		report_fmt_ns(b, sizeof(b), hist_slot_upper_ns((unsigned)i));
		memset(stars, '*', (size_t)n);
		stars[n] = '\0';
		fprintf(f, "%8s -> %-8s : %-10llu |%-40s|\n", a, b, (unsigned long long)slots[i],
			stars);
	}
}

/* One row of the table: a histogram merged over slots. */
struct row {
	uint16_t kind, op;
	uint32_t id;
	struct obs_hist h;
};

static int same(const struct row *r, const struct obs_hist_key *k)
{
	return r->kind == k->kind && r->op == k->op && r->id == k->id;
}

static size_t merge_rows(const struct obs_snapshot *s, struct row **out)
{
	struct row *rows = calloc(s->nhists ? s->nhists : 1, sizeof(*rows));
	size_t n = 0;

	if (!rows) {
		*out = NULL;
		return 0;
	}
	for (size_t i = 0; i < s->nhists; i++) {
		const struct snap_hist *h = &s->hists[i];
		size_t j;

		for (j = 0; j < n && !same(&rows[j], &h->key); j++)
			;
		if (j == n) {
			rows[n].kind = h->key.kind;
			rows[n].op = h->key.op;
			rows[n].id = h->key.id;
			n++;
		}
		hist_add(rows[j].h.slots, h->h.slots);
		rows[j].h.sum_ns += h->h.sum_ns;
		rows[j].h.bytes += h->h.bytes;
	}
	*out = rows;
	return n;
}

static void row_name(const struct row *r, char *buf, size_t len)
{
	char dev[32];
	const char *sc;

	switch (r->kind) {
	case OBS_H_SYSCALL:
		sc = syscall_name(r->id);
		if (sc)
			snprintf(buf, len, "syscall %s", sc);
		else
			snprintf(buf, len, "syscall %u", r->id);
		break;
	case OBS_H_DISK:
		devname_lookup(r->id, dev, sizeof(dev));
		snprintf(buf, len, "disk %s %s", dev, devname_disk_op(r->op));
		break;
	case OBS_H_TCP_CONNECT:
		snprintf(buf, len, "tcp connect");
		break;
	case OBS_H_RUNQ:
		snprintf(buf, len, "run queue");
		break;
	default:
		snprintf(buf, len, "kind %u", r->kind);
	}
}

static int by_p99_desc(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	uint64_t px = hist_quantile_ns(x->h.slots, 0.99), py = hist_quantile_ns(y->h.slots, 0.99);

	if (px != py)
		return px < py ? 1 : -1;
	return x->h.sum_ns < y->h.sum_ns ? 1 : (x->h.sum_ns > y->h.sum_ns ? -1 : 0);
}

static int by_total_desc(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->h.sum_ns < y->h.sum_ns ? 1 : (x->h.sum_ns > y->h.sum_ns ? -1 : 0);
}

static void print_table(FILE *f, struct row *rows, size_t n, unsigned top, const char *title)
{
	fprintf(f, "\n%s\n", title);
	fprintf(f, "  %-28s %10s %9s %9s %9s %9s %9s\n", "WHAT", "COUNT", "TOTAL", "AVG", "P50",
		"P99", "MAX<=");
	for (size_t i = 0; i < n && i < top; i++) {
		uint64_t cnt = hist_total(rows[i].h.slots);
		char name[64], tot[16], avg[16], p50[16], p99[16], mx[16];

		if (!cnt)
			continue;
		row_name(&rows[i], name, sizeof(name));
		report_fmt_ns(tot, sizeof(tot), rows[i].h.sum_ns);
		report_fmt_ns(avg, sizeof(avg), rows[i].h.sum_ns / cnt);
		report_fmt_ns(p50, sizeof(p50), hist_quantile_ns(rows[i].h.slots, 0.5));
		report_fmt_ns(p99, sizeof(p99), hist_quantile_ns(rows[i].h.slots, 0.99));
		report_fmt_ns(mx, sizeof(mx),
			      hist_slot_upper_ns((unsigned)hist_max_slot(rows[i].h.slots)));
		fprintf(f, "  %-28s %10llu %9s %9s %9s %9s %9s\n", name, (unsigned long long)cnt,
			tot, avg, p50, p99, mx);
	}
}

static void merged_kind(const struct row *rows, size_t n, uint16_t kind, __u64 *slots)
{
	memset(slots, 0, sizeof(uint64_t) * OBS_HIST_SLOTS);
	for (size_t i = 0; i < n; i++)
		if (rows[i].kind == kind)
			hist_add(slots, rows[i].h.slots);
}

static void sum_counters(const struct obs_snapshot *s, struct obs_counters *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < OBS_MAX_SLOTS; i++) {
		const __u64 *src = (const __u64 *)&s->counters[i];
		__u64 *d = (__u64 *)t;

		for (size_t j = 0; j < sizeof(*t) / sizeof(__u64); j++)
			d[j] += src[j];
	}
}

static void print_tcp(FILE *f, const struct obs_snapshot *s)
{
	struct obs_counters t;

	sum_counters(s, &t);
	fprintf(
	    f,
	    "\ntcp: %llu inbound, %llu outbound connections, %llu connect errors, "
	    "%llu retransmits, %llu/%llu resets sent/received, %llu bytes sent, %llu received\n",
	    (unsigned long long)t.tcp_conn_in, (unsigned long long)t.tcp_conn_out,
	    (unsigned long long)t.tcp_connect_fail, (unsigned long long)t.tcp_retrans,
	    (unsigned long long)t.tcp_rst_sent, (unsigned long long)t.tcp_rst_recv,
	    (unsigned long long)t.tcp_bytes_sent, (unsigned long long)t.tcp_bytes_recv);
}

void report_triage(FILE *f, const struct obs_snapshot *s, unsigned top)
{
	__u64 slots[OBS_HIST_SLOTS];
	struct row *rows;
	size_t n = merge_rows(s, &rows);
	char title[96];

	if (!n) {
		fprintf(f, "\nno events recorded\n");
		free(rows);
		return;
	}
	merged_kind(rows, n, OBS_H_SYSCALL, slots);
	report_hist(f, "syscall latency (all syscalls)", slots);
	for (size_t i = 0; i < n; i++) {
		if (rows[i].kind != OBS_H_DISK)
			continue;
		row_name(&rows[i], title, sizeof(title));
		strncat(title, " latency", sizeof(title) - strlen(title) - 1);
		report_hist(f, title, rows[i].h.slots);
	}
	merged_kind(rows, n, OBS_H_TCP_CONNECT, slots);
	report_hist(f, "tcp connect latency", slots);
	merged_kind(rows, n, OBS_H_RUNQ, slots);
	report_hist(f, "run queue latency", slots);
	print_tcp(f, s);
	qsort(rows, n, sizeof(*rows), by_p99_desc);
	print_table(f, rows, n, top, "slowest first (by p99):");
	free(rows);
}

void report_summary(FILE *f, const struct obs_snapshot *s, unsigned top)
{
	struct row *rows;
	size_t n = merge_rows(s, &rows);

	if (!n) {
		fprintf(f, "no events recorded\n");
		free(rows);
		return;
	}
	qsort(rows, n, sizeof(*rows), by_total_desc);
	print_table(f, rows, n, top, "where the time went (by total time):");
	print_tcp(f, s);
	free(rows);
}

void report_subtract(struct obs_snapshot *s, const struct obs_snapshot *prev)
{
	for (size_t i = 0; i < s->nhists; i++) {
		struct snap_hist *h = &s->hists[i];

		for (size_t j = 0; j < prev->nhists; j++) {
			const struct snap_hist *p = &prev->hists[j];

			if (memcmp(&h->key, &p->key, sizeof(h->key)))
				continue;
			for (int k = 0; k < OBS_HIST_SLOTS; k++)
				h->h.slots[k] -= p->h.slots[k];
			h->h.sum_ns -= p->h.sum_ns;
			h->h.bytes -= p->h.bytes;
			break;
		}
	}
	for (int i = 0; i < OBS_MAX_SLOTS; i++) {
		__u64 *d = (__u64 *)&s->counters[i];
		const __u64 *src = (const __u64 *)&prev->counters[i];

		for (size_t j = 0; j < sizeof(struct obs_counters) / sizeof(__u64); j++)
			d[j] -= src[j];
	}
}

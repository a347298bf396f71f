#include "render.h"

#include <stdio.h>
#include <string.h>

#include "devname.h"
#include "monotime.h"
#include "prom_http.h"
#include "selfstat.h"
#include "spans.h"
#include "syscalls.h"

#include "version.h"

static const char *const drop_names[OBS_DROP_COUNT] = {
    "histogram_map_full", "process_table_full", "syscall_table_full", "runqueue_table_full",
    "disk_table_full",	  "tcp_table_full",	"ringbuf_full",	      "capture_full"};

/* Label values of a slot: service [, container_id, pod_uid]. */
struct slot_vals {
	struct slot_labels l;
	const char *v[3];
	size_t n;
};

static int slot_vals(struct obs_app *a, uint32_t slot, struct slot_vals *sv)
{
	if (slots_lookup(a->slots, slot, &sv->l))
		return -1;
	sv->v[0] = sv->l.service;
	sv->v[1] = sv->l.container_id;
	sv->v[2] = sv->l.pod_uid;
	sv->n = slots_container_labels(a->slots) ? 3 : 1;
	return 0;
}

/* Label names: the metric's own, then the slot's. */
static struct metric_family *family(struct metrics_registry *r, struct obs_app *a, const char *name,
				    const char *help, const char *unit, enum metric_type t,
				    const char *const *own, size_t nown)
{
	const char *names[METRICS_MAX_LABELS];
	size_t n = 0;

	for (size_t i = 0; i < nown; i++)
		names[n++] = own[i];
	names[n++] = "service";
	if (slots_container_labels(a->slots)) {
		names[n++] = "container_id";
		names[n++] = "pod_uid";
	}
	return metrics_family(r, name, help, unit, t, names, n);
}

/* own label values followed by the slot's. */
static size_t join(const char **out, const char *const *own, size_t nown,
		   const struct slot_vals *sv)
{
	size_t n = 0;

	for (size_t i = 0; i < nown; i++)
		out[n++] = own[i];
	for (size_t i = 0; i < sv->n; i++)
		out[n++] = sv->v[i];
	return n;
}

static void render_hists(struct obs_app *a, const struct obs_snapshot *s,
			 struct metrics_registry *r)
{
	static const char *const l_sys[] = {"syscall"};
	static const char *const l_disk[] = {"device", "op"};
	struct metric_family *f_sys =
	    family(r, a, "obs_syscall_duration_seconds",
		   "Time from syscall entry to exit, per syscall (raw_syscalls tracepoints).",
		   "seconds", METRIC_HISTOGRAM, l_sys, 1);
	struct metric_family *f_disk = family(r, a, "obs_disk_io_duration_seconds",
					      "Block request latency from issue to completion.",
					      "seconds", METRIC_HISTOGRAM, l_disk, 2);
	struct metric_family *f_diskb =
	    family(r, a, "obs_disk_io_bytes_total", "Bytes completed by block requests.", "bytes",
		   METRIC_COUNTER, l_disk, 2);
	struct metric_family *f_conn =
	    family(r, a, "obs_tcp_connect_duration_seconds",
		   "Outbound TCP connect latency, SYN sent to established.", "seconds",
		   METRIC_HISTOGRAM, NULL, 0);
	struct metric_family *f_runq =
	    family(r, a, "obs_runqueue_latency_seconds",
		   "Time tasks spent runnable, waiting for a CPU (wakeup or preemption to on-CPU).",
		   "seconds", METRIC_HISTOGRAM, NULL, 0);

	for (size_t i = 0; i < s->nhists; i++) {
		const struct snap_hist *h = &s->hists[i];
		const char *vals[METRICS_MAX_LABELS];
		struct slot_vals sv;
		char nrbuf[16], dev[32];

		if (slot_vals(a, h->key.slot, &sv))
			continue;
		switch (h->key.kind) {
		case OBS_H_SYSCALL: {
			const char *name = syscall_name(h->key.id);
			const char *own[1];

			if (!name) {
				snprintf(nrbuf, sizeof(nrbuf), "syscall_%u", h->key.id);
				name = nrbuf;
			}
			own[0] = name;
			join(vals, own, 1, &sv);
			metrics_hist_add(r, f_sys, vals, h->h.slots, (double)h->h.sum_ns);
			break;
		}
		case OBS_H_DISK: {
			const char *own[2];

			devname_lookup(h->key.id, dev, sizeof(dev));
			own[0] = dev;
			own[1] = devname_disk_op(h->key.op);
			join(vals, own, 2, &sv);
			metrics_hist_add(r, f_disk, vals, h->h.slots, (double)h->h.sum_ns);
			metrics_counter_add(r, f_diskb, vals, (double)h->h.bytes);
			break;
		}
		case OBS_H_TCP_CONNECT:
			join(vals, NULL, 0, &sv);
			metrics_hist_add(r, f_conn, vals, h->h.slots, (double)h->h.sum_ns);
			break;
		case OBS_H_RUNQ:
			join(vals, NULL, 0, &sv);
			metrics_hist_add(r, f_runq, vals, h->h.slots, (double)h->h.sum_ns);
			break;
		}
	}
}

static void render_counters(struct obs_app *a, const struct obs_snapshot *s,
			    struct metrics_registry *r)
{
	static const char *const l_dir[] = {"direction"};
	struct metric_family *f_conns =
	    family(r, a, "obs_tcp_connections_total", "TCP connections established, by direction.",
		   NULL, METRIC_COUNTER, l_dir, 1);
	struct metric_family *f_fail =
	    family(r, a, "obs_tcp_connect_errors_total", "Outbound TCP connects that failed.", NULL,
		   METRIC_COUNTER, NULL, 0);
	struct metric_family *f_retr =
	    family(r, a, "obs_tcp_retransmits_total", "TCP segments retransmitted.", NULL,
		   METRIC_COUNTER, NULL, 0);
	struct metric_family *f_rst =
	    family(r, a, "obs_tcp_resets_total", "TCP resets sent and received.", NULL,
		   METRIC_COUNTER, l_dir, 1);
	struct metric_family *f_tx =
	    family(r, a, "obs_tcp_sent_bytes_total", "Bytes written to TCP sockets.", "bytes",
		   METRIC_COUNTER, NULL, 0);
	struct metric_family *f_rx =
	    family(r, a, "obs_tcp_received_bytes_total", "Bytes read from TCP sockets.", "bytes",
		   METRIC_COUNTER, NULL, 0);

	for (uint32_t slot = 0; slot < OBS_MAX_SLOTS; slot++) {
		const struct obs_counters *c = &s->counters[slot];
		const char *vals[METRICS_MAX_LABELS];
		const char *own[1];
		struct slot_vals sv;

		if (slot_vals(a, slot, &sv))
			continue;
		/* Only slots that saw TCP traffic; zero series are noise. */
		if (!(c->tcp_conn_in | c->tcp_conn_out | c->tcp_connect_fail | c->tcp_retrans |
		      c->tcp_rst_sent | c->tcp_rst_recv | c->tcp_bytes_sent | c->tcp_bytes_recv))
			continue;
		own[0] = "inbound";
		join(vals, own, 1, &sv);
		metrics_counter_add(r, f_conns, vals, (double)c->tcp_conn_in);
		own[0] = "outbound";
		join(vals, own, 1, &sv);
		metrics_counter_add(r, f_conns, vals, (double)c->tcp_conn_out);
		own[0] = "sent";
		join(vals, own, 1, &sv);
		metrics_counter_add(r, f_rst, vals, (double)c->tcp_rst_sent);
		own[0] = "received";
		join(vals, own, 1, &sv);
		metrics_counter_add(r, f_rst, vals, (double)c->tcp_rst_recv);
		join(vals, NULL, 0, &sv);
		metrics_counter_add(r, f_fail, vals, (double)c->tcp_connect_fail);
		metrics_counter_add(r, f_retr, vals, (double)c->tcp_retrans);
		metrics_counter_add(r, f_tx, vals, (double)c->tcp_bytes_sent);
		metrics_counter_add(r, f_rx, vals, (double)c->tcp_bytes_recv);
	}
}

static struct metric_family *self_family(struct metrics_registry *r, const char *name,
					 const char *help, const char *unit, enum metric_type t,
					 const char *label)
{
	const char *labels[1] = {label};
	struct metric_family *f = metrics_family(r, name, help, unit, t, labels, label ? 1 : 0);

	if (f)
		f->unguarded = 1;
	return f;
}

static void render_self(struct obs_app *a, const struct obs_snapshot *s, struct metrics_registry *r)
{
	struct metric_family *f;
	const char *v[1];
	uint64_t count;
	const char *name;
	long long not_after;

	f = self_family(r, "obs_events_dropped_total",
			"Kernel events obs could not record, by reason.", NULL, METRIC_COUNTER,
			"reason");
	for (int i = 0; i < OBS_DROP_COUNT; i++) {
		v[0] = drop_names[i];
		metrics_counter_add(r, f, v, (double)s->drops[i]);
	}
	f = self_family(r, "obs_bpf_program_misses_total",
			"Runs of a BPF program the kernel skipped because it was already "
			"running on that CPU (events lost with no map full).",
			NULL, METRIC_COUNTER, "program");
	for (size_t i = 0; i < s->nprogs; i++) {
		v[0] = s->progs[i].name;
		metrics_counter_add(r, f, v, (double)s->progs[i].misses);
	}
	f = self_family(r, "obs_ringbuf_pending_bytes",
			"Process-event ring buffer bytes not yet consumed (lag).", "bytes",
			METRIC_GAUGE, NULL);
	metrics_gauge_set(r, f, v, (double)s->ringbuf_pending);
	f = self_family(r, "obs_ringbuf_events_total", "Process events consumed.", NULL,
			METRIC_COUNTER, NULL);
	metrics_counter_add(r, f, v, (double)s->events_seen);
	f = self_family(r, "obs_disk_io_end_unseen_total",
			"Followed block requests whose end the completion program did not "
			"see: counted, their latency lost.",
			NULL, METRIC_COUNTER, NULL);
	metrics_counter_add(r, f, v, (double)s->disk_unseen);
	if (s->inject_on) {
		static const char *const inj_names[OBS_INJ_STATS] = {
		    [OBS_INJ_INJECTED] = "injected",	   [OBS_INJ_NO_REQUEST] = "no_request",
		    [OBS_INJ_NOT_WHOLE] = "not_whole",	   [OBS_INJ_NOT_HEAD] = "not_head",
		    [OBS_INJ_APP_CONTEXT] = "app_context", [OBS_INJ_FAILED] = "failed"};

		f = self_family(r, "obs_go_inject_total",
				"Go programs' outgoing net/http calls (--go-inject), by what "
				"became of their context: injected, or why not.",
				NULL, METRIC_COUNTER, "result");
		for (int i = 0; i < OBS_INJ_STATS; i++) {
			v[0] = inj_names[i];
			metrics_counter_add(r, f, v, (double)s->inject[i]);
		}
	}
	f = self_family(r, "obs_bpf_map_entries", "Entries in each BPF map.", NULL, METRIC_GAUGE,
			"map");
	for (size_t i = 0; i < s->nfill; i++) {
		v[0] = s->fill[i].name;
		metrics_gauge_set(r, f, v, s->fill[i].used);
	}
	f = self_family(r, "obs_bpf_map_capacity", "Maximum entries of each BPF map.", NULL,
			METRIC_GAUGE, "map");
	for (size_t i = 0; i < s->nfill; i++) {
		v[0] = s->fill[i].name;
		metrics_gauge_set(r, f, v, s->fill[i].max);
	}
	f = self_family(r, "obs_scrape_duration_seconds",
			"Time the previous /metrics request took to render.", "seconds",
			METRIC_GAUGE, NULL);
	metrics_gauge_set(r, f, v, a->last_scrape_seconds);
	f = self_family(r, "obs_process_cpu_seconds_total", "CPU time used by obs itself.",
			"seconds", METRIC_COUNTER, NULL);
	metrics_counter_add(r, f, v, selfstat_cpu_seconds());
	f = self_family(r, "obs_process_resident_memory_bytes",
			"Resident memory of the obs process.", "bytes", METRIC_GAUGE, NULL);
	metrics_gauge_set(r, f, v, (double)selfstat_rss_bytes());
	f = self_family(r, "obs_series_overflow_total",
			"Label sets refused by the cardinality guard, by metric (their data "
			"goes to the otel_metric_overflow series).",
			NULL, METRIC_COUNTER, "metric");
	for (size_t i = 0; (name = card_guard_overflow_at(a->guard, i, &count)); i++) {
		v[0] = name;
		metrics_counter_add(r, f, v, (double)count);
	}
	f = self_family(r, "obs_series_expired_total",
			"Series removed because their service had no live process for "
			"cardinality.stale_after (the agent).",
			NULL, METRIC_COUNTER, NULL);
	metrics_counter_add(r, f, v, (double)__atomic_load_n(&a->series_expired, __ATOMIC_RELAXED));
	f = self_family(r, "obs_series", "Samples admitted by the cardinality guard.", NULL,
			METRIC_GAUGE, NULL);
	metrics_gauge_set(r, f, v, (double)card_guard_used(a->guard));
	f = self_family(r, "obs_series_limit", "Cardinality guard limit, in samples.", NULL,
			METRIC_GAUGE, NULL);
	metrics_gauge_set(r, f, v, (double)card_guard_limit(a->guard));
	f = self_family(
	    r, "obs_ready",
	    "1 when obs is ready (BPF attached, events drained in time), as /readyz says.", NULL,
	    METRIC_GAUGE, NULL);
	{
		char why[128];
		metrics_gauge_set(r, f, v, render_ready(a, why, sizeof(why)));
	}
	f = self_family(r, "obs_metrics_unauthorized_requests_total",
			"Requests for the metrics refused for missing or wrong credentials (401).",
			NULL, METRIC_COUNTER, NULL);
	metrics_counter_add(r, f, v, (double)http_server_unauthorized(a->http));
	/* HTTPS only: the served certificate and how its renewals went */
	if ((not_after = http_server_tls_not_after(a->http))) {
		f = self_family(r, "obs_tls_certificate_not_after_timestamp_seconds",
				"Expiry of the TLS certificate the metrics endpoint serves (it "
				"moves when a renewed one is picked up).",
				"seconds", METRIC_GAUGE, NULL);
		metrics_gauge_set(r, f, v, (double)not_after);
		f = self_family(r, "obs_tls_reloads_total",
				"Changed TLS certificate files picked up (applied) or refused "
				"(failed: the running certificate stays).",
				NULL, METRIC_COUNTER, "result");
		v[0] = "applied";
		metrics_counter_add(r, f, v,
				    (double)__atomic_load_n(&a->tls_reloads[0], __ATOMIC_RELAXED));
		v[0] = "failed";
		metrics_counter_add(r, f, v,
				    (double)__atomic_load_n(&a->tls_reloads[1], __ATOMIC_RELAXED));
	}
	f = self_family(r, "obs_build_info", "obs version.", NULL, METRIC_GAUGE, "version");
	v[0] = OBS_VERSION;
	metrics_gauge_set(r, f, v, 1);
}

void render_registry(struct obs_app *a, const struct obs_snapshot *s, struct metrics_registry *r)
{
	render_hists(a, s, r);
	render_counters(a, s, r);
	render_self(a, s, r);
	if (a->spans)
		spans_render(a->spans, r);
}

int render_metrics(void *ctx, enum prom_format fmt, struct sbuf *out)
{
	struct obs_app *a = ctx;
	struct metrics_registry r;
	struct obs_snapshot s;
	uint64_t t0 = monotime_ns();
	int rc = -1;

	pthread_mutex_lock(&a->lock);
	if (!a->col) {
		/* Not attached yet: only obs's own metrics. */
		memset(&s, 0, sizeof(s));
	} else if (collector_snapshot(a->col, &s)) {
		goto out;
	}
	metrics_init(&r, a->guard);
	render_registry(a, &s, &r);
	prom_encode(out, &r, fmt);
	rc = r.oom ? -1 : 0;
	metrics_free(&r);
	snapshot_free(&s);
	a->scrapes++;
	a->last_scrape_seconds = (double)(monotime_ns() - t0) / 1e9;
out:
	pthread_mutex_unlock(&a->lock);
	return rc;
}

int render_ready(void *ctx, char *reason, size_t len)
{
	struct obs_app *a = ctx;
	uint64_t now = monotime_ns(), ready, drained;

	ready = __atomic_load_n(&a->ready_ns, __ATOMIC_ACQUIRE);
	drained = __atomic_load_n(&a->last_drain_ns, __ATOMIC_RELAXED);
	if (!ready) {
		snprintf(reason, len, "BPF programs are not loaded and attached yet");
		return 0;
	}
	if (now > drained && now - drained > __atomic_load_n(&a->stall_ns, __ATOMIC_RELAXED)) {
		snprintf(reason, len, "the event ring buffer has not been drained for %.0f s",
			 (double)(now - drained) / 1e9);
		return 0;
	}
	return 1;
}

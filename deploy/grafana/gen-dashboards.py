#!/usr/bin/env python3
"""Write obs's Grafana dashboards (JSON model, schemaVersion 38: Grafana 9.5
and later) into this directory:

  obs-service.json  RED for a service: rate, errors, duration heat map,
                    percentiles, per-route and per-RPC tables, SLO burn
  obs-node.json     the kernel view: syscall, disk, TCP connect and
                    run-queue latency heat maps, top syscalls, TCP health
  obs-self.json     obs's own health: readiness, drops, export, series,
                    BPF maps, scrape time, CPU and memory

Every panel reads the data source chosen in the $datasource variable.

  gen-dashboards.py --write   rewrite the JSON files
  gen-dashboards.py --check   exit 1 if a JSON file is not what this writes
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}

HTTP_ERR = 'http_response_status_code=~"5..|"'
RPC_ERR = 'rpc_grpc_status_code=~"2|4|12|13|14|15|"'


class Board:
    def __init__(self, uid, title, description):
        self.uid, self.title, self.description = uid, title, description
        self.panels, self.vars = [], [datasource_var()]
        self.x = self.y = self.row_h = 0

    def var(self, name, label, metric, label_name, where=""):
        q = f"label_values({metric}{where}, {label_name})"
        self.vars.append({
            "name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": q, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": q, "refresh": 2, "includeAll": True, "multi": True,
            "allValue": ".*", "sort": 1, "current": {},
        })

    def row(self, title):
        self.newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                            "id": len(self.panels) + 1, "panels": []})
        self.y += 1

    def newline(self):
        if self.x:
            self.y += self.row_h
            self.x = self.row_h = 0

    def add(self, panel, w=12, h=8):
        if self.x + w > 24:
            self.newline()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        panel["id"] = len(self.panels) + 1
        panel["datasource"] = DS
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)

    def json(self):
        return {
            "uid": self.uid, "title": self.title, "description": self.description,
            "tags": ["obs"], "timezone": "browser", "editable": True,
            "schemaVersion": 38, "version": 1, "refresh": "30s",
            "time": {"from": "now-1h", "to": "now"},
            "graphTooltip": 1,
            "templating": {"list": self.vars},
            "annotations": {"list": []},
            "panels": self.panels,
        }


def datasource_var():
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1}


def target(expr, legend="", ref="A", instant=False, fmt=None):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref,
         "range": not instant, "instant": instant}
    if fmt:
        t["format"] = fmt
    return t


def timeseries(title, description, targets, unit, stack=False, max_=None):
    defaults = {"unit": unit, "custom": {"fillOpacity": 10, "lineWidth": 1,
                                          "stacking": {"mode": "normal" if stack else "none"}}}
    if max_ is not None:
        defaults["max"] = max_
    return {"type": "timeseries", "title": title, "description": description,
            "targets": targets, "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "right",
                                   "calcs": ["mean", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def heatmap(title, description, metric, where):
    expr = f"sum by (le) (increase({metric}_bucket{{{where}}}[$__rate_interval]))"
    return {"type": "heatmap", "title": title, "description": description,
            "targets": [target(expr, "{{le}}", fmt="heatmap")],
            "options": {"calculate": False, "yAxis": {"unit": "s", "axisPlacement": "left"},
                        "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges",
                                                "exponent": 0.5, "steps": 64},
                        "rowsFrame": {"layout": "auto"},
                        "tooltip": {"show": True, "yHistogram": True},
                        "exemplars": {"color": "rgba(31,120,193,0.7)"}},
            "fieldConfig": {"defaults": {"custom": {"scaleDistribution": {"type": "linear"}}},
                            "overrides": []}}


def stat(title, description, expr, unit, thresholds=None):
    steps = thresholds or [{"color": "green", "value": None}]
    return {"type": "stat", "title": title, "description": description,
            "targets": [target(expr, instant=True)],
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute",
                                                                      "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background"}}


def table(title, description, columns, by, hide=()):
    """columns: (header, expr, unit): instant queries joined on the `by` labels."""
    targets, overrides = [], []
    for i, (header, expr, unit) in enumerate(columns):
        ref = chr(ord("A") + i)
        targets.append(target(expr, ref=ref, instant=True, fmt="table"))
        overrides.append({"matcher": {"id": "byName", "options": f"Value #{ref}"},
                          "properties": [{"id": "displayName", "value": header},
                                         {"id": "unit", "value": unit}]})
    excluded = {"Time": True}
    excluded.update({h: True for h in hide})
    return {"type": "table", "title": title, "description": description, "targets": targets,
            "transformations": [{"id": "merge", "options": {}},
                                {"id": "organize", "options": {"excludeByName": excluded}}],
            "fieldConfig": {"defaults": {}, "overrides": overrides},
            "options": {"showHeader": True,
                        "sortBy": [{"displayName": columns[0][0], "desc": True}]}}


def red_table(title, description, metric, sel, err, by, rate_header, h):
    """Per `by` key: rate, error ratio and p99 over the dashboard's range."""
    def rate(extra=""):
        return f"sum by ({by}) (rate({metric}_count{{{sel}{extra}}}[$__range]))"
    return table(title, description, [
        (rate_header, rate(), "reqps"),
        ("Error ratio", f"{rate(',' + err)} / {rate()}", "percentunit"),
        ("p99", f"histogram_quantile(0.99, sum by ({by}, le) (rate({metric}_bucket{{{sel}}}[$__range])))", "s"),
    ], by), h


def sum_rates(sel, series):
    """One target per (counter, legend): its summed rate."""
    return [target(f"sum (rate({m}{{{sel}}}[$__rate_interval]))", legend, chr(ord("A") + i))
            for i, (m, legend) in enumerate(series)]


def quantiles(metric, where, by, legend):
    return [target(f"histogram_quantile({q}, sum by ({by}le) (rate({metric}_bucket{{{where}}}[$__rate_interval])))",
                   f"p{int(q * 100)} {legend}".strip(), chr(ord("A") + i))
            for i, q in enumerate((0.5, 0.9, 0.99))]


def service_board():
    b = Board("obs-service", "obs / Service RED",
              "Rate, errors and duration of the requests a service serves and makes, "
              "measured by obs's shim (no code change). Exemplars link the heat map to traces.")
    b.var("service", "Service", "http_server_request_duration_seconds_count", "service")
    sel = 'service=~"$service"'
    h = "http_server_request_duration_seconds"
    b.row("HTTP server")
    b.add(timeseries("Requests / s", "http.server.request.duration count rate, by status code.",
                     [target(f"sum by (service, http_response_status_code) (rate({h}_count{{{sel}}}[$__rate_interval]))",
                             "{{service}} {{http_response_status_code}}")], "reqps", stack=True))
    b.add(timeseries("Error ratio", "Share of requests answered 5xx or not answered at all.",
                     [target(f"sum by (service) (rate({h}_count{{{sel},{HTTP_ERR}}}[$__rate_interval])) / "
                             f"sum by (service) (rate({h}_count{{{sel}}}[$__rate_interval]))",
                             "{{service}}")], "percentunit", max_=1))
    b.add(heatmap("Duration heat map", "Requests per duration bucket (OpenTelemetry buckets).",
                  h, sel), w=12)
    b.add(timeseries("Duration percentiles", "p50, p90, p99 from the histogram.",
                     quantiles(h, sel, "service, ", "{{service}}"), "s"))
    panel, height = red_table("Routes", "Per route (http.route templates): rate, error ratio, p99.",
                              h, sel, HTTP_ERR, "service, http_request_method, http_route",
                              "Requests / s", 9)
    b.add(panel, w=24, h=height)
    b.row("gRPC server")
    r = "rpc_server_call_duration_seconds"
    b.add(timeseries("Calls / s", "rpc.server.call.duration count rate, by gRPC status.",
                     [target(f"sum by (service, rpc_grpc_status_code) (rate({r}_count{{{sel}}}[$__rate_interval]))",
                             "{{service}} status {{rpc_grpc_status_code}}")], "reqps", stack=True))
    b.add(timeseries("Call duration percentiles", "p50, p90, p99 of gRPC calls.",
                     quantiles(r, sel, "service, ", "{{service}}"), "s"))
    panel, height = red_table("Methods", "Per gRPC method: rate, error ratio (server errors), p99.",
                              r, sel, RPC_ERR, "service, rpc_service, rpc_method", "Calls / s", 8)
    b.add(panel, w=24, h=height)
    b.row("Dependencies (client side)")
    c = "http_client_request_duration_seconds"
    b.add(timeseries("Outgoing HTTP requests / s", "By destination (server.address).",
                     [target(f"sum by (service, server_address) (rate({c}_count{{{sel}}}[$__rate_interval]))",
                             "{{service}} -> {{server_address}}")], "reqps"))
    b.add(timeseries("Outgoing HTTP p99", "Per destination.",
                     [target(f"histogram_quantile(0.99, sum by (service, server_address, le) (rate({c}_bucket{{{sel}}}[$__rate_interval])))",
                             "{{service}} -> {{server_address}}")], "s"))
    b.row("SLO (deploy/prometheus/obs-slo.rules.yml)")
    b.add(timeseries("Error budget burn rate (1h)",
                     "Errors over 1 h divided by the budget (1 - objective): 14.4 pages with the 5 m window.",
                     [target(f"service:slo_errors:ratio_rate1h{{{sel}}} / on (service) (1 - obs:slo_availability_objective:ratio)",
                             "{{service}}")], "none"))
    b.add(timeseries("Latency budget burn rate (1h)",
                     "Requests slower than the objective's threshold over 1 h, divided by the budget.",
                     [target(f"(1 - service_le:slo_requests_fast:ratio_rate1h{{{sel}}}) / on (service, le) (1 - obs:slo_latency_objective:ratio)",
                             "{{service}} over {{le}} s")], "none"))
    return b


def node_board():
    b = Board("obs-node", "obs / Node: where the time goes",
              "Kernel-side latency from obs's BPF programs: syscalls, disk, TCP connect, "
              "run queue. Answers 'waiting on disk, network, locks or CPU?'.")
    b.var("instance", "Node", "obs_build_info", "instance")
    b.var("service", "Service", "obs_syscall_duration_seconds_count", "service", '{instance=~"$instance"}')
    sel = 'instance=~"$instance",service=~"$service"'
    b.row("Latency heat maps")
    b.add(heatmap("Syscall latency", "Time from syscall entry to exit (raw_syscalls tracepoints).",
                  "obs_syscall_duration_seconds", sel))
    b.add(heatmap("Disk I/O latency", "Block requests, issue to completion.",
                  "obs_disk_io_duration_seconds", sel))
    b.add(heatmap("TCP connect latency", "Outbound connects, SYN sent to established.",
                  "obs_tcp_connect_duration_seconds", sel))
    b.add(heatmap("Run-queue latency", "Runnable but waiting for a CPU: CPU saturation.",
                  "obs_runqueue_latency_seconds", sel))
    b.row("Where the time goes")
    b.add(timeseries("Time in syscalls / s, top 10", "Seconds spent per second in each syscall (blocking ones: waits).",
                     [target(f"topk(10, sum by (syscall) (rate(obs_syscall_duration_seconds_sum{{{sel}}}[$__rate_interval])))",
                             "{{syscall}}")], "s", stack=True))
    b.add(timeseries("Run-queue wait / s, by service", "CPU starvation per service.",
                     [target(f"sum by (service) (rate(obs_runqueue_latency_seconds_sum{{{sel}}}[$__rate_interval]))",
                             "{{service}}")], "s"))
    b.add(timeseries("Disk throughput", "Bytes completed, by device and operation.",
                     [target(f"sum by (device, op) (rate(obs_disk_io_bytes_total{{{sel}}}[$__rate_interval]))",
                             "{{device}} {{op}}")], "Bps"))
    b.add(timeseries("Disk latency p99", "By device and operation.",
                     [target(f"histogram_quantile(0.99, sum by (device, op, le) (rate(obs_disk_io_duration_seconds_bucket{{{sel}}}[$__rate_interval])))",
                             "{{device}} {{op}}")], "s"))
    b.row("TCP")
    b.add(timeseries("Connections / s", "Established, by direction.",
                     [target(f"sum by (direction) (rate(obs_tcp_connections_total{{{sel}}}[$__rate_interval]))",
                             "{{direction}}")], "cps"), w=8)
    b.add(timeseries("Retransmits and resets / s", "Network trouble signals.",
                     [target(f"sum (rate(obs_tcp_retransmits_total{{{sel}}}[$__rate_interval]))", "retransmits", "A"),
                      target(f"sum by (direction) (rate(obs_tcp_resets_total{{{sel}}}[$__rate_interval]))", "resets {{direction}}", "B"),
                      target(f"sum (rate(obs_tcp_connect_errors_total{{{sel}}}[$__rate_interval]))", "connect errors", "C")],
                     "ops"), w=8)
    b.add(timeseries("TCP bytes / s", "Sent and received.",
                     sum_rates(sel, [("obs_tcp_sent_bytes_total", "sent"),
                                     ("obs_tcp_received_bytes_total", "received")]), "Bps"), w=8)
    return b


def self_board():
    b = Board("obs-self", "obs / Self-monitoring",
              "Is the telemetry complete? obs's readiness, drops, export, cardinality and cost. "
              "Alerts: deploy/prometheus/obs-alerts.rules.yml.")
    b.var("instance", "Instance", "obs_build_info", "instance")
    sel = 'instance=~"$instance"'
    red = [{"color": "red", "value": None}, {"color": "green", "value": 1}]
    b.add(stat("Ready", "obs_ready: BPF attached and events drained in time.",
               f"min(obs_ready{{{sel}}})", "bool", red), w=4, h=4)
    b.add(stat("Scrape up", "Prometheus can scrape obs.", f'min(up{{job="obs",{sel}}})', "bool", red),
          w=4, h=4)
    b.add(stat("Series used", "Share of the cardinality limit in use.",
               f"max(obs_series{{{sel}}} / obs_series_limit{{{sel}}})", "percentunit",
               [{"color": "green", "value": None}, {"color": "orange", "value": 0.8},
                {"color": "red", "value": 0.9}]), w=4, h=4)
    b.add(stat("Spans exported / s", "Delivered to the OTLP receiver.",
               f"sum(rate(obs_spans_exported_total{{{sel}}}[$__rate_interval]))", "ops"), w=4, h=4)
    b.add(stat("Version", "obs_build_info.", f"count by (version) (obs_build_info{{{sel}}})", "none"),
          w=8, h=4)
    b.add(timeseries("Kernel events dropped / s", "By reason: a full BPF map or ring buffer.",
                     [target(f"sum by (instance, reason) (rate(obs_events_dropped_total{{{sel}}}[$__rate_interval]))",
                             "{{instance}} {{reason}}")], "ops"))
    b.add(timeseries("Spans dropped / s", "By reason; none is silent.",
                     [target(f"sum by (instance, reason) (rate(obs_spans_dropped_total{{{sel}}}[$__rate_interval]))",
                             "{{instance}} {{reason}}")], "ops"))
    b.add(timeseries("Span pipeline / s", "Received from the shim, exported, unsampled, export retries.",
                     sum_rates(sel, [("obs_spans_received_total", "received"),
                                     ("obs_spans_exported_total", "exported"),
                                     ("obs_spans_unsampled_total", "unsampled"),
                                     ("obs_span_export_retries_total", "retries")]), "ops"))
    b.add(timeseries("Shim", "traceparent injected / skipped, untracked connections, parse errors.",
                     sum_rates(sel, [("obs_shim_traceparent_injected_total", "injected"),
                                     ("obs_shim_traceparent_skipped_total", "skipped"),
                                     ("obs_shim_connections_untracked_total", "untracked"),
                                     ("obs_shim_parse_errors_total", "parse errors")]), "ops"))
    b.add(timeseries("Series and overflow", "Samples admitted vs the limit; label sets folded into overflow.",
                     [target(f"sum by (instance) (obs_series{{{sel}}})", "{{instance}} used", "A"),
                      target(f"sum by (instance) (obs_series_limit{{{sel}}})", "{{instance}} limit", "B"),
                      target(f"sum by (instance, metric) (obs_series_overflow_total{{{sel}}})", "{{instance}} overflow {{metric}}", "C")],
                     "short"))
    b.add(timeseries("BPF map fill", "Entries / capacity per map.",
                     [target(f"max by (map) (obs_bpf_map_entries{{{sel}}} / obs_bpf_map_capacity{{{sel}}})",
                             "{{map}}")], "percentunit", max_=1))
    b.add(timeseries("Scrape render time", "obs_scrape_duration_seconds (the alert fires above 2 s).",
                     [target(f"max by (instance) (obs_scrape_duration_seconds{{{sel}}})", "{{instance}}")], "s"))
    b.add(timeseries("Ring buffer lag", "Process-event bytes not consumed yet; events consumed / s.",
                     [target(f"max by (instance) (obs_ringbuf_pending_bytes{{{sel}}})", "{{instance}} pending", "A"),
                      target(f"sum by (instance) (rate(obs_ringbuf_events_total{{{sel}}}[$__rate_interval]))", "{{instance}} events/s", "B")],
                     "short"))
    b.add(timeseries("CPU used by obs", "Cores.",
                     [target(f"sum by (instance) (rate(obs_process_cpu_seconds_total{{{sel}}}[$__rate_interval]))",
                             "{{instance}}")], "percentunit"))
    b.add(timeseries("Memory used by obs", "Resident set.",
                     [target(f"max by (instance) (obs_process_resident_memory_bytes{{{sel}}})", "{{instance}}")],
                     "bytes"))
    b.add(timeseries("Unauthorized scrapes / s", "401 answers on the metrics endpoint.",
                     [target(f"sum by (instance) (rate(obs_metrics_unauthorized_requests_total{{{sel}}}[$__rate_interval]))",
                             "{{instance}}")], "ops"))
    b.add(timeseries("TLS certificate: time left", "Until the served certificate expires "
                     "(HTTPS endpoints only; the alert fires under 14 days). It jumps up when a "
                     "renewal is picked up.",
                     [target(f"min by (instance) (obs_tls_certificate_not_after_timestamp_seconds{{{sel}}}) - time()",
                             "{{instance}}")], "s"))
    return b


def render():
    return {f"{b.uid}.json": json.dumps(b.json(), indent=2, sort_keys=True) + "\n"
            for b in (service_board(), node_board(), self_board())}


def main():
    files = render()
    stale = []
    for name, text in files.items():
        path = os.path.join(HERE, name)
        if "--write" in sys.argv:
            with open(path, "w") as f:
                f.write(text)
        elif "--check" in sys.argv:
            if not os.path.exists(path) or open(path).read() != text:
                stale.append(name)
    if stale:
        print(f"stale: {', '.join(stale)}: run {sys.argv[0]} --write", file=sys.stderr)
        return 1
    if "--write" not in sys.argv and "--check" not in sys.argv:
        print(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())

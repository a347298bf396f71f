#!/usr/bin/env python3
"""Write obs-slo.rules.yml: SLIs over every window the burn-rate alerts
use, the objectives (defaults, overridable per service), and the
multiwindow, multi-burn-rate alerts of the Google SRE workbook
("Alerting on SLOs", table 5-8):

    severity  long  short  burn rate   budget spent when it fires
    page      1h    5m     14.4x       2% in an hour
    page      6h    30m    6x          5% in six hours
    ticket    1d    2h     3x          10% in a day
    ticket    3d    6h     1x          10% in three days

  gen-slo-rules.py            print the rules
  gen-slo-rules.py --check    exit 1 if obs-slo.rules.yml is not what this prints
  gen-slo-rules.py --write    rewrite obs-slo.rules.yml
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "obs-slo.rules.yml")

WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
BURNS = [  # (severity, long, short, factor)
    ("page", "1h", "5m", "14.4"),
    ("page", "6h", "30m", "6"),
    ("ticket", "1d", "2h", "3"),
    ("ticket", "3d", "6h", "1"),
]
DEFAULT_AVAILABILITY = "0.999"
DEFAULT_LATENCY = "0.99"
DEFAULT_LATENCY_LE = "0.5"

COUNTS = '{__name__=~"http_server_request_duration_seconds_count|rpc_server_call_duration_seconds_count"}'
BUCKETS = '{__name__=~"http_server_request_duration_seconds_bucket|rpc_server_call_duration_seconds_bucket"}'
HTTP_ERRORS = 'http_server_request_duration_seconds_count{http_response_status_code=~"5..|"}'
RPC_ERRORS = 'rpc_server_call_duration_seconds_count{rpc_grpc_status_code=~"2|4|12|13|14|15|"}'


def sli_rules():
    out = []
    for w in WINDOWS:
        out += [
            f"      - record: service:slo_requests:rate{w}",
            f"        expr: sum by (service) (rate({COUNTS}[{w}]))",
            f"      - record: service:slo_errors:ratio_rate{w}",
            "        expr: |",
            f"          (",
            f"            sum by (service) (rate({HTTP_ERRORS}[{w}]) or rate({RPC_ERRORS}[{w}]))",
            f"            or 0 * service:slo_requests:rate{w}",
            f"          ) / service:slo_requests:rate{w}",
            f"      - record: service_le:slo_requests_fast:ratio_rate{w}",
            "        expr: |",
            f"          sum by (service, le) (rate({BUCKETS}[{w}]))",
            f"          / on (service) group_left () service:slo_requests:rate{w}",
        ]
    return out


def objective_rules():
    return [
        "      # Per service: obs:slo_*_objective_override:ratio series (see",
        "      # obs-slo-objectives.rules.yml) win; every other service that",
        "      # served requests in the last 3 days gets these defaults.",
        "      - record: obs:slo_availability_objective:ratio",
        "        expr: |",
        "          obs:slo_availability_objective_override:ratio",
        f"          or on (service) (0 * group by (service) (service:slo_requests:rate3d) + {DEFAULT_AVAILABILITY})",
        "      - record: obs:slo_latency_objective:ratio",
        "        expr: |",
        "          obs:slo_latency_objective_override:ratio",
        "          or on (service)",
        "          label_replace(",
        f"            0 * group by (service) (service:slo_requests:rate3d) + {DEFAULT_LATENCY},",
        f'            "le", "{DEFAULT_LATENCY_LE}", "", ""',
        "          )",
    ]


def burn_alert(name, severity, bad, on, objective, what):
    conds = []
    for sev, long_w, short_w, factor in BURNS:
        if sev != severity:
            continue
        thr = f"on ({on}) ({factor} * (1 - {objective}))"
        conds.append(
            "          (\n"
            f"            {bad(long_w)} > {thr}\n"
            f"            and on ({on})\n"
            f"            {bad(short_w)} > {thr}\n"
            "          )"
        )
    slug = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    windows = ", or ".join(
        f"{f}x over both {l} and {s}" for sv, l, s, f in BURNS if sv == severity)
    return [
        f"      - alert: {name}",
        "        expr: |",
        "\n          or\n".join(conds),
        "        labels:",
        f"          severity: {severity}",
        "        annotations:",
        f"          summary: '{{{{ $labels.service }}}} is spending its {what} error budget too fast'",
        "          description: >-",
        f"            {{{{ $labels.service }}}} burns its {what} error budget faster",
        f"            than it can last: above {windows} the sustainable",
        f"            rate; {{{{ $value | humanizePercentage }}}} of requests were bad over the",
        f"            long window.",
        f"          runbook_url: docs/runbooks/{slug}.md",
    ]


def alert_rules():
    def errors(w):
        return f"service:slo_errors:ratio_rate{w}"

    def slow(w):
        return f"(1 - service_le:slo_requests_fast:ratio_rate{w})"

    out = []
    for sev in ("page", "ticket"):
        out += burn_alert("ObsErrorBudgetBurn", sev, errors, "service",
                          "obs:slo_availability_objective:ratio", "availability")
    for sev in ("page", "ticket"):
        out += burn_alert("ObsLatencyBudgetBurn", sev, slow, "service, le",
                          "obs:slo_latency_objective:ratio", "latency")
    return out


def render():
    head = [
        "# GENERATED by gen-slo-rules.py: edit that, then run it with --write.",
        "#",
        "# SLOs for every service obs sees (HTTP and gRPC servers together):",
        "#   availability: the share of requests that are not errors (HTTP 5xx or",
        "#     no response; gRPC UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,",
        "#     INTERNAL, UNAVAILABLE, DATA_LOSS), objective "
        f"{DEFAULT_AVAILABILITY} by default;",
        "#   latency: the share of requests done within a bucket bound `le`,",
        f"#     objective {DEFAULT_LATENCY} within {DEFAULT_LATENCY_LE} s by default.",
        "# Objectives per service: obs-slo-objectives.rules.yml.",
        "# Multiwindow, multi-burn-rate alerts (Google SRE workbook):",
    ]
    for sev, l, s, f in BURNS:
        head.append(f"#   {sev:6} {f:>4}x burn over {l} and {s}")
    # One group: its rules run in order at each evaluation, so the alerts
    # see the SLIs and objectives of the same instant.
    return "\n".join(head + ["groups:", "  - name: obs-slo", "    rules:"] + sli_rules()
                     + objective_rules() + alert_rules()) + "\n"


def main():
    text = render()
    if "--check" in sys.argv:
        with open(OUT) as f:
            if f.read() != text:
                print(f"{OUT} is stale: run {sys.argv[0]} --write", file=sys.stderr)
                return 1
        return 0
    if "--write" in sys.argv:
        with open(OUT, "w") as f:
            f.write(text)
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

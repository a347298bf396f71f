#!/usr/bin/env python3
"""PromQL in obs's shipped dashboards and rule files: collect it, make it
checkable, and name the metrics it reads.

  promql_refs.py rules OUT.yml FILE...
      every expression of the dashboards (Grafana variables replaced by
      plain values) and rule files as a recording rule in OUT.yml, for
      `promtool check rules` to parse
  promql_refs.py missing SCRAPE_NAMES FILE...
      print each metric the files read that is neither in SCRAPE_NAMES
      (one sample name per line, from live scrapes of obs), nor recorded
      by a rule in FILE..., nor one of Prometheus's own series; exit 1 if any
"""
import json
import re
import sys

import yaml

GRAFANA_VARS = [
    (r"\$__rate_interval|\$__interval|\$__range", "5m"),
    (r"\$\{?(service|instance|datasource)\}?", "x"),
]
# names that are not metrics: PromQL keywords and aggregation operators
KEYWORDS = set("""by without on ignoring group_left group_right and or unless bool offset
    sum min max avg group stddev stdvar count count_values bottomk topk quantile inf nan""".split())
# series Prometheus makes itself
PROMETHEUS_OWN = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds",
                  "scrape_samples_scraped", "scrape_series_added"}


def grafana_exprs(doc):
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append(t["expr"])
            walk(p.get("panels", []))

    walk(doc.get("panels", []))
    for v in doc.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.match(r"label_values\((.*),\s*\w+\)$", q or "")
        if m:
            out.append(m.group(1))
    return out


def rule_exprs(doc):
    return [r["expr"] for g in doc.get("groups", []) for r in g.get("rules") or []]


def recorded(doc):
    return {r["record"] for g in doc.get("groups", []) for r in g.get("rules") or [] if "record" in r}


def load(path):
    with open(path) as f:
        if path.endswith(".json"):
            return json.load(f), "grafana"
        return yaml.safe_load(f), "rules"


def exprs_of(paths):
    out = []
    for p in paths:
        doc, kind = load(p)
        for e in grafana_exprs(doc) if kind == "grafana" else rule_exprs(doc):
            for pat, val in GRAFANA_VARS:
                e = re.sub(pat, val, e)
            out.append((p, e))
    return out


def metric_names(expr):
    names = set()
    # names inside {__name__=~"a|b"} selectors
    for m in re.finditer(r'__name__\s*=~?\s*"([^"]*)"', expr):
        names.update(n for n in m.group(1).split("|") if n)
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    e = re.sub(r"\{[^}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)  # ranges, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"#.*", " ", e)  # comments
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word in KEYWORDS or re.match(r"^\d", word):
            continue
        names.add(word)
    return names


def main():
    mode, arg, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    exprs = exprs_of(paths)
    if mode == "rules":
        rules = [{"record": f"check:expr_{i}:parse", "expr": e} for i, (_, e) in enumerate(exprs)]
        with open(arg, "w") as f:
            yaml.safe_dump({"groups": [{"name": "shipped-exprs", "rules": rules}]}, f)
        print(f"{len(rules)} expressions from {len(paths)} files")
        return 0
    with open(arg) as f:
        scraped = {l.strip() for l in f if l.strip()}
    known = set(scraped) | PROMETHEUS_OWN
    for p in paths:
        doc, kind = load(p)
        if kind == "rules":
            known |= recorded(doc)
    missing = {}
    for path, e in exprs:
        for n in metric_names(e):
            if n not in known:
                missing.setdefault(n, set()).add(path)
    for n, where in sorted(missing.items()):
        print(f"{n}: read by {', '.join(sorted(where))}, but no live scrape of obs has it")
    total = len({n for _, e in exprs for n in metric_names(e)})
    print(f"{total} metric names referenced, {len(missing)} unknown", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

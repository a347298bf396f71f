"""Check the traces of the context conformance matrix (tests/e2e/context.bats).

  check.py RECEIVED MID_SERVICE LEAF_SERVICE

RECEIVED: the test receiver's spans (one JSON object per line), from the
client (services ctx-c<N>, one per concurrency level), the middle under
obs-run and the leaf, both exporting to the receiver. Prints one JSON
object: per client run, its requests and whole traces, and over all runs
the middle's outgoing calls with a wrong parent, marked unknown, or broken
without a mark, and those whose parent is the middle's server span of
their own request (parented: right even where the trace breaks after them,
obs not injecting). Calls to /v1/traces (an app exporting its own telemetry)
are left out. A client trace is whole when every span's parent is in
the trace and it holds exactly one middle server span and one leaf span.
A middle client span has a wrong parent when it sits in the trace of a
request other than the one it carried (its path names the request), or,
where nothing names the request (gRPC), when a client trace holds more
than one leaf span or more middle client spans than server spans.
"""
import collections
import json
import re
import sys

# An app that traces itself exports its telemetry to the same receiver: those
# calls are not the ones under test.
every = [json.loads(l) for l in open(sys.argv[1])]
spans = [s for s in every if "/v1/traces" not in json.dumps(s["attributes"])]
MID, LEAF = sys.argv[2], sys.argv[3]
traces = collections.defaultdict(list)
for s in spans:
    traces[s["trace_id"]].append(s)

REQ = re.compile(r"/req/(ctx-c\d+-\d+)")


def req_of(s):
    m = REQ.search(json.dumps(s["attributes"]))
    return m.group(1) if m else None


runs = collections.OrderedDict()
client_trace = {}  # request name -> its trace
wrong = 0
for s in spans:
    if not s["service"].startswith("ctx-c") or s["kind"] != 3 or s["parent_span_id"]:
        continue
    r = runs.setdefault(s["service"], {"requests": 0, "whole": 0})
    r["requests"] += 1
    t = traces[s["trace_id"]]
    ids = {x["span_id"] for x in t}
    mid_srv = [x for x in t if x["service"] == MID and x["kind"] == 2]
    mid_cli = [x for x in t if x["service"] == MID and x["kind"] == 3]
    leaf = [x for x in t if x["service"] == LEAF and x["kind"] == 2]
    linked = all(x is s or x["parent_span_id"] in ids for x in t)
    if linked and len(mid_srv) == 1 and len(leaf) == 1:
        r["whole"] += 1
    wrong += max(0, len(leaf) - 1) + max(0, len(mid_cli) - len(mid_srv))
    name = req_of(s)
    if name:
        client_trace[name] = s["trace_id"]

by_id = {s["span_id"]: s for s in spans}
unknown = unmarked = parented = 0
for s in spans:
    if s["service"] != MID or s["kind"] != 3:
        continue
    marked = s["attributes"].get("obs.parent") == "unknown"
    name = req_of(s)
    mine = client_trace.get(name) if name else None
    theirs = s["trace_id"] in client_trace.values() if name else False
    if marked:
        unknown += 1
        if s["parent_span_id"]:
            wrong += 1  # a marked span must start its own trace
    elif name and mine != s["trace_id"]:
        if theirs:
            wrong += 1  # in another request's trace
        else:
            unmarked += 1  # a new trace nobody said was one
    else:
        # (gRPC names no request: a wrong parent shows as a trace with
        # more middle client spans than server spans, counted above)
        p = by_id.get(s["parent_span_id"])
        if p and p["service"] == MID and p["kind"] == 2 and p["trace_id"] == s["trace_id"] \
                and (req_of(p) == name if name else True):
            parented += 1
# every mark, the app's own exports included: what obs_context_unknown_total counts
marked = sum(1 for s in every if s["service"] == MID and s["attributes"].get("obs.parent") == "unknown")
print(json.dumps({"runs": runs, "wrong": wrong, "unknown": unknown, "unmarked": unmarked,
                  "parented": parented, "marked": marked}))

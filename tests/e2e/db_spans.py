"""The data-store tests' common check (redis.bats, postgres.bats).

A service got GET /item/1..80, request N with traceparent
00-<N as 32 hex>-<N+4096 as 16 hex>-01 (helpers.bash: db_items), and
made its data-store calls. check(SPANS, SYSTEM) asserts that every span of
db.system.name SYSTEM is a CLIENT span whose parent is the service's
server span of the same trace and lies within it, and that each
/item/N server span is the child of the caller's traceparent. It returns
the names of each request path's spans, in order, and the spans.
"""
import json


def check(path, system):
    spans = [json.loads(l) for l in open(path)]
    server = {s["span_id"]: s for s in spans if s["kind"] == "server"}
    mine = [s for s in spans if s["attributes"].get("db.system.name") == system]
    per = {}
    for s in mine:
        assert s["kind"] == "client", s
        p = server.get(s.get("parent_span_id"))
        assert p, ("no server parent", s)
        assert p["trace_id"] == s["trace_id"], s
        assert (p["start_time_unix_nano"] <= s["start_time_unix_nano"]
                <= s["end_time_unix_nano"] <= p["end_time_unix_nano"]), (p, s)
        per.setdefault(p["attributes"]["url.path"], []).append(s["name"])
    for p in server.values():
        path = p["attributes"]["url.path"]
        if path.startswith("/item/") and path != "/item/0":
            n = int(path[6:])
            assert p["trace_id"] == "%032x" % n and p["parent_span_id"] == "%016x" % (n + 4096), p
    assert all("/item/%d" % n in per for n in range(1, 81)), sorted(per)
    print("%s spans: %d" % (system, len(mine)))
    return per, mine

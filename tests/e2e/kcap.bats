#!/usr/bin/env bats
# Kernel-side capture (capture.bpf.c, kcap.c): programs the shim cannot
# enter, a Go net/http service (Debian's golang-go) and a statically
# linked C server, get http_* series and spans from their syscalls.

load helpers

setup() {
	require_bpf
	require_cmd go gcc curl wrk
	T=$BATS_TEST_TMPDIR
	(cd "$TOP/tests/e2e/go" && GOCACHE=$T/gocache GOPATH=$T/gopath GO111MODULE=off \
		go build -o "$T/srv" srv.go)
}

teardown() {
	obs_stop
	bg_stop "${SRV:-}"
	bg_stop "${LEAF:-}"
	bg_stop "${AGENT:-}"
	receiver_stop
	[ -n "${SHIMD:-}" ] && rm -rf "$SHIMD"
	true
}

# served METRIC ROUTE: the count of one route's server series
served() {
	metric_sum "$T/m" "^http_server_request_duration_seconds_count\\{http_request_method=\"$1\",http_route=\"$2\",http_response_status_code=\"200\",service=\"go-svc\"\\}"
}

@test "kcap: a Go net/http service under obs-run: every request counted by route (keep-alive load, 64 KiB answers, 1 MiB uploads), its client calls counted, each the child of its handler's request, one made from another goroutine marked parent unknown, spans exported with the callers' traceparent honoured" {
	local GP LP RP wrk_n i
	GP=$(free_port) LP=$(free_port) RP=$(free_port) MP=$(free_port)
	receiver_start "$RP"
	"$PY" -m http.server "$LP" --bind 127.0.0.1 >/dev/null 2>&1 &
	LEAF=$!
	wait_for listening "$LP"
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP OTEL_BSP_SCHEDULE_DELAY=50 \
		obs_start "$MP" --service go-svc -- "$T/srv" "$GP" "http://127.0.0.1:$LP/"
	wait_for listening "$GP"
	grep -q "is a Go program (go1\.[0-9.]*): .* obs follows its HTTP/1 and cleartext HTTP/2 and gRPC from the kernel side" \
		"$T/obs.err"
	# keep-alive load
	wrk_n=$(wrk -t1 -c8 -d2s "http://127.0.0.1:$GP/" | awk '/requests in/ {print $1}')
	# answers longer than what the kernel copies, and uploads of 1 MiB
	for i in $(seq 20); do
		[ "$(curl -fsS "http://127.0.0.1:$GP/big" | wc -c)" = 65536 ]
	done
	head -c 1048576 /dev/urandom >"$T/up"
	for i in $(seq 5); do
		curl -fsS --data-binary @"$T/up" "http://127.0.0.1:$GP/echo" | cmp - "$T/up"
	done
	# calls with a traceparent, each calling the leaf
	for i in $(seq 10); do
		curl -fsS -H "traceparent: 00-0af7651916cd43dd8448eb211c8031$(printf %02x "$i")-b7ad6b71692033$(printf %02x "$i")-01" \
			"http://127.0.0.1:$GP/call" | grep -q "downstream 200"
	done
	# a call made from a goroutine the handler started: nothing says whose
	for i in $(seq 3); do
		curl -fsS "http://127.0.0.1:$GP/fanout" | grep -q "downstream 200"
	done
	# (the last requests made: what came before is counted by then)
	wait_for scrape_sum_ge "$MP" '^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="/fanout"' 3
	scrape "$MP" >"$T/m"
	echo "wrk: $wrk_n, counted: $(served GET /)"
	[ "$(served GET /)" -ge "$wrk_n" ]
	[ "$(served GET /)" -le $((wrk_n + 8)) ] # at most the 8 in flight when wrk stopped
	[ "$(served GET /big)" = 20 ]
	[ "$(served POST /echo)" = 5 ]
	[ "$(served GET /call)" = 10 ]
	[ "$(served GET /fanout)" = 3 ]
	[ "$(metric_sum "$T/m" '^http_client_request_duration_seconds_count\{http_request_method="GET",server_address="127.0.0.1",http_response_status_code="200",service="go-svc"\}')" = 13 ]
	[ "$(metric_sum "$T/m" '^obs_context_unknown_total\{service="go-svc"\}')" = 3 ]
	[ "$(metric_sum "$T/m" '^obs_events_dropped_total\{reason="capture_full"\}')" = 0 ]
	# no connection given up: the echoes' chunked answers (a 4 KiB buffer's
	# flushes, a size line anywhere in them) were followed to their ends
	[ "$(metric_sum "$T/m" '^obs_shim_parse_errors_total')" = 0 ]
	promtool check metrics <"$T/m"
	obs_stop
	# every /call server span is the child of the traceparent it carried,
	# and its client span the child of it; /fanout's client spans start
	# traces of their own, marked
	"$PY" - "$RECV_OUT" <<'PYEOF'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
calls = [s for s in spans if s["service"] == "go-svc" and s["kind"] == 2 and s["name"] == "GET /call"]
assert len(calls) == 10, len(calls)
for s in calls:
    i = int(s["trace_id"][-2:], 16)
    assert s["trace_id"] == "0af7651916cd43dd8448eb211c8031%02x" % i, s
    assert s["parent_span_id"] == "b7ad6b71692033%02x" % i, s
clients = [s for s in spans if s["service"] == "go-svc" and s["kind"] == 3]
assert len(clients) == 13, len(clients)
by_parent = {s["parent_span_id"]: s for s in clients if s["parent_span_id"]}
for s in calls:
    c = by_parent[s["span_id"]]
    assert c["trace_id"] == s["trace_id"] and "obs.parent" not in c["attributes"], c
marked = [s for s in clients if s["attributes"].get("obs.parent") == "unknown"]
assert len(marked) == 3 and all(not s["parent_span_id"] for s in marked), marked
assert all(s["trace_id"] not in {c["trace_id"] for c in calls} for s in marked)
PYEOF
}

@test "kcap: malformed and oversized requests reach a Go service byte-identical, and get the same answers, with and without obs (and with --go-inject)" {
	local GP c cases="garbage not-http huge-header many-headers truncated truncated-body bad-tp-zero bad-tp-long two-tp pipelined chunked split bytes-1"
	GP=$(free_port) MP=$(free_port)
	"$T/srv" "$GP" &
	SRV=$!
	wait_for listening "$GP"
	for c in $cases; do "$PY" "$TOP/tests/e2e/rawclient.py" "$GP" "$c" >"$T/bare.$c"; done
	bg_stop "$SRV"
	SRV=
	obs_start "$MP" --service go-svc -- "$T/srv" "$GP"
	wait_for listening "$GP"
	for c in $cases; do "$PY" "$TOP/tests/e2e/rawclient.py" "$GP" "$c" >"$T/obs.$c"; done
	# obs is up, and said nothing is wrong with itself
	ready "$MP"
	scrape "$MP" | promtool check metrics
	obs_stop
	# the kernel keeps a request's first bytes for injection: it only reads
	obs_start "$MP" --service go-svc --go-inject -- "$T/srv" "$GP"
	wait_for listening "$GP"
	for c in $cases; do "$PY" "$TOP/tests/e2e/rawclient.py" "$GP" "$c" >"$T/inj.$c"; done
	for c in $cases; do
		# the answers carry the time: the rest must be the same bytes
		diff <(sed 's/Date: [^\\]*\\r\\n//g' "$T/bare.$c") <(sed 's/Date: [^\\]*\\r\\n//g' "$T/obs.$c")
		diff <(sed 's/Date: [^\\]*\\r\\n//g' "$T/bare.$c") <(sed 's/Date: [^\\]*\\r\\n//g' "$T/inj.$c")
	done
}

@test "kcap: a statically linked C server: obs-run says it follows it from the kernel side, and counts every request" {
	local SP
	SP=$(free_port) MP=$(free_port)
	gcc -static -O2 -o "$T/static-srv" "$TOP/tests/e2e/go/static_srv.c"
	obs_start "$MP" --service st-svc -- "$T/static-srv" "$SP"
	wait_for listening "$SP"
	grep -q "is statically linked: LD_PRELOAD cannot load the shim into it. obs follows its HTTP/1 and cleartext HTTP/2 and gRPC from the kernel side" "$T/obs.err"
	for _ in $(seq 15); do [ "$(curl -fsS "http://127.0.0.1:$SP/items/42")" = "static ok" ]; done
	# keep-alive: several requests on one connection
	curl -fsS "http://127.0.0.1:$SP/a" "http://127.0.0.1:$SP/a" "http://127.0.0.1:$SP/a" >/dev/null
	wait_for scrape_sum_ge "$MP" '^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="/a"' 3
	scrape "$MP" >"$T/m"
	[ "$(metric_sum "$T/m" '^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="/items/\{id\}",http_response_status_code="200",service="st-svc"\}')" = 15 ]
	[ "$(metric_sum "$T/m" '^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="/a",http_response_status_code="200",service="st-svc"\}')" = 3 ]
}

# cap_calls_of PID: the entries of obs-run PID's cap_calls map (the calls
# parked by a task switched out inside them)
cap_calls_of() {
	local f m
	for f in /proc/"$1"/fdinfo/*; do
		m=$(awk '/^map_id:/ {print $2}' "$f" 2>/dev/null)
		[ -n "$m" ] && bpftool map show id "$m" | grep -q ' name cap_calls ' &&
			{ bpftool map dump id "$m" -j | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))'; return 0; }
	done
	return 1
}

@test "kcap: a followed static program's 64 threads blocked reading a pipe keep no call among the followed ones (a read's connection is looked up at its exit; one on no connection is let go at the switch)" {
	require_cmd bpftool
	MP=$(free_port)
	gcc -static -O2 -pthread -o "$T/pipe-wait" "$TOP/tests/e2e/go/pipe_wait.c"
	obs_start "$MP" --service pw -- "$T/pipe-wait" 64
	wait_for grep -q ready "$T/obs.out"
	n=$(cap_calls_of "$OBS_PID")
	echo "cap_calls entries: $n"
	[ "$n" = 0 ]
}

@test "kcap: a static C client whose peer address ends a page, the next one unreadable, and whose sendmsg's msghdr is not in its page table, also with --probes tcp: every connection followed, every request counted" {
	local SP
	SP=$(free_port)
	gcc -static -O2 -o "$T/static-srv" "$TOP/tests/e2e/go/static_srv.c"
	gcc -static -O2 -o "$T/static-cli" "$TOP/tests/e2e/go/static_cli.c"
	"$T/static-srv" "$SP" &
	SRV=$!
	wait_for listening "$SP"
	"$OBS_RUN" --no-metrics --spans-file "$T/spans.json" -- "$T/static-cli" "$SP" 6 \
		>"$T/cli.out" 2>"$T/obs.err"
	[ "$(cat "$T/cli.out")" = 6 ] # (the client's own count of answers)
	# connect's address read at entry, 28 bytes, failed here: none followed
	[ "$(grep -c '"kind":"client"' "$T/spans.json")" = 6 ]
	grep -q "spans: 6 " "$T/obs.err"
	# the same by sendmsg, its msghdr's page out of the page table before
	# each call: read at entry, it failed, and the request went unseen
	"$OBS_RUN" --no-metrics --spans-file "$T/spans2.json" -- "$T/static-cli" "$SP" 6 msg \
		>"$T/cli.out" 2>"$T/obs.err"
	[ "$(cat "$T/cli.out")" = 6 ]
	[ "$(grep -c '"kind":"client"' "$T/spans2.json")" = 6 ]
	# capture runs as tail calls of the syscall programs: with the
	# syscall probes not asked for, it still runs (it went silent)
	"$OBS_RUN" --no-metrics --probes tcp --spans-file "$T/spans3.json" -- "$T/static-cli" "$SP" 6 \
		>"$T/cli.out" 2>"$T/obs.err"
	[ "$(grep -c '"kind":"client"' "$T/spans3.json")" = 6 ]
	[ "$(grep -c 'syscall connect' "$T/obs.err")" = 0 ] # (and no syscall histogram)
}

@test "kcap: the agent says once that a Go program on the node is one the shim cannot enter, follows its HTTP/1 from the kernel side under its service, and its goroutines through a helper that alone keeps the capabilities for uprobes" {
	local GP MP LP helper i
	GP=$(free_port) MP=$(free_port) LP=$(free_port)
	D=$T
	"$PY" -m http.server "$LP" --bind 127.0.0.1 >/dev/null 2>&1 &
	LEAF=$!
	wait_for listening "$LP"
	agent_shim_start
	# the helper: the agent's child, with only what attaching uprobes takes
	# (CAP_DAC_READ_SEARCH 2, CAP_SYS_PTRACE 19, CAP_PERFMON 38, CAP_BPF 39)
	helper=$(pgrep -P "$AGENT" obs-gohelper)
	[ "$(awk '/^CapEff/ {print $2}' /proc/"$helper"/status)" = 000000c000080004 ]
	[ "$(awk '/^CapPrm/ {print $2}' /proc/"$helper"/status)" = 000000c000080004 ]
	[ "$(awk '/^NoNewPrivs/ {print $2}' /proc/"$helper"/status)" = 1 ]
	# it holds no socket but its own: not the agent's listening port
	[ "$(find /proc/"$helper"/fd -lname 'socket:*' | wc -l)" = 1 ]
	# started after the agent: the kernel's exec event says it is Go
	OTEL_SERVICE_NAME=go-node-svc "$T/srv" "$GP" "http://127.0.0.1:$LP/" &
	SRV=$!
	wait_for listening "$GP"
	for _ in $(seq 12); do [ "$(curl -fsS "http://127.0.0.1:$GP/orders/7")" = "go ok" ]; done
	wait_for scrape_sum_ge "$MP" '^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="/orders/\{id\}",http_response_status_code="200",service="go-node-svc",container_id="",pod_uid=""\}' 12
	scrape "$MP" >"$T/m"
	[ "$(metric_sum "$T/m" '^http_server_request_duration_seconds_count\{.*service="go-node-svc"')" = 12 ]
	grep -q "pid $SRV (srv) is a Go program: the shim cannot enter it; its HTTP/1 and cleartext HTTP/2 and gRPC are followed from the kernel side" "$T/agent.err"
	# once per executable, not per process
	OTEL_SERVICE_NAME=go-node-svc "$T/srv" "$(free_port)" &
	local second=$!
	sleep 1
	kill "$second"
	[ "$(grep -c '(srv) is a Go program' "$T/agent.err")" = 1 ]
	# its spans leave like a shim's
	wait_for grep -q '"service.name":"go-node-svc"' "$T/spans.jsonl"
	promtool check metrics <"$T/m"
	# goroutines followed: each call the child of the request that made it
	wait_for grep -q "pid $SRV (srv): goroutines followed (net/http): an outgoing call is the child of the request whose handler goroutine made it" "$T/agent.err"
	for i in $(seq 5); do
		curl -fsS -H "traceparent: 00-0af7651916cd43dd8448eb211c8031$(printf %02x "$i")-b7ad6b71692033$(printf %02x "$i")-01" \
			"http://127.0.0.1:$GP/call" | grep -q "downstream 200"
	done
	wait_for eval '[ "$(grep -c "\"kind\":\"client\".*go-node-svc" "$T/spans.jsonl")" -ge 5 ]'
	"$PY" - "$T/spans.jsonl" <<'PYEOF'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
mine = [s for s in spans if s["resource"]["service.name"] == "go-node-svc"]
calls = {s["span_id"]: s for s in mine if s["kind"] == "server" and s["name"] == "GET /call"}
clients = [s for s in mine if s["kind"] == "client"]
assert len(calls) == 5 and len(clients) == 5, (len(calls), len(clients))
for c in clients:
    p = calls[c["parent_span_id"]]
    assert p["trace_id"] == c["trace_id"], c
PYEOF
	# and the agent itself keeps only what reading its config file on
	# SIGHUP takes (CAP_DAC_READ_SEARCH) and, as it exports spans, what
	# its span threads' SCHED_IDLE takes (CAP_SYS_NICE, docs/security.md)
	for i in /proc/"$AGENT"/task/*/status; do
		[ "$(awk '/^CapEff/ {print $2}' "$i")" = 0000000000800004 ]
	done
	# the helper goes with the agent
	kill -TERM "$AGENT"
	wait "$AGENT" || true
	AGENT=
	wait_for eval '! kill -0 '"$helper"' 2>/dev/null'
}

@test "kcap: grpc-go with 100 KiB messages, 8 callers on one connection: every call counted, no connection given up (HTTP/2 reads and writes of up to 64 KiB are followed whole)" {
	local GP n
	GP=$(free_port) MP=$(free_port)
	(cd "$TOP/tests/e2e/go" && GOCACHE=$T/gocache GOPATH=/usr/share/gocode GO111MODULE=off \
		go build -o "$T/grpc-srv" grpc_srv.go)
	obs_start "$MP" --service go-grpc -- "$T/grpc-srv" "$GP"
	wait_for listening "$GP"
	/usr/bin/python3 "$TOP/tests/e2e/grpc_demo.py" call "$GP" unary_big unary --repeat 10 --threads 8 --shared >"$T/calls"
	n=$(grep -c '^unary_big OK' "$T/calls")
	echo "big calls answered: $n"
	[ "$n" = 80 ]
	[ "$(grep -c '^unary OK' "$T/calls")" = 80 ]
	wait_for scrape_sum_ge "$MP" '^rpc_server_call_duration_seconds_count\{rpc_system="grpc",rpc_service="demo.Echo",rpc_method="Unary",rpc_grpc_status_code="0",service="go-grpc"\}' 160 ||
		true
	scrape "$MP" >"$T/m"
	grep -E '^(obs_(shim_parse_errors|events_dropped)_total|rpc_server_call_duration_seconds_count)' "$T/m"
	[ "$(metric_sum "$T/m" '^rpc_server_call_duration_seconds_count\{.*service="go-grpc"')" = 160 ]
	[ "$(metric_sum "$T/m" '^obs_shim_parse_errors_total')" = 0 ]
	[ "$(metric_sum "$T/m" '^obs_events_dropped_total\{reason="capture_full"')" = 0 ]
}

@test "kcap: a grpc-go service under obs-run: every call counted (8 threads multiplexed on one connection), no connection given up, spans with the gRPC attributes" {
	local GP n
	GP=$(free_port) MP=$(free_port)
	(cd "$TOP/tests/e2e/go" && GOCACHE=$T/gocache GOPATH=/usr/share/gocode GO111MODULE=off \
		go build -o "$T/grpc-srv" grpc_srv.go)
	obs_start "$MP" --service go-grpc --spans-file "$T/spans.jsonl" -- "$T/grpc-srv" "$GP"
	wait_for listening "$GP"
	/usr/bin/python3 "$TOP/tests/e2e/grpc_demo.py" call "$GP" unary --repeat 50 --threads 8 --shared >"$T/calls"
	n=$(grep -c '^unary OK' "$T/calls")
	echo "calls answered: $n"
	[ "$n" = 400 ]
	wait_for scrape_sum_ge "$MP" '^rpc_server_call_duration_seconds_count\{rpc_system="grpc",rpc_service="demo.Echo",rpc_method="Unary",rpc_grpc_status_code="0",service="go-grpc"\}' 400
	scrape "$MP" >"$T/m"
	[ "$(metric_sum "$T/m" '^rpc_server_call_duration_seconds_count\{.*service="go-grpc"')" = 400 ]
	[ "$(metric_sum "$T/m" '^obs_shim_parse_errors_total')" = 0 ]
	obs_stop
	[ "$(grep -c '"rpc.method":"Unary"' "$T/spans.jsonl")" = 400 ]
	grep -q '"obs.rpc.request_messages":1,"obs.rpc.response_messages":1' "$T/spans.jsonl"
}

@test "kcap: grpc-go, calls whose HEADERS come in the client's first write (read by the goroutine that handshakes the connection, not by its transport's reader): each handler's outgoing call is the child of its request; 8 such connections at once: never a wrong parent" {
	local GP LP i pids=
	GP=$(free_port) LP=$(free_port) MP=$(free_port)
	(cd "$TOP/tests/e2e/go" && GOCACHE=$T/gocache GOPATH=/usr/share/gocode GO111MODULE=off \
		go build -o "$T/grpc-srv" grpc_srv.go)
	"$T/grpc-srv" "$LP" &
	LEAF=$!
	wait_for listening "$LP"
	obs_start "$MP" --service go-mid --spans-file "$T/spans.jsonl" -- "$T/grpc-srv" "$GP" "127.0.0.1:$LP"
	wait_for listening "$GP"
	# calls 1-6 one after another, 7-14 at once (each on its own connection,
	# each stream 1: which handshake read whose call may then be unclear);
	# the middle's call for request N is /demo.Echo/via-N
	onewrite() {
		"$PY" "$TOP/tests/e2e/grpc_onewrite.py" "$GP" \
			"00-0af7651916cd43dd8448eb211c8031$(printf %02x "$1")-b7ad6b71692033$(printf %02x "$1")-01" \
			"via-$1" | grep -qx "OK via-$1"
	}
	for i in $(seq 6); do onewrite "$i"; done
	for i in $(seq 7 14); do
		onewrite "$i" &
		pids="$pids $!"
	done
	for i in $pids; do wait "$i"; done
	wait_for scrape_sum_ge "$MP" '^rpc_client_call_duration_seconds_count\{.*service="go-mid"' 14
	scrape "$MP" >"$T/m"
	obs_stop
	"$PY" - "$T/spans.jsonl" "$(metric_sum "$T/m" '^obs_context_unknown_total\{service="go-mid"\}')" <<'PYEOF'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
srv = {s["span_id"]: s for s in spans if s["kind"] == "server"}
cli = [s for s in spans if s["kind"] == "client"]
assert len(srv) == 14 and len(cli) == 14, (len(srv), len(cli))
for s in srv.values():  # each the child of the traceparent it carried
    assert s["parent_span_id"] == "b7ad6b71692033" + s["trace_id"][-2:], s
marked = 0
for c in cli:
    if c["attributes"].get("obs.parent") == "unknown":
        assert "parent_span_id" not in c, c
        marked += 1
        continue
    # never a wrong parent: the call's method names its request
    p = srv[c["parent_span_id"]]
    assert p["trace_id"] == c["trace_id"], c
    assert c["attributes"]["rpc.method"] == "via-%d" % int(p["trace_id"][-2:], 16), (c, p)
print("client calls: %d parented, %d marked parent unknown (counted: %s)" % (len(cli) - marked, marked, sys.argv[2]))
assert marked == float(sys.argv[2] or 0)
# one after another, none is unclear (named by method: a marked call's
# trace is new and random, its last byte no request number)
seq = [c for c in cli if int(c["attributes"]["rpc.method"].split("-")[1]) <= 6]
assert len(seq) == 6 and all(c.get("parent_span_id") in srv for c in seq), seq
PYEOF
}

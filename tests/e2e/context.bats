#!/usr/bin/env bats
# The context conformance matrix (issue 15): a real W3C participant (the
# OpenTelemetry Node SDK) is the client and the leaf; the service in the
# middle runs under obs-run with no tracing code of its own, and waits a
# random 1-15 ms in every request before its downstream call. At
# concurrency 1, 8 and 32 every trace is checked (context/check.py):
# a wrong parent is never allowed; where the docs call a runtime followed
# every trace is whole; elsewhere the calls obs cannot tie to their
# request are marked obs.parent=unknown, counted on /metrics, and still
# none is wrong.

load helpers

CTX=$TOP/tests/e2e/context
SYSPY=/usr/bin/python3 # Debian's, with python3-aiohttp and python3-grpcio
N=64                   # requests per concurrency level

setup() {
	require_bpf
	require_node_modules
}

teardown() {
	obs_stop
	bg_stop "${LEAF_PID:-}"
	receiver_stop
}

# ctx_ports: the ports of one cell (receiver, leaf, middle, metrics)
ctx_ports() {
	RP=$(free_port) LEAFP=$(free_port) MIDP=$(free_port) MP=$(free_port)
	OTLP=http://127.0.0.1:$RP/v1/traces
}

# ctx_cell http|grpc followed|unknown -- CMD...: run the middle CMD (using
# $MIDP and $LEAFP) under obs-run, drive it at concurrency 1, 8, 32 and
# check every trace.
ctx_cell() {
	local kind=$1 expect=$2 leaf target c
	shift 3
	receiver_start "$RP"
	if [ "$kind" = grpc ]; then
		node "$NODE_DIR/grpc_service.js" "$LEAFP" "$OTLP" >/dev/null &
		leaf=node-grpc target=grpc://127.0.0.1:$MIDP
	else
		node "$NODE_DIR/service.js" "$LEAFP" "$OTLP" &
		leaf=node-sdk target=http://127.0.0.1:$MIDP
	fi
	LEAF_PID=$!
	wait_for listening "$LEAFP"
	# shellcheck disable=SC2086 # (CTX_OBS_ARGS: options, split)
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP obs_start "$MP" --service mid ${CTX_OBS_ARGS:-} -- "$@"
	wait_for listening "$MIDP"
	for c in 1 8 32; do
		node "$NODE_DIR/ctx_client.js" "$target" "$N" "$c" "ctx-c$c" "$OTLP"
	done
	# an app that traces itself exports its spans in batches: all of them
	# (a server and a client span per request) before it is stopped
	if [ -n "${CTX_OWN_SDK:-}" ]; then
		wait_for spans_ge "len([s for s in spans if s['service'] == 'mid-sdk' and '/v1/traces' not in str(s['attributes'])])" $((6 * N))
	fi
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	obs_stop # flushes the middle's spans
	unknown_metric=$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_context_unknown_total\{service="mid"\}')
	# every middle span has arrived: a server and a client span per request
	# (if not: what the middle counted, and what obs said, to tell why)
	wait_for spans_ge "len([s for s in spans if s['service'] == 'mid' and '/v1/traces' not in str(s['attributes'])])" $((6 * N)) || {
		grep -E '^(http_(server|client)_request_duration_seconds_count|rpc_(server|client)_call_duration_seconds_count|obs_(spans_dropped|events_dropped|shim_parse_errors)_total)' \
			"$BATS_TEST_TMPDIR/m"
		cat "$BATS_TEST_TMPDIR/obs.err"
		false
	}
	result=$("$PY" "$CTX/check.py" "$RECV_OUT" mid "$leaf")
	echo "$result (obs_context_unknown_total: $unknown_metric)"
	grep '^  context' "$BATS_TEST_TMPDIR/obs.err" || true
	grep "^obs_go_inject_total" "$BATS_TEST_TMPDIR/m" || true
	ctx_assert "$expect"
}

spans_ge() { [ "$(span_q "$1")" -ge "$2" ]; }

# The verdict on $result: never a wrong parent, never a broken trace
# without its mark; followed: all whole; parented: every call the child of
# its own request's server span (the trace breaks after it: nothing
# injected); goroutines: each call parented so or marked, most parented;
# unknown: each request whole or its call marked, and every
# mark counted on /metrics.
ctx_assert() {
	"$PY" - "$result" "$1" "$N" "$unknown_metric" <<'PYEOF'
import json, sys
r, expect, n, metric = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4] or 0)
assert r["wrong"] == 0, "wrong parents: %d" % r["wrong"]
assert r["unmarked"] == 0, "broken traces without obs.parent=unknown: %d" % r["unmarked"]
assert list(r["runs"]) == ["ctx-c1", "ctx-c8", "ctx-c32"], r["runs"]
for name, run in r["runs"].items():
    assert run["requests"] == n, (name, run)
    if expect == "followed":
        assert run["whole"] == n, "%s: %d of %d traces whole" % (name, run["whole"], n)
whole = sum(run["whole"] for run in r["runs"].values())
if expect == "followed":
    assert r["unknown"] == 0, r
elif expect == "parented":
    assert r["parented"] == 3 * n and r["unknown"] == 0, r
elif expect == "goroutines":
    assert r["parented"] + r["unknown"] == 3 * n and r["parented"] >= n, r
else:
    assert whole + r["unknown"] >= 3 * n, "requests neither whole nor marked: %r" % r
# the scrape came before the last spans (an app exporting its own telemetry
# keeps calling out): between the marks on the calls under test and all marks
assert r["unknown"] <= metric <= r["marked"], \
    "obs_context_unknown_total %s, marked spans %d (%d under test)" % (metric, r["marked"], r["unknown"])
PYEOF
}

@test "context: Node http server, http client (runtime helper): every trace whole" {
	ctx_ports
	ctx_cell http followed -- node "$NODE_DIR/ctx_mid.js" http "$MIDP" "http://127.0.0.1:$LEAFP"
}

@test "context: Node http server, fetch client (runtime helper): every trace whole" {
	ctx_ports
	ctx_cell http followed -- node "$NODE_DIR/ctx_mid.js" fetch "$MIDP" "http://127.0.0.1:$LEAFP"
}

@test "context: Node http server, downstream call from the request body's 'end' listener (runtime helper): every trace whole" {
	ctx_ports
	CTX_SLOW_BODY=1 ctx_cell http followed -- node "$NODE_DIR/ctx_mid.js" body "$MIDP" "http://127.0.0.1:$LEAFP"
}

@test "context: Node grpc-js server and client, calls multiplexed (runtime helper): every trace whole" {
	ctx_ports
	ctx_cell grpc followed -- node "$NODE_DIR/ctx_mid.js" grpc "$MIDP" "127.0.0.1:$LEAFP"
}

@test "context: Node without its helper (OBS_RUNTIME_HELPERS=0): unknown, counted, never wrong" {
	ctx_ports
	OBS_RUNTIME_HELPERS=0 ctx_cell http unknown -- \
		node "$NODE_DIR/ctx_mid.js" http "$MIDP" "http://127.0.0.1:$LEAFP"
}

@test "context: Python aiohttp server and client (runtime helper): every trace whole" {
	ctx_ports
	ctx_cell http followed -- "$SYSPY" "$CTX/aio_mid.py" "$MIDP" "http://127.0.0.1:$LEAFP"
}

@test "context: Python threaded http.server with urllib: every trace whole" {
	ctx_ports
	ctx_cell http followed -- "$SYSPY" "$CTX/thread_mid.py" "$MIDP" "http://127.0.0.1:$LEAFP"
}

@test "context: python3-grpcio (handlers on a thread pool): unknown, counted, never wrong" {
	ctx_ports
	ctx_cell grpc unknown -- "$SYSPY" "$CTX/grpc_mid.py" "$MIDP" "127.0.0.1:$LEAFP"
}

@test "context: fail open: the helper throws inside a hook: the app serves every request, never a wrong parent" {
	ctx_ports
	OBS_HELPER_TEST_FAULT=1 ctx_cell http unknown -- \
		node "$NODE_DIR/ctx_mid.js" http "$MIDP" "http://127.0.0.1:$LEAFP"
}

@test "context: fail open: the asyncio helper throws inside a hook: the app serves every request, never a wrong parent" {
	ctx_ports
	OBS_HELPER_TEST_FAULT=1 ctx_cell http unknown -- \
		"$SYSPY" "$CTX/aio_mid.py" "$MIDP" "http://127.0.0.1:$LEAFP"
}

@test "context: an app that replaces net.Socket.prototype.write: unchanged, every trace whole" {
	ctx_ports
	CTX_PATCH_WRITE=1 ctx_cell http followed -- \
		node "$NODE_DIR/ctx_mid.js" http "$MIDP" "http://127.0.0.1:$LEAFP"
}

@test "context: an app with its own OpenTelemetry SDK: its traceparent wins, every trace whole" {
	ctx_ports
	CTX_OWN_SDK=$OTLP ctx_cell http followed -- \
		node "$NODE_DIR/ctx_mid.js" http "$MIDP" "http://127.0.0.1:$LEAFP"
	# the SDK's own client span is the parent the leaf saw: obs respected it
	"$PY" - "$RECV_OUT" <<'PYEOF'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
sdk = {s["span_id"] for s in spans if s["service"] == "mid-sdk" and s["kind"] == 3}
leaf = [s for s in spans if s["service"] == "node-sdk" and s["kind"] == 2]
assert sdk and all(s["parent_span_id"] in sdk for s in leaf), "leaf spans not under the app's own"
PYEOF
}

# nginx as a reverse proxy to the leaf, keep-alive or a fresh upstream
# connection per request: nginx_proxy DIR PORT LEAF_PORT keepalive|fresh
nginx_proxy() {
	local dir=$1 up
	mkdir -p "$dir/logs" "$dir/tmp"
	up="server 127.0.0.1:$3;"
	[ "$4" = keepalive ] && up="$up keepalive 16;"
	cat >"$dir/nginx.conf" <<CONF
daemon off;
user root;
worker_processes 2;
error_log $dir/logs/error.log;
pid $dir/nginx.pid;
events { worker_connections 512; }
http {
	access_log off;
	client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
	upstream leaf { $up }
	server {
		listen 127.0.0.1:$2;
		location / {
			proxy_pass http://leaf;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
CONF
}

@test "context: nginx reverse proxy, keep-alive upstream connections: every trace whole" {
	require_cmd nginx
	ctx_ports
	nginx_proxy "$BATS_TEST_TMPDIR/ngx" "$MIDP" "$LEAFP" keepalive
	ctx_cell http followed -- nginx -c "$BATS_TEST_TMPDIR/ngx/nginx.conf"
}

@test "context: nginx reverse proxy, a fresh upstream connection per request: every trace whole" {
	require_cmd nginx
	ctx_ports
	nginx_proxy "$BATS_TEST_TMPDIR/ngx" "$MIDP" "$LEAFP" fresh
	ctx_cell http followed -- nginx -c "$BATS_TEST_TMPDIR/ngx/nginx.conf"
}

@test "context: Java 17 HttpServer with the synchronous HttpClient: never a wrong parent" {
	require_cmd java
	ctx_ports
	ctx_cell http "${JAVA_SYNC_EXPECT:-unknown}" -- java "$CTX/Mid.java" sync "$MIDP" "http://127.0.0.1:$LEAFP"
}

@test "context: Java 17 HttpServer with the asynchronous HttpClient: never a wrong parent" {
	require_cmd java
	ctx_ports
	ctx_cell http unknown -- java "$CTX/Mid.java" async "$MIDP" "http://127.0.0.1:$LEAFP"
}

@test "context: Rust tokio (multi-thread runtime) with hyper: never a wrong parent" {
	require_cmd /usr/bin/cargo
	ctx_ports
	# built offline against Debian's crate registry (librust-*-dev)
	cp -r "$CTX/rust" "$BATS_TEST_TMPDIR/rust"
	mkdir -p "$BATS_TEST_TMPDIR/cargo"
	printf '%s\n' '[source.crates-io]' 'replace-with = "debian"' '[source.debian]' \
		'directory = "/usr/share/cargo/registry"' '[net]' 'offline = true' \
		>"$BATS_TEST_TMPDIR/cargo/config.toml"
	CARGO_HOME=$BATS_TEST_TMPDIR/cargo /usr/bin/cargo build -q --release \
		--manifest-path "$BATS_TEST_TMPDIR/rust/Cargo.toml"
	ctx_cell http unknown -- "$BATS_TEST_TMPDIR/rust/target/release/ctx-mid" "$MIDP" \
		"http://127.0.0.1:$LEAFP"
}

@test "context: Go net/http server and client, followed from the kernel side: server spans are the callers' children, every outgoing call the child of its handler's request (goroutines followed)" {
	require_cmd go
	ctx_ports
	(cd "$CTX" && GOCACHE=$BATS_TEST_TMPDIR/gocache GOPATH=$BATS_TEST_TMPDIR/gopath \
		GO111MODULE=off go build -o "$BATS_TEST_TMPDIR/go-mid" go_mid.go)
	ctx_cell http parented -- "$BATS_TEST_TMPDIR/go-mid" "$MIDP" "http://127.0.0.1:$LEAFP"
	grep -q "an outgoing net/http or grpc-go call is the child of the request whose handler goroutine made it" \
		"$BATS_TEST_TMPDIR/obs.err"
	# each of the middle's server spans is the child of the client span
	# that called it, through the traceparent it read
	"$PY" - "$RECV_OUT" "$N" <<'PYEOF'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
client = {s["span_id"]: s for s in spans if s["service"].startswith("ctx-c") and s["kind"] == 3}
mid_srv = [s for s in spans if s["service"] == "mid" and s["kind"] == 2]
ok = [s for s in mid_srv if s["parent_span_id"] in client
      and client[s["parent_span_id"]]["trace_id"] == s["trace_id"]]
print("middle server spans: %d, children of their client span: %d" % (len(mid_srv), len(ok)))
assert len(mid_srv) == 3 * int(sys.argv[2]) and len(ok) == len(mid_srv)
PYEOF
}

@test "context: Go net/http server and client with --go-inject: every trace whole through Go (the kernel inserts each call's traceparent)" {
	require_cmd go
	ctx_ports
	(cd "$CTX" && GOCACHE=$BATS_TEST_TMPDIR/gocache GOPATH=$BATS_TEST_TMPDIR/gopath \
		GO111MODULE=off go build -o "$BATS_TEST_TMPDIR/go-mid" go_mid.go)
	CTX_OBS_ARGS=--go-inject ctx_cell http followed -- "$BATS_TEST_TMPDIR/go-mid" "$MIDP" \
		"http://127.0.0.1:$LEAFP"
	grep -q -- "--go-inject: a followed Go program's net/http requests carry" "$BATS_TEST_TMPDIR/obs.err"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_go_inject_total\{result="injected"\}')" -ge $((3 * N)) ]
}

@test "context: grpc-go server and client (Debian's golang-google-grpc-dev), followed from the kernel side: every call the child of its handler's request (goroutines followed)" {
	require_cmd go
	ctx_ports
	(cd "$TOP/tests/e2e/go" && GOCACHE=$BATS_TEST_TMPDIR/gocache GOPATH=/usr/share/gocode \
		GO111MODULE=off go build -o "$BATS_TEST_TMPDIR/grpc-mid" grpc_srv.go)
	ctx_cell grpc parented -- "$BATS_TEST_TMPDIR/grpc-mid" "$MIDP" "127.0.0.1:$LEAFP"
	grep -q "an outgoing net/http or grpc-go call is the child of the request whose handler goroutine made it" \
		"$BATS_TEST_TMPDIR/obs.err"
}

@test "context: grpc-go with stream workers (a goroutine serves call after call), and --go-inject, which leaves HTTP/2 alone: never a wrong parent, each call the child of its handler's request or marked" {
	require_cmd go
	ctx_ports
	(cd "$TOP/tests/e2e/go" && GOCACHE=$BATS_TEST_TMPDIR/gocache GOPATH=/usr/share/gocode \
		GO111MODULE=off go build -o "$BATS_TEST_TMPDIR/grpc-mid" grpc_srv.go)
	# 4 workers for up to 32 calls at once: a worker takes the next call
	# while its last one's answer may still be on its way
	GRPC_STREAM_WORKERS=4 CTX_OBS_ARGS=--go-inject ctx_cell grpc goroutines -- \
		"$BATS_TEST_TMPDIR/grpc-mid" "$MIDP" "127.0.0.1:$LEAFP"
	# grpc-go's calls are no net/http request: none was touched
	grep -q -- "--go-inject: a followed Go program's net/http requests carry" "$BATS_TEST_TMPDIR/obs.err"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_go_inject_total\{')" = 0 ]
}

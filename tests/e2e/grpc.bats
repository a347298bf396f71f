#!/usr/bin/env bats
# HTTP/2 and gRPC in the shim end to end, real peers only: python3-grpcio
# client and server (h2c and TLS), a Node @grpc/grpc-js server with the
# official OpenTelemetry SDK (instrumentation-grpc), nghttpd + h2load, and
# python3-h2 for partial-write and CONTINUATION stress. Spans are checked
# by the OTLP receiver, which decodes with the official .proto files.

bats_require_minimum_version 1.5.0
load helpers

# Debian's python3: where python3-grpcio and python3-h2 are installed
DPY=/usr/bin/python3
GRPC=$TOP/tests/e2e/grpc_demo.py
H2S=$TOP/tests/e2e/h2_stress.py

setup() {
	require_bpf
	require_cmd node nghttpd h2load nghttp openssl
	if ! "$DPY" -c 'import grpc, h2' 2>/dev/null; then
		skip_unless_ci "python3-grpcio/python3-h2 missing"
		return 1
	fi
	require_node_modules
	RP=$(free_port)
	receiver_start "$RP"
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP OTEL_BSP_SCHEDULE_DELAY=100
}

teardown() {
	obs_stop
	bg_stop "${CLI_PID:-}"
	receiver_stop
}

# The gRPC server under obs-run: grpc_server SERVICE [--tls CERT KEY]
grpc_server() {
	local svc=$1
	shift
	GP=$(free_port)
	MP=$(free_port)
	obs_start "$MP" --service "$svc" -- "$DPY" "$GRPC" serve "$GP" "$@"
	wait_for listening "$GP"
}

# A gRPC client under obs-run (its output in $BATS_TEST_TMPDIR/calls)
grpc_client() {
	OBS_LOG=error "$OBS_RUN" --metrics-addr 127.0.0.1:0 --no-summary --service gcli -- \
		"$DPY" "$GRPC" call "$GP" "$@" >"$BATS_TEST_TMPDIR/calls"
}

# nghttpd (h2c) under obs-run as service h2srv, on $NP
nghttpd_start() {
	mkdir -p "$BATS_TEST_TMPDIR/www"
	echo "hello h2" >"$BATS_TEST_TMPDIR/www/index.html"
	NP=$(free_port)
	MP=$(free_port)
	obs_start "$MP" --service h2srv -- nghttpd --no-tls -d "$BATS_TEST_TMPDIR/www" "$NP"
	wait_for listening "$NP"
}

# Every server span of SERVICE is the child of a gcli client span, in its trace.
all_linked() {
	"$PY" - "$RECV_OUT" "$1" <<'PYEOF'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
cli = {s["span_id"]: s for s in spans if s["service"] == "gcli" and s["kind"] == 3}
srv = [s for s in spans if s["service"] == sys.argv[2] and s["kind"] == 2]
bad = [s for s in srv if s["parent_span_id"] not in cli or cli[s["parent_span_id"]]["trace_id"] != s["trace_id"]]
assert srv and not bad, (len(srv), bad[:2])
PYEOF
}

@test "grpcio -> grpcio (h2c): unary and streaming calls are linked spans with RPC attributes and status codes" {
	grpc_server gsrv
	grpc_client unary server_stream client_stream bidi not_found deadline unavailable
	[ "$(grep -c . "$BATS_TEST_TMPDIR/calls")" = 8 ]
	grep -q '^deadline DEADLINE_EXCEEDED' "$BATS_TEST_TMPDIR/calls"
	wait_for spans_eq "len([s for s in spans if s['service']=='gsrv'])" 7
	wait_for spans_eq "len([s for s in spans if s['service']=='gcli'])" 7
	all_linked gsrv
	"$PY" - "$RECV_OUT" <<'PYEOF'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
def one(svc, m):
    [s] = [s for s in spans if s["service"] == svc and s["attributes"].get("rpc.method") == m]
    return s
for svc in ("gsrv", "gcli"):
    u = one(svc, "Unary")
    assert u["name"] == "demo.Echo/Unary", u["name"]
    a = u["attributes"]
    assert a["rpc.system"] == "grpc" and a["rpc.service"] == "demo.Echo", a
    assert a["rpc.grpc.status_code"] == 0 and u["status"] != 2, u
    assert one(svc, "ServerStream")["attributes"]["obs.rpc.response_messages"] == 3
    assert one(svc, "ClientStream")["attributes"]["obs.rpc.request_messages"] == 4
    b = one(svc, "Bidi")["attributes"]
    assert b["obs.rpc.request_messages"] == 2 and b["obs.rpc.response_messages"] == 2, b
    for m, code in (("NotFound", 5), ("Slow", 4), ("Unavailable", 14)):
        assert one(svc, m)["attributes"]["rpc.grpc.status_code"] == code, (svc, m)
# span status per side: NOT_FOUND is the client's error, not the server's
assert one("gcli", "NotFound")["status"] == 2
assert one("gsrv", "NotFound")["status"] != 2
assert one("gsrv", "Slow")["attributes"]["error.type"] == "DEADLINE_EXCEEDED"
assert one("gcli", "Unary")["attributes"]["server.port"] > 0
PYEOF
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	for m in Unary:0 NotFound:5 Slow:4 Unavailable:14 ServerStream:0; do
		grep -q "^rpc_server_call_duration_seconds_count{rpc_system=\"grpc\",rpc_service=\"demo.Echo\",rpc_method=\"${m%:*}\",rpc_grpc_status_code=\"${m#*:}\",service=\"gsrv\"} 1" "$BATS_TEST_TMPDIR/m"
	done
	grep -q '^rpc_server_call_duration_seconds_bucket{.*le="0.005"}' "$BATS_TEST_TMPDIR/m"
	# gRPC calls are not counted as plain HTTP
	run ! grep -q '^http_server_request_duration_seconds_count' "$BATS_TEST_TMPDIR/m"
}

@test "gRPC RED counts every call at 10% sampling, calls repeated on one channel (the unexported ones counted without a record)" {
	GP=$(free_port)
	MP=$(free_port)
	obs_start "$MP" --service gsrv --sample-ratio 0.1 -- "$DPY" "$GRPC" serve "$GP"
	wait_for listening "$GP"
	CP=$(free_port)
	# three alike, then another: the module's key holds, then changes
	OBS_LOG=error "$OBS_RUN" --metrics-addr "127.0.0.1:$CP" --no-summary --service gcli \
		--sample-ratio 0.1 -- "$DPY" "$GRPC" call "$GP" unary unary unary not_found \
		--repeat 100 --linger 30 >"$BATS_TEST_TMPDIR/calls" &
	CLI_PID=$!
	WAIT_FOR_SECS=120 wait_for grep -q 'calls done' "$BATS_TEST_TMPDIR/calls"
	[ "$(grep -c '^unary ' "$BATS_TEST_TMPDIR/calls")" = 300 ]
	wait_for scrape_sum_ge "$CP" '^rpc_client_call_duration_seconds_count' 400
	wait_for scrape_sum_ge "$MP" '^rpc_server_call_duration_seconds_count' 400
	scrape "$CP" >"$BATS_TEST_TMPDIR/c"
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	for side in client:gcli:c server:gsrv:m; do
		IFS=: read -r kind svc f <<<"$side"
		grep -q "^rpc_${kind}_call_duration_seconds_count{rpc_system=\"grpc\",rpc_service=\"demo.Echo\",rpc_method=\"Unary\",rpc_grpc_status_code=\"0\",service=\"$svc\"} 300\$" "$BATS_TEST_TMPDIR/$f"
		grep -q "^rpc_${kind}_call_duration_seconds_count{rpc_system=\"grpc\",rpc_service=\"demo.Echo\",rpc_method=\"NotFound\",rpc_grpc_status_code=\"5\",service=\"$svc\"} 100\$" "$BATS_TEST_TMPDIR/$f"
	done
	# about a tenth became spans, the server's following the client's choice
	n=$(metric_sum "$BATS_TEST_TMPDIR/c" '^obs_spans_exported_total')
	[ "$n" -ge 5 ] && [ "$n" -le 120 ]
}

@test "grpcio client metrics: rpc_client_call_duration_seconds with OK, NOT_FOUND, DEADLINE_EXCEEDED, UNAVAILABLE" {
	grpc_server gsrv
	CP=$(free_port)
	OBS_LOG=error "$OBS_RUN" --metrics-addr "127.0.0.1:$CP" --no-summary --service gcli -- \
		"$DPY" "$GRPC" call "$GP" unary not_found deadline unavailable --linger 30 \
		>"$BATS_TEST_TMPDIR/calls" &
	CLI_PID=$!
	wait_for grep -q 'calls done' "$BATS_TEST_TMPDIR/calls"
	# the last call's span may still be on its way through the ring
	wait_for scrape_sum_ge "$CP" '^rpc_client_call_duration_seconds_count' 4
	scrape "$CP" >"$BATS_TEST_TMPDIR/m"
	for m in Unary:0 NotFound:5 Slow:4 Unavailable:14; do
		grep -q "^rpc_client_call_duration_seconds_count{rpc_system=\"grpc\",rpc_service=\"demo.Echo\",rpc_method=\"${m%:*}\",rpc_grpc_status_code=\"${m#*:}\",service=\"gcli\"} 1" "$BATS_TEST_TMPDIR/m"
	done
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_shim_traceparent_injected_total')" = 4 ]
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_shim_traceparent_skipped_total')" = 0 ]
}

@test "gRPC over TLS (python3-grpcio, the system libssl): spans linked through SSL_read/SSL_write" {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$BATS_TEST_TMPDIR/key.pem" -out "$BATS_TEST_TMPDIR/cert.pem" 2>/dev/null
	grpc_server gtls --tls "$BATS_TEST_TMPDIR/cert.pem" "$BATS_TEST_TMPDIR/key.pem"
	grpc_client unary server_stream not_found --tls "$BATS_TEST_TMPDIR/cert.pem"
	grep -q '^unary OK 1' "$BATS_TEST_TMPDIR/calls"
	grep -q '^server_stream OK 3' "$BATS_TEST_TMPDIR/calls"
	wait_for spans_eq "len([s for s in spans if s['service']=='gtls'])" 3
	all_linked gtls
	[ "$(span_q "[s for s in spans if s['service']=='gtls' and s['attributes'].get('rpc.method')=='NotFound'][0]['attributes']['rpc.grpc.status_code']")" = 5 ]
}

@test "Node grpc-js + OpenTelemetry SDK server: its span is the child of our grpcio client span" {
	GP=$(free_port)
	MP=$(free_port)
	obs_start "$MP" --service node-shim -- node "$NODE_DIR/grpc_service.js" "$GP" \
		"http://127.0.0.1:$RP/v1/traces"
	wait_for listening "$GP"
	grpc_client unary not_found server_stream
	grep -q '^unary OK 1' "$BATS_TEST_TMPDIR/calls"
	grep -q '^not_found NOT_FOUND 0' "$BATS_TEST_TMPDIR/calls"
	wait_for spans_eq "len([s for s in spans if s['service']=='node-grpc'])" 3
	wait_for spans_eq "len([s for s in spans if s['service']=='node-shim' and s['kind']==2])" 3
	# both the SDK's server span and our shim's (on Node's writev) are children
	all_linked node-grpc
	all_linked node-shim
	[ "$(span_q "[s for s in spans if s['service']=='node-grpc' and 'NotFound' in s['name']][0]['attributes']['rpc.grpc.status_code']")" = 5 ]
}

@test "h2load against nghttpd (h2c), both under obs-run: every request injected, zero errors" {
	nghttpd_start
	OBS_LOG=error "$OBS_RUN" --metrics-addr 127.0.0.1:0 --service gcli -- \
		h2load -n 2000 -c 4 -m 100 "http://127.0.0.1:$NP/index.html" >"$BATS_TEST_TMPDIR/h2load" 2>&1
	grep -q '2000 succeeded, 0 failed, 0 errored' "$BATS_TEST_TMPDIR/h2load"
	grep -q 'status codes: 2000 2xx' "$BATS_TEST_TMPDIR/h2load"
	grep -q 'traceparent: injected into 2000 requests, 0 sent without' "$BATS_TEST_TMPDIR/h2load"
	wait_for spans_eq "len([s for s in spans if s['service']=='h2srv'])" 2000
	all_linked h2srv
	[ "$(span_q "[s for s in spans if s['service']=='h2srv'][0]['attributes']['network.protocol.version']")" = 2 ]
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	grep -q '^http_server_request_duration_seconds_count{http_request_method="GET",http_route="/index.html",http_response_status_code="200",service="h2srv"} 2000' "$BATS_TEST_TMPDIR/m"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_shim_parse_errors_total')" = 0 ]
}

@test "many concurrent gRPC streams on one connection: every call completes and is traced" {
	grpc_server gsrv
	OBS_LOG=error "$OBS_RUN" --metrics-addr 127.0.0.1:0 --service gcli -- \
		"$DPY" "$GRPC" call "$GP" unary server_stream bidi --threads 16 --repeat 25 --shared \
		>"$BATS_TEST_TMPDIR/calls" 2>"$BATS_TEST_TMPDIR/summary"
	[ "$(grep -c ' OK ' "$BATS_TEST_TMPDIR/calls")" = 1200 ]
	cat "$BATS_TEST_TMPDIR/summary" # bats shows it if a check below fails
	grep -q 'traceparent: injected into 1200 requests, 0 sent without' "$BATS_TEST_TMPDIR/summary"
	wait_for spans_eq "len([s for s in spans if s['service']=='gsrv'])" 1200
	all_linked gsrv
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_shim_parse_errors_total')" = 0 ]
}

@test "HTTP/2 injection under partial writes: 1-byte reads, minimal SO_SNDBUF, CONTINUATION both ways" {
	SP=$(free_port)
	"$DPY" "$H2S" serve "$SP" "$BATS_TEST_TMPDIR/raw" >"$BATS_TEST_TMPDIR/report" &
	SRV=$!
	wait_for listening "$SP"
	OBS_LOG=error "$OBS_RUN" --metrics-addr 127.0.0.1:0 --service gcli -- \
		"$DPY" "$H2S" call "$SP" 300 >"$BATS_TEST_TMPDIR/client" 2>&1
	wait "$SRV"
	grep -q '^done 300' "$BATS_TEST_TMPDIR/client"
	grep -q 'injected into 300 requests, 0 sent without' "$BATS_TEST_TMPDIR/client"
	"$PY" - "$BATS_TEST_TMPDIR/report" <<'PYEOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert r["errors"] == [], r["errors"]
assert r["requests"] == 300 and r["one_traceparent"] == 300, r
assert r["bodies"] == 100 and r["bodies_ok"] == 100, r
# one CONTINUATION the app made (its 20 KB block) and one obs made (a
# block that no longer fit the peer's 16 KiB frames once grown)
assert r["continuation_frames"] == 2, r
PYEOF
}

@test "HTTP/2 client that sets its own traceparent: respected, never duplicated" {
	SP=$(free_port)
	"$DPY" "$H2S" serve "$SP" >"$BATS_TEST_TMPDIR/report" &
	SRV=$!
	wait_for listening "$SP"
	tp=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
	OBS_LOG=error "$OBS_RUN" --metrics-addr 127.0.0.1:0 --service gcli -- \
		nghttp -H "traceparent: $tp" "http://127.0.0.1:$SP/app" >/dev/null
	wait "$SRV"
	"$PY" - "$BATS_TEST_TMPDIR/report" "$tp" <<'PYEOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert r["requests"] == 1 and r["traceparents"] == [sys.argv[2]], r
PYEOF
	# our client span is the app's context's child
	wait_for spans_eq "len([s for s in spans if s['service']=='gcli'])" 1
	[ "$(span_q "[s for s in spans if s['service']=='gcli'][0]['parent_span_id']")" = b7ad6b7169203331 ]
}

@test "malformed HTTP/2 and a bad traceparent pass through: nghttpd answers as without obs" {
	nghttpd_start
	# preface, then a HEADERS frame whose HPACK block indexes past every table
	"$PY" - "$NP" >"$BATS_TEST_TMPDIR/reply" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
          + b"\x00\x00\x02\x01\x05\x00\x00\x00\x01\xff\x7f")
s.settimeout(5)
data = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
except socket.timeout:
    pass
# the server's GOAWAY carries COMPRESSION_ERROR (9): it saw our bytes as sent
i = data.find(b"\x07\x00\x00\x00\x00\x00")
print("goaway", int.from_bytes(data[i + 10:i + 14], "big") if i >= 3 else -1)
PYEOF
	grep -q '^goaway 9' "$BATS_TEST_TMPDIR/reply"
	# a bad traceparent reaches the server unchanged, and restarts the trace
	nghttp -H 'traceparent: 00-not-a-valid-traceparent-01' "http://127.0.0.1:$NP/index.html" | grep -q 'hello h2'
	# the server is unharmed
	h2load -n 100 -c 1 "http://127.0.0.1:$NP/index.html" | grep -q '100 succeeded'
	wait_for spans_eq "len([s for s in spans if s['service']=='h2srv'])" 101
	[ "$(span_q "len([s for s in spans if s['service']=='h2srv' and s['parent_span_id']==''])")" = 101 ]
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_shim_parse_errors_total')" -ge 1 ]
}

@test "GOAWAY before a stream was processed ends its span with an error" {
	SP=$(free_port)
	"$DPY" "$H2S" goaway "$SP" >/dev/null &
	SRV=$!
	wait_for listening "$SP"
	# nghttp reports the refused stream and exits 0 (as it does without
	# obs); obs-run passes that on: not its own error (125), not a timeout
	run env OBS_LOG=error "$OBS_RUN" --metrics-addr 127.0.0.1:0 --no-summary --service gcli -- \
		nghttp -t 5 "http://127.0.0.1:$SP/refused"
	echo "status $status: $output"
	[ "$status" -eq 0 ]
	[[ $output == *"Some requests were not processed"* ]]
	wait "$SRV"
	wait_for spans_eq "len([s for s in spans if s['service']=='gcli'])" 1
	[ "$(span_q "[s for s in spans if s['service']=='gcli'][0]['attributes'].get('error.type')")" = goaway ]
	[ "$(span_q "[s for s in spans if s['service']=='gcli'][0]['status']")" = 2 ]
}

@test "a long-lived bidi stream: one span with every message counted, and its state freed" {
	grpc_server gsrv
	grpc_client bidi_long unary
	grep -q '^bidi_long OK 1000' "$BATS_TEST_TMPDIR/calls"
	wait_for spans_eq "len([s for s in spans if s['service']=='gsrv'])" 2
	"$PY" - "$RECV_OUT" <<'PYEOF'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
for svc in ("gsrv", "gcli"):
    [b] = [s for s in spans if s["service"] == svc and s["attributes"].get("rpc.method") == "Bidi"]
    a = b["attributes"]
    assert a["obs.rpc.request_messages"] == 1000 and a["obs.rpc.response_messages"] == 1000, (svc, a)
    assert a["rpc.grpc.status_code"] == 0, a
PYEOF
	all_linked gsrv
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_shim_connections_untracked_total')" = 0 ]
}

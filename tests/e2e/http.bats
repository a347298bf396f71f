#!/usr/bin/env bats
# The HTTP/1 shim end to end: real nginx (plain and TLS), curl, a Python
# service, a Node service instrumented with the official OpenTelemetry SDK,
# and an OTLP receiver that decodes with the official .proto files.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	require_bpf
	require_cmd nginx curl node openssl
	require_node_modules
	export OTEL_BSP_SCHEDULE_DELAY=100
}

teardown() {
	obs_stop
	bg_stop "${SRV:-}"
	bg_stop "${NODE_PID:-}"
	receiver_stop
}

# obs-run a one-shot client (curl ...) with its own throwaway metrics port.
client() {
	OBS_LOG=error "$OBS_RUN" --metrics-addr 127.0.0.1:0 --no-summary --service client \
		--spans-file "$BATS_TEST_TMPDIR/client-spans.jsonl" -- "$@"
}

nginx_start() {
	NGX=$BATS_TEST_TMPDIR/ngx
	NP=$(free_port)
	TLSP=$(free_port)
	MP=$(free_port)
	sh "$TOP/scripts/nginx-conf.sh" "$NGX" "$NP" "$TLSP"
	obs_start "$MP" --service web -- nginx -c "$NGX/nginx.conf" -p "$NGX"
	wait_for curl -fsS "http://127.0.0.1:$NP/"
}

# check_pair TRACEPARENT: the client span has that context and the nginx
# server span is its child.
check_pair() {
	local tp=$1 trace sid
	[[ $tp =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$ ]]
	trace=${tp:3:32}
	sid=${tp:36:16}
	wait_for spans_eq "len([s for s in spans if s['service']=='web' and s['kind']==2 and s['parent_span_id']=='$sid' and s['trace_id']=='$trace'])" 1
	[ "$(span_q "len([s for s in spans if s['service']=='client' and s['kind']==3 and s['span_id']=='$sid' and s['trace_id']=='$trace'])")" = 1 ]
}

@test "curl -> nginx (plain): nginx logs the client span's traceparent; the server span is its child" {
	RP=$(free_port)
	receiver_start "$RP"
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP
	nginx_start
	run client curl -fsS "http://127.0.0.1:$NP/index.html?user=secret"
	[ "$status" -eq 0 ]
	[[ $output == *"hello from nginx"* ]]
	tp=$(grep 'GET /index.html' "$NGX/logs/access.log" | tail -1 | sed 's/.*tp=//')
	check_pair "$tp"
	# semantic-convention attributes; the query string never leaves obs
	[ "$(span_q "[s for s in spans if s['service']=='web' and s['kind']==2 and s['attributes'].get('url.path')=='/index.html'][0]['attributes']['http.route']")" = /index.html ]
	[ "$(span_q "[s for s in spans if s['service']=='client'][0]['attributes']['http.response.status_code']")" = 200 ]
	run ! grep -q secret "$RECV_OUT"
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	grep -q 'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/index.html",http_response_status_code="200",service="web"}' "$BATS_TEST_TMPDIR/m"
	grep -q 'le="0.005"' "$BATS_TEST_TMPDIR/m"
}

@test "curl -> nginx (TLS): traceparent injected through SSL_write, logged by nginx, server span over SSL_read" {
	RP=$(free_port)
	receiver_start "$RP"
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP
	nginx_start
	run client curl -fsS --cacert "$NGX/cert.pem" "https://127.0.0.1:$TLSP/index.html"
	[ "$status" -eq 0 ]
	[[ $output == *"hello from nginx"* ]]
	tp=$(grep 'GET /index.html' "$NGX/logs/access.log" | tail -1 | sed 's/.*tp=//')
	check_pair "$tp"
	# this request's server span (by its trace: the readiness check's plain
	# one, from another worker's ring, may well be received after it)
	[ "$(span_q "[s for s in spans if s['service']=='web' and s['kind']==2 and s['trace_id']=='${tp:3:32}'][0]['attributes']['url.scheme']")" = https ]
	[[ $(span_q "[s for s in spans if s['service']=='client'][0]['attributes']['url.full']") == https://* ]]
}

@test "three hops: curl -> Python http.server -> Node with the OpenTelemetry SDK share one trace" {
	RP=$(free_port)
	NODEP=$(free_port)
	MIDP=$(free_port)
	MP=$(free_port)
	receiver_start "$RP"
	node "$NODE_DIR/service.js" "$NODEP" "http://127.0.0.1:$RP/v1/traces" &
	NODE_PID=$!
	wait_for curl -fsS "http://127.0.0.1:$NODEP/"
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP OTEL_EXPORTER_OTLP_COMPRESSION=gzip
	obs_start "$MP" --service mid -- "$PY" "$TOP/tests/e2e/mid.py" "$MIDP" "http://127.0.0.1:$NODEP"
	wait_for listening "$MIDP"
	run client curl -fsS "http://127.0.0.1:$MIDP/chain"
	[ "$status" -eq 0 ]
	[[ $output == "node ok traceparent=00-"* ]]
	# the Node SDK's server span is the last hop
	wait_for spans_eq "len([s for s in spans if s['service']=='node-sdk' and s['kind']==2 and s['attributes'].get('url.path', s['attributes'].get('http.target', '')).startswith('/chain')])" 1
	wait_for spans_eq "len([s for s in spans if s['service']=='mid'])" 2
	"$PY" - "$RECV_OUT" <<'PYEOF'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
cli = [s for s in spans if s["service"] == "client"][0]
srv = [s for s in spans if s["service"] == "mid" and s["kind"] == 2][0]
out = [s for s in spans if s["service"] == "mid" and s["kind"] == 3][0]
node = [s for s in spans if s["service"] == "node-sdk" and s["kind"] == 2 and "/chain" in json.dumps(s["attributes"])][0]
assert len({cli["trace_id"], srv["trace_id"], out["trace_id"], node["trace_id"]}) == 1, "one trace"
assert cli["parent_span_id"] == "", cli
assert srv["parent_span_id"] == cli["span_id"], (srv, cli)
assert out["parent_span_id"] == srv["span_id"], (out, srv)
assert node["parent_span_id"] == out["span_id"], (node, out)
assert out["start"] >= srv["start"] and out["end"] <= srv["end"], "client span inside server span"
PYEOF
	grep -q '"encoding":"gzip"' "$RECV_OUT.requests"
}

# A Python echo server under obs-run; plain curl (no shim) drives it.
echo_start() {
	EP=$(free_port)
	MP=$(free_port)
	obs_start "$MP" --service echo "$@" -- "$PY" "$TOP/tests/e2e/echo_server.py" "$EP"
	wait_for curl -fsS "http://127.0.0.1:$EP/warmup"
}

@test "OTLP: 503, 503 then 200 is retried and nothing is lost" {
	RP=$(free_port)
	receiver_start "$RP" 503,429:1
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP OTEL_BSP_SCHEDULE_DELAY=500
	echo_start
	for i in 1 2 3 4; do curl -fsS "http://127.0.0.1:$EP/r/$i" >/dev/null; done
	wait_for spans_eq "len([s for s in spans if s['service']=='echo'])" 5
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_span_export_retries_total')" -ge 2 ]
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_dropped_total')" = 0 ]
	grep -q '"fault":"503"' "$RECV_OUT.requests"
}

@test "OTLP: 400 drops the batch, counted, not retried" {
	RP=$(free_port)
	receiver_start "$RP" 400
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP OTEL_BSP_SCHEDULE_DELAY=500
	echo_start
	for i in 1 2; do curl -fsS "http://127.0.0.1:$EP/r/$i" >/dev/null; done
	wait_scrape "$MP" 'reason="export_rejected"} [1-9]'
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_span_export_retries_total')" = 0 ]
	grep -q 'answered HTTP 400' "$BATS_TEST_TMPDIR/obs.err"
}

@test "OTLP: partial_success rejections are counted and reported" {
	RP=$(free_port)
	receiver_start "$RP" partial:2
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP OTEL_BSP_SCHEDULE_DELAY=500
	echo_start
	for i in 1 2 3; do curl -fsS "http://127.0.0.1:$EP/r/$i" >/dev/null; done
	# The first batch may hold only the warm-up span if the export timer
	# fires before the next request: a receiver claiming more rejections
	# than the batch held is counted as rejecting the whole batch.
	wait_for grep -q '"fault":"partial:2"' "$RECV_OUT.requests"
	n=$(grep '"fault":"partial:2"' "$RECV_OUT.requests" | sed 's/.*"spans":\([0-9]*\).*/\1/')
	want=$((n < 2 ? n : 2))
	wait_scrape "$MP" "reason=\"partial_success\"} $want\$"
	grep -q "rejected $want of $n spans" "$BATS_TEST_TMPDIR/obs.err"
	# The rest of that batch and every later one count as exported.
	wait_scrape "$MP" "^obs_spans_exported_total $((4 - want))\$"
}

@test "OTLP: receiver down: the app is unaffected; past the bounded queue the spans wait in the process's ring, none dropped, and all arrive once the receiver is up" {
	RP=$(free_port)
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP OTEL_BSP_MAX_QUEUE_SIZE=8 \
		OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4 OTEL_BSP_SCHEDULE_DELAY=200
	echo_start
	start=$(date +%s%N)
	for i in $(seq 60); do curl -fsS "http://127.0.0.1:$EP/r/$i" >/dev/null; done
	elapsed=$((($(date +%s%N) - start) / 1000000))
	[ "$elapsed" -lt 10000 ]
	# metrics still count every request (the last may take a moment to drain)
	wait_for scrape_sum_ge "$MP" '^http_server_request_duration_seconds_count' 60
	# 8 spans fill the queue; the other 53 wait where the app wrote them
	sleep 2
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	grep '^obs_spans_' "$BATS_TEST_TMPDIR/m"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_dropped_total')" = 0 ]
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_received_total')" -le 16 ]
	receiver_start "$RP"
	# retried with backoff, then every span, the warm-up's too
	WAIT_FOR_SECS=60 wait_scrape "$MP" '^obs_spans_exported_total 61$'
	wait_for eval '[ "$(grep -c "\"/r/" "$RECV_OUT")" = 60 ]'
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_dropped_total')" = 0 ]
}

@test "OTLP: a batch over 1 MiB goes without 'Expect: 100-continue' (a receiver that never answers it cost a second a batch)" {
	RP=$(free_port)
	receiver_start "$RP"
	# uncompressed, ~320 bytes a span: 4 096 spans are ~1.3 MB
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP OTEL_BSP_MAX_QUEUE_SIZE=8192 \
		OTEL_BSP_MAX_EXPORT_BATCH_SIZE=4096 OTEL_BSP_SCHEDULE_DELAY=20000
	nginx_start
	curl -fsS -o /dev/null "http://127.0.0.1:$NP/?n=[1-4200]"
	wait_for grep -q '"spans":4096' "$RECV_OUT.requests"
	cat "$RECV_OUT.requests"
	big=$(grep '"spans":4096' "$RECV_OUT.requests" | head -1)
	[ "$(echo "$big" | sed 's/.*"bytes":\([0-9]*\).*/\1/')" -gt 1048576 ]
	run grep -c '"expect":null' "$RECV_OUT.requests"
	[ "$output" = "$(wc -l <"$RECV_OUT.requests")" ]
}

# A CA, a server certificate for 127.0.0.1 and a client certificate, all
# signed by it, in $BATS_TEST_TMPDIR.
otlp_pki() {
	local d=$BATS_TEST_TMPDIR
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=otlp test CA" \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$d/san.ext"
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$d/srv.key" -out "$d/srv.csr" 2>/dev/null
	openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/san.ext" -out "$d/srv.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=obs-node-7" \
		-keyout "$d/cli.key" -out "$d/cli.csr" 2>/dev/null
	openssl x509 -req -in "$d/cli.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -out "$d/cli.crt" 2>/dev/null
}

@test "OTLP over HTTPS with mutual TLS: the CA and client certificate from OTEL_EXPORTER_OTLP_* (or the config file) reach the receiver; a CA that does not sign it drops, counted and said why; bad files are clear errors" {
	local d=$BATS_TEST_TMPDIR
	otlp_pki
	RP=$(free_port)
	TLS_CERT=$d/srv.crt TLS_KEY=$d/srv.key TLS_CA=$d/ca.crt receiver_start "$RP"
	export OTEL_EXPORTER_OTLP_ENDPOINT=https://127.0.0.1:$RP OTEL_BSP_SCHEDULE_DELAY=200 \
		OTEL_EXPORTER_OTLP_COMPRESSION=gzip OTEL_EXPORTER_OTLP_CERTIFICATE=$d/ca.crt \
		OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=$d/cli.crt OTEL_EXPORTER_OTLP_CLIENT_KEY=$d/cli.key
	echo_start
	for i in 1 2 3; do curl -fsS "http://127.0.0.1:$EP/tls/$i" >/dev/null; done
	wait_for spans_eq "len([s for s in spans if s['attributes'].get('url.path','').startswith('/tls/')])" 3
	grep -q '"client_cn":"obs-node-7"' "$RECV_OUT.requests"
	grep -q '"encoding":"gzip"' "$RECV_OUT.requests"
	scrape "$MP" >"$d/m"
	[ "$(metric_sum "$d/m" '^obs_spans_dropped_total')" = 0 ]
	[ "$(metric_sum "$d/m" '^obs_span_export_retries_total')" = 0 ]
	obs_stop
	# the same from the config file, the environment unset
	unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_CERTIFICATE \
		OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE OTEL_EXPORTER_OTLP_CLIENT_KEY
	cat >"$d/obs.yaml" <<-EOF
		tracing:
		  endpoint: https://127.0.0.1:$RP
		  certificate: $d/ca.crt
		  client_certificate: $d/cli.crt
		  client_key: $d/cli.key
	EOF
	echo_start --config "$d/obs.yaml"
	curl -fsS "http://127.0.0.1:$EP/tls-file" >/dev/null
	wait_for spans_eq "len([s for s in spans if s['attributes'].get('url.path')=='/tls-file'])" 1
	obs_stop
	# a CA that did not sign the receiver's certificate: nothing is sent,
	# the spans are dropped and counted, and the log says why
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" \
		-keyout "$d/other.key" -out "$d/other.crt" 2>/dev/null
	export OTEL_EXPORTER_OTLP_ENDPOINT=https://127.0.0.1:$RP OTEL_EXPORTER_OTLP_CERTIFICATE=$d/other.crt
	n=$(wc -l <"$RECV_OUT.requests")
	echo_start
	curl -fsS "http://127.0.0.1:$EP/untrusted" >/dev/null
	wait_scrape "$MP" 'reason="export_failed"} [1-9]'
	grep -q 'OTLP: https://127.0.0.1:[0-9]*/v1/traces: TLS refused (.*certificate.*): [0-9]* spans dropped (not retryable)' "$d/obs.err" || {
		cat "$d/obs.err"
		return 1
	}
	[ "$(wc -l <"$RECV_OUT.requests")" = "$n" ]
	scrape "$MP" >"$d/m"
	[ "$(metric_sum "$d/m" '^obs_span_export_retries_total')" = 0 ]
	obs_stop
	# files that cannot be read, a certificate without its key, TLS
	# settings for a plain http:// endpoint: obs-run stops before CMD runs
	OTEL_EXPORTER_OTLP_CERTIFICATE=$d/missing.crt run "$OBS_RUN" --no-metrics -- true
	[ "$status" -eq 125 ]
	[[ $output == *"OTLP CA certificate (tracing.certificate) $d/missing.crt: No such file or directory"* ]]
	OTEL_EXPORTER_OTLP_CERTIFICATE= OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=$d/cli.crt run "$OBS_RUN" --no-metrics -- true
	[ "$status" -eq 125 ]
	[[ $output == *"needs its key"* ]]
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP OTEL_EXPORTER_OTLP_CERTIFICATE=$d/ca.crt run "$OBS_RUN" --no-metrics -- true
	[ "$status" -eq 125 ]
	[[ $output == *"the endpoint is not https://"* ]]
}

@test "no endpoint: no span in the app's stdout, metrics count every request; --spans-file - writes JSON lines" {
	unset OTEL_EXPORTER_OTLP_ENDPOINT
	echo_start
	grep -q 'spans: not exported (set OTEL_EXPORTER_OTLP_ENDPOINT, or --spans-file FILE' "$BATS_TEST_TMPDIR/obs.err"
	for i in 1 2 3; do
		curl -fsS "http://127.0.0.1:$EP/users/42/orders/7f3c9a8e1b2d4c5f6a7b8c9d0e1f2a3b" >/dev/null
	done
	wait_for scrape_sum_ge "$MP" '^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="/users/\{id\}/orders/\{id\}"' 3
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_received_total')" = 0 ]
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_unsampled_total')" -ge 3 ]
	obs_stop
	[ "$(grep -c '"kind"' "$BATS_TEST_TMPDIR/obs.out")" = 0 ]
	# asked for: JSON lines on stdout at once
	echo_start --spans-file -
	curl -fsS "http://127.0.0.1:$EP/users/42/orders/7f3c9a8e1b2d4c5f6a7b8c9d0e1f2a3b" >/dev/null
	wait_for grep -q '"http.route":"/users/{id}/orders/{id}"' "$BATS_TEST_TMPDIR/obs.out"
	grep -q '"kind":"server"' "$BATS_TEST_TMPDIR/obs.out"
}

@test "--route patterns name routes; bad patterns and bad OTLP settings are clear errors" {
	unset OTEL_EXPORTER_OTLP_ENDPOINT
	echo_start --route '/users/{user}/orders/{order}'
	curl -fsS "http://127.0.0.1:$EP/users/42/orders/abc" >/dev/null
	wait_scrape "$MP" 'http_route="/users/{user}/orders/{order}"'
	obs_stop
	run "$OBS_RUN" --no-metrics --route 'users' -- true
	[ "$status" -eq 2 ]
	[[ $output == *"starts with '/'"* ]]
	run "$OBS_RUN" --no-metrics --route '/a/*/b' -- true
	[ "$status" -eq 125 ]
	[[ $output == *"'*' is only allowed as the last segment (in --route)"* ]]
	OTEL_EXPORTER_OTLP_PROTOCOL=grpc run "$OBS_RUN" --no-metrics -- true
	[ "$status" -eq 125 ]
	[[ $output == *"http/protobuf"* ]]
	OTEL_EXPORTER_OTLP_ENDPOINT=localhost:4318 run "$OBS_RUN" --no-metrics -- true
	[ "$status" -eq 125 ]
	[[ $output == *"must start with http://"* ]]
}

@test "an app's own traceparent is respected, never duplicated; obs-run curl sends a fresh valid one" {
	unset OTEL_EXPORTER_OTLP_ENDPOINT
	EP=$(free_port)
	"$PY" "$TOP/tests/e2e/echo_server.py" "$EP" &
	SRV=$!
	wait_for curl -fsS "http://127.0.0.1:$EP/"
	own=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
	run client curl -fsS -H "traceparent: $own" "http://127.0.0.1:$EP/own"
	[ "$status" -eq 0 ]
	[[ $output == "GET /own tp=1 $own ts=None body=0"* ]]
	run client curl -fsS "http://127.0.0.1:$EP/fresh"
	[[ $output =~ ^GET\ /fresh\ tp=1\ 00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]\ ts=None ]]
	# without a collector the shim still propagates
	run env LD_PRELOAD="$TOP/build/libobs_preload.so" curl -fsS "http://127.0.0.1:$EP/bare"
	[[ $output =~ ^GET\ /bare\ tp=1\ 00- ]]
}

@test "incoming context: valid parents are kept, invalid traceparent restarts the trace" {
	RP=$(free_port)
	receiver_start "$RP"
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP
	echo_start
	curl -fsS -H 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' \
		-H 'tracestate: congo=t61rcWkgMzE' "http://127.0.0.1:$EP/good" >/dev/null
	for c in bad-tp-zero bad-tp-ff bad-tp-upper bad-tp-long two-tp; do
		"$PY" "$TOP/tests/e2e/rawclient.py" "$EP" "$c" >/dev/null
	done
	wait_for spans_eq "len([s for s in spans if s['service']=='echo' and s['attributes'].get('url.path') in ('/z','/ff','/up','/long','/two')])" 5
	[ "$(span_q "[s for s in spans if s['attributes'].get('url.path')=='/good'][0]['parent_span_id']")" = b7ad6b7169203331 ]
	[ "$(span_q "[s for s in spans if s['attributes'].get('url.path')=='/good'][0]['trace_state']")" = congo=t61rcWkgMzE ]
	# every invalid one: a new root (no parent), a real trace id
	[ "$(span_q "sorted(set((s['parent_span_id'], s['trace_id'] in ('0af7651916cd43dd8448eb211c80319c', '0'*32)) for s in spans if s['attributes'].get('url.path') in ('/z','/ff','/up','/long','/two')))")" = "[('', False)]" ]
}

@test "tracestate follows the trace: incoming on the server span, injected on the outgoing call" {
	DP=$(free_port)
	"$PY" "$TOP/tests/e2e/echo_server.py" "$DP" &
	SRV=$!
	wait_for curl -fsS "http://127.0.0.1:$DP/"
	MIDP=$(free_port)
	MP=$(free_port)
	obs_start "$MP" --service mid --spans-file "$BATS_TEST_TMPDIR/mid.jsonl" -- \
		"$PY" "$TOP/tests/e2e/mid.py" "$MIDP" "http://127.0.0.1:$DP"
	wait_for curl -fsS "http://127.0.0.1:$MIDP/warmup"
	run curl -fsS -H 'traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' \
		-H 'tracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' "http://127.0.0.1:$MIDP/ts"
	bg_stop "$SRV"
	SRV=
	[ "$status" -eq 0 ]
	# the downstream saw our client span's context in the same trace, and the tracestate
	[[ $output =~ ^GET\ /ts\ tp=1\ 00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01\ ts=congo=t61rcWkgMzE,rojo=00f067aa0ba902b7 ]]
	child=$(echo "$output" | sed -E 's/.*00-0af7651916cd43dd8448eb211c80319c-([0-9a-f]{16})-01.*/\1/')
	wait_for grep -q "\"span_id\":\"$child\"" "$BATS_TEST_TMPDIR/mid.jsonl"
	grep "\"span_id\":\"$child\"" "$BATS_TEST_TMPDIR/mid.jsonl" | grep -q '"kind":"client"'
}

@test "malformed and unusual traffic passes through unchanged: same answers with and without obs" {
	EP=$(free_port)
	"$PY" "$TOP/tests/e2e/echo_server.py" "$EP" &
	SRV=$!
	wait_for curl -fsS "http://127.0.0.1:$EP/"
	cases="garbage not-http huge-header many-headers truncated truncated-body bad-tp-zero bad-tp-long two-tp pipelined chunked split bytes-1"
	for c in $cases; do "$PY" "$TOP/tests/e2e/rawclient.py" "$EP" "$c" >"$BATS_TEST_TMPDIR/bare.$c"; done
	bg_stop "$SRV"
	SRV=
	echo_start
	for c in $cases; do
		"$PY" "$TOP/tests/e2e/rawclient.py" "$EP" "$c" >"$BATS_TEST_TMPDIR/obs.$c"
		diff "$BATS_TEST_TMPDIR/bare.$c" "$BATS_TEST_TMPDIR/obs.$c"
	done
	# and the server is still healthy under obs
	curl -fsS "http://127.0.0.1:$EP/after" | grep -q 'GET /after'
	grep -q 'GET /p1' "$BATS_TEST_TMPDIR/obs.pipelined"
}

@test "injection under partial writes: exact bytes on the wire, exact counts to the app" {
	run env LD_PRELOAD="$TOP/build/libobs_preload.so" "$PY" "$TOP/tests/e2e/partial_write.py"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == ok* ]]
}

@test "an app whose seccomp policy allows write and send, not writev or sendmsg: its requests carry the traceparent, through the calls it made" {
	require_cmd strace
	nginx_start
	# every syscall of this machine's list but the two
	awk '/^#define __NR_/ { print substr($2, 6) }' /usr/include/x86_64-linux-gnu/asm/unistd_64.h |
		grep -vx 'writev\|sendmsg' | sed '1i default 1' >"$BATS_TEST_TMPDIR/allow"
	run client "$TOP/build/tests/seccomp_exec" "$BATS_TEST_TMPDIR/allow" \
		"$PY" "$TOP/tests/e2e/own_calls.py" "$NP"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'HTTP/1.1 404' <<<"$output")" = 2 ]
	for p in own-send own-write; do
		tp=$(grep "GET /$p " "$NGX/logs/access.log" | sed 's/.*tp=//')
		[[ $tp =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$ ]]
	done
	# and the calls are the app's own: send stays send (sendto), write stays write
	run env LD_PRELOAD="$TOP/build/libobs_preload.so" strace -f -s 300 -e trace=sendto,sendmsg,write,writev \
		"$PY" "$TOP/tests/e2e/own_calls.py" "$NP"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'sendto(.*GET /own-send HTTP/1.1.*traceparent: 00-' <<<"$output"
	grep -q 'write(.*GET /own-write HTTP/1.1.*traceparent: 00-' <<<"$output"
	run ! grep -Eq '^(\[pid +[0-9]+\] )?(writev|sendmsg)\(' <<<"$output"
}

@test "the shim does nothing in setuid programs and with OBS_PRELOAD_DISABLE=1" {
	EP=$(free_port)
	"$PY" "$TOP/tests/e2e/echo_server.py" "$EP" &
	SRV=$!
	wait_for curl -fsS "http://127.0.0.1:$EP/"
	run env OBS_PRELOAD_DISABLE=1 LD_PRELOAD="$TOP/build/libobs_preload.so" curl -fsS "http://127.0.0.1:$EP/off"
	[[ $output == "GET /off tp=0 "* ]]
	# A real setuid program: a copy of curl, set-user-ID to nobody and run
	# by root (so the kernel sets AT_SECURE). ld.so ignores LD_PRELOAD
	# there, but not /etc/ld.so.preload: in a mount namespace of the
	# test's own, an overlay on /etc preloads the shim into every program.
	# The plain copy shows the shim at work; the setuid copy loads it (its
	# own /proc/self/maps, read by curl itself) and gets no traceparent.
	local T
	T=$(mktemp -d /tmp/obs-suid.XXXXXX)
	chmod 755 "$T"
	mkdir "$T/up" "$T/work"
	cp "$TOP/build/libobs_preload.so" "$(command -v curl)" "$T/"
	cp "$T/curl" "$T/curl-suid"
	chown nobody "$T/curl-suid"
	chmod 4755 "$T/curl-suid"
	run unshare -m --propagation private sh -c "
		mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/up,workdir=$T/work /etc &&
		echo $T/libobs_preload.so >/etc/ld.so.preload &&
		$T/curl -fsS http://127.0.0.1:$EP/plain && echo &&
		$T/curl-suid -fsS http://127.0.0.1:$EP/suid file:///proc/self/maps"
	rm -rf "$T"
	echo "$output" | head -3
	[ "$status" -eq 0 ]
	[[ $output == *"GET /plain tp=1 00-"* ]]
	[[ $output == *"GET /suid tp=0 "* ]]
	[[ $output == *"$T/libobs_preload.so"* ]]
}

@test "Python's ssl module (libssl loaded by a dlopen'ed _ssl) through the shim: HTTPS works, traceparent reaches nginx" {
	RP=$(free_port)
	receiver_start "$RP"
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$RP
	nginx_start
	run client "$PY" -c "import ssl, urllib.request as u
ctx = ssl.create_default_context(cafile='$NGX/cert.pem')
print(u.urlopen('https://127.0.0.1:$TLSP/index.html', context=ctx).read().decode())"
	[ "$status" -eq 0 ]
	[[ $output == *"hello from nginx"* ]]
	tp=$(grep 'GET /index.html' "$NGX/logs/access.log" | tail -1 | sed 's/.*tp=//')
	check_pair "$tp"
}

@test "a child started with an environment of its own (execve with a fresh envp) keeps the shim; OBS_PRELOAD_INHERIT=0 lets it go" {
	EP=$(free_port)
	"$PY" "$TOP/tests/e2e/echo_server.py" "$EP" &
	SRV=$!
	wait_for curl -fsS "http://127.0.0.1:$EP/"
	run "$OBS_RUN" --metrics-addr 127.0.0.1:0 --no-summary --service parent \
		--spans-file "$BATS_TEST_TMPDIR/spans.jsonl" --sample-ratio 1 -- "$PY" -c "
import os, subprocess
def child(path):
    # what a supervisor does: a clean environment, only PATH
    r = subprocess.run(['curl', '-fsS', 'http://127.0.0.1:$EP' + path],
                       env={'PATH': '/usr/bin:/bin'}, capture_output=True)
    print(r.stdout.decode().strip(), flush=True)
child('/fresh')
os.environ['OBS_PRELOAD_INHERIT'] = '0'
child('/let-go')
"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"GET /fresh tp=1 00-"* ]]
	[[ $output == *"GET /let-go tp=0 "* ]]
	# the child's client span reached obs, under the parent's service
	"$PY" - "$BATS_TEST_TMPDIR/spans.jsonl" <<-'PYEOF'
		import json, sys
		spans = [json.loads(l) for l in open(sys.argv[1])]
		url = lambda s: s["attributes"].get("url.full", "")
		fresh = [s for s in spans if url(s).endswith("/fresh")]
		assert len(fresh) == 1 and fresh[0]["kind"] == "client", spans
		assert fresh[0]["resource"]["service.name"] == "parent", fresh
		assert not [s for s in spans if url(s).endswith("/let-go")], spans
	PYEOF
}

@test "forked children (a pre-forking server) draw span and trace ids of their own: 40 children, 40 distinct traceparents" {
	EP=$(free_port)
	"$PY" "$TOP/tests/e2e/echo_server.py" "$EP" &
	SRV=$!
	wait_for curl -fsS "http://127.0.0.1:$EP/"
	# the parent makes one request first, so its generator is seeded
	# before it forks: each child must reseed, not repeat the parent's
	run env LD_PRELOAD="$TOP/build/libobs_preload.so" "$PY" -c "
import os, urllib.request
def get(p):
    return urllib.request.urlopen('http://127.0.0.1:$EP' + p).read().decode().strip()
print(get('/parent'), flush=True)
kids = []
for i in range(40):
    pid = os.fork()
    if pid == 0:
        os.write(1, (get('/child') + '\n').encode())  # one write: lines stay whole
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.waitpid(k, 0)
"
	echo "$output" | head -5
	[ "$status" -eq 0 ]
	tps=$(echo "$output" | grep '^GET /child tp=1 ' | awk '{print $4}')
	[ "$(echo "$tps" | wc -l)" -eq 40 ]
	[ "$(echo "$tps" | cut -d- -f2 | sort -u | wc -l)" -eq 40 ] # trace ids
	[ "$(echo "$tps" | cut -d- -f3 | sort -u | wc -l)" -eq 40 ] # span ids
}

#!/usr/bin/env bash
# The obs demo: build obs, run a real nginx under obs-run, send it one
# traced curl request (also under obs-run) and load it with wrk; show the
# trace context nginx received, the spans, what Prometheus would scrape,
# then obs-run's exit summary; then the same for a python3-grpcio service;
# then production settings: a config file, an authenticated TLS endpoint,
# JSON logs, exemplars.
# Installs its own dependencies (Debian 12, as root).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/deps.sh
make -s all

w=$(mktemp -d /tmp/obs-demo.XXXXXX)
obs= gobs= sobs=
# stop whatever is still running (an early exit must not leave servers on our ports)
cleanup() {
	for p in $obs $gobs $sobs; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$w"
}
trap cleanup EXIT
scripts/nginx-conf.sh "$w" 18080

echo "==> obs-run --metrics-addr 127.0.0.1:19464 -- nginx"
build/obs-run --metrics-addr 127.0.0.1:19464 --spans-file "$w/spans.jsonl" -- \
	nginx -c "$w/nginx.conf" -p "$w" &
obs=$!
for _ in $(seq 100); do
	curl -fsS 127.0.0.1:19464/readyz 2>/dev/null | grep -q ready && break
	sleep 0.1
done
echo "==> /readyz: $(curl -fsS 127.0.0.1:19464/readyz)"
echo "==> obs-run -- curl http://127.0.0.1:18080/  (its client span, as a JSON line on stdout):"
build/obs-run --no-metrics --no-summary -- curl -fsS -o /dev/null http://127.0.0.1:18080/ 2>/dev/null |
	sed 's/^/    /'
echo "==> the traceparent nginx received (its access log):"
for _ in $(seq 30); do [ -s "$w/logs/access.log" ] && break; sleep 0.1; done
sed 's/^/    /' "$w/logs/access.log"
echo "==> nginx's server span, child of curl's client span:"
for _ in $(seq 100); do [ -s "$w/spans.jsonl" ] && break; sleep 0.1; done # written in batches
head -1 "$w/spans.jsonl" | sed 's/^/    /'
echo "==> wrk -t2 -c16 -d5s http://127.0.0.1:18080/"
wrk -t2 -c16 -d5s http://127.0.0.1:18080/ | sed 's/^/    /'

echo "==> a few of the series on http://127.0.0.1:19464/metrics:"
curl -fsS 127.0.0.1:19464/metrics >"$w/metrics"
grep -E '^obs_syscall_duration_seconds_count\{syscall="(accept4|epoll_wait|writev|recvfrom|sendfile)"' "$w/metrics" | sed 's/^/    /'
grep -E '^obs_tcp_(connections|sent_bytes|received_bytes)_total' "$w/metrics" | sed 's/^/    /'
grep -E '^obs_runqueue_latency_seconds_(count|sum)' "$w/metrics" | sed 's/^/    /'
grep -E '^http_server_request_duration_seconds_(count|sum)' "$w/metrics" | sed 's/^/    /'
grep -E '^obs_spans_(received|exported)_total' "$w/metrics" | sed 's/^/    /'
echo "    ... $(grep -vc '^#' "$w/metrics") samples in all"

echo "==> stopping nginx (SIGTERM to obs-run is forwarded); obs-run prints its summary:"
kill -TERM "$obs"
wait "$obs" || true

# gRPC: a python3-grpcio service under obs-run, called by a traced client
echo
echo "==> gRPC: obs-run -- python3 tests/e2e/grpc_demo.py serve 18081 (python3-grpcio)"
build/obs-run --metrics-addr 127.0.0.1:19465 --service greeter --spans-file "$w/grpc-spans.jsonl" \
	-- /usr/bin/python3 tests/e2e/grpc_demo.py serve 18081 >/dev/null 2>"$w/grpc-obs.log" &
gobs=$!
for _ in $(seq 100); do
	ss -Hltn "sport = :18081" | grep -q . && break
	sleep 0.1
done
echo "==> obs-run -- grpc_demo.py call 18081 unary server_stream not_found deadline (each call injected):"
build/obs-run --no-metrics --no-summary --spans-file "$w/grpc-client.jsonl" -- \
	/usr/bin/python3 tests/e2e/grpc_demo.py call 18081 unary server_stream not_found deadline \
	2>/dev/null | sed 's/^/    /'
echo "==> the server's span of the Unary call (child of the client's):"
for _ in $(seq 100); do # spans are written in batches
	grep -q '"demo.Echo/Unary"' "$w/grpc-spans.jsonl" 2>/dev/null && break
	sleep 0.1
done
grep -m1 '"demo.Echo/Unary"' "$w/grpc-spans.jsonl" | sed 's/^/    /'
echo "==> rpc_server_call_duration_seconds on http://127.0.0.1:19465/metrics:"
curl -fsS 127.0.0.1:19465/metrics | grep -E '^rpc_server_call_duration_seconds_count' | sed 's/^/    /'
kill -TERM "$gobs"
wait "$gobs" 2>/dev/null || true

# Production settings: one config file, an authenticated HTTPS endpoint,
# JSON logs, exemplars linking latency buckets to traces.
echo
echo "==> production settings: $w/obs.yaml"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$w/tls.key" -out "$w/tls.crt" 2>/dev/null
head -c 24 /dev/urandom | base64 >"$w/token"
cat >"$w/obs.yaml" <<EOF
metrics:
  listen: "127.0.0.1:19466"
  auth:
    bearer_token_file: $w/token
  tls:
    cert_file: $w/tls.crt
    key_file: $w/tls.key
logging:
  format: json
routes:
  - /users/{name}
EOF
sed 's/^/    /' "$w/obs.yaml"
echo "==> obs config check (a typo would be named with its line):"
build/obs config check "$w/obs.yaml" | sed -n '1,5p' | sed 's/^/    /'
build/obs-run --config "$w/obs.yaml" --service shop --spans-file "$w/shop-spans.jsonl" -- \
	/usr/bin/python3 tests/e2e/echo_server.py 18082 >/dev/null 2>"$w/shop-obs.log" &
sobs=$!
for _ in $(seq 100); do
	ss -Hltn "sport = :18082" | grep -q . && break
	sleep 0.1
done
for u in alice bob carol; do curl -fsS -o /dev/null "http://127.0.0.1:18082/users/$u"; done
echo "==> its log, JSON lines:"
head -3 "$w/shop-obs.log" | sed 's/^/    /'
echo "==> /metrics without the token: HTTP $(curl -s --cacert "$w/tls.crt" -o /dev/null -w '%{http_code}' https://127.0.0.1:19466/metrics)"
echo "==> with it (OpenMetrics, as Prometheus asks): a bucket with its exemplar, the trace of a request in it:"
for _ in $(seq 30); do # spans are drained every 10 ms
	curl -fsS --cacert "$w/tls.crt" -H "Authorization: Bearer $(cat "$w/token")" \
		-H 'Accept: application/openmetrics-text; version=1.0.0' https://127.0.0.1:19466/metrics |
		grep -m1 'http_server_request_duration_seconds_bucket.*# {trace_id' >"$w/exemplar" && break
	sleep 0.1
done
sed 's/^/    /' "$w/exemplar"
echo "==> deploy/: Prometheus rules and SLO alerts, Grafana dashboards, a Kubernetes DaemonSet;"
echo "    docs/runbooks/: one runbook per alert. See deploy/README.md."
kill -TERM "$sobs"
wait "$sobs" 2>/dev/null || true

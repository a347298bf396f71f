#!/usr/bin/env bash
# bench/node-context: what following Node.js requests costs, side by side.
# A Node http service that awaits a downstream call per request (mid.js;
# the leaf is nginx answering "ok"), loaded by wrk, interleaved rounds of:
#   bare      node alone
#   obs       obs-run, the runtime helper on (every span exported as OTLP)
#   nohelper  obs-run with OBS_RUNTIME_HELPERS=0 (the same, no helper)
#   als       nohelper plus als-floor.js: one AsyncLocalStorage per request
#             and nothing else, the floor under any context follower
#   sdk       no obs: the official OpenTelemetry Node SDK in the service
#             (instrumentation-http, batching, OTLP/HTTP protobuf)
# All export to the same local OTLP sink. Reported: requests/s and p99
# (medians of rounds), and CPU microseconds per request of the service and
# obs's collector together, from /proc/PID/stat (the steadier figure on a
# shared machine). Targets (issue 15): the helper costs <= 3% of
# throughput against obs without it; obs-run costs less than the SDK.
#
#   bench/node-context/run.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#
# Needs root (obs-run loads BPF) and tests/e2e/node's packages (npm ci).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
rounds=${1:-5}
secs=${2:-8}
conns=${3:-16}
out=$top/build/bench/node
mkdir -p "$out"
make -C "$top" -s all
command -v wrk >/dev/null || { echo "run.sh: wrk missing (scripts/deps.sh installs it)" >&2; exit 1; }
[ -d "$top/tests/e2e/node/node_modules/@opentelemetry/sdk-trace-node" ] ||
	(cd "$top/tests/e2e/node" && npm ci --no-audit --no-fund --silent)

obs=$top/build/obs-run
base=$((20000 + RANDOM % 12000))
port=$base leafp=$((base + 1)) sinkp=$((base + 2)) mport=$((base + 3))

bench_nginx_conf "$out" "$leafp"
nginx -c "$out/nginx.conf" 2>"$out/nginx.err" &
leaf=$!
python3 "$top/bench/http-overhead/sink.py" "$sinkp" 2>"$out/sink.log" &
sink=$!
srv=
cleanup() {
	for p in $srv $leaf $sink; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

start_cfg() { # CFG: start the service, set $srv (what to time) and $app (the node process)
	local cmd=(node "$here/mid.js" "$port" "http://127.0.0.1:$leafp/")
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sinkp
	case $1 in
	bare) "${cmd[@]}" & ;;
	obs) "$obs" --no-summary --metrics-addr "127.0.0.1:$mport" -- "${cmd[@]}" 2>>"$out/obs.log" & ;;
	nohelper) OBS_RUNTIME_HELPERS=0 "$obs" --no-summary --metrics-addr "127.0.0.1:$mport" -- \
		"${cmd[@]}" 2>>"$out/obs.log" & ;;
	als) OBS_RUNTIME_HELPERS=0 NODE_OPTIONS="--require $here/als-floor.js" "$obs" --no-summary \
		--metrics-addr "127.0.0.1:$mport" -- "${cmd[@]}" 2>>"$out/obs.log" & ;;
	sdk) BENCH_SDK=http://127.0.0.1:$sinkp/v1/traces "${cmd[@]}" & ;;
	esac
	srv=$!
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
		sleep 0.1
	done
	app=$(pgrep -f "^node .*mid.js $port" | head -1) # not obs-run, whose argv names it too
}
stop_cfg() {
	kill -TERM "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
	srv=
}

cfgs="bare obs nohelper als sdk"
hz=$(getconf CLK_TCK)
declare -A rps p99 cpu
echo "node-context: node http service + downstream call, wrk -t1 -c$conns, $rounds rounds x ${secs}s, interleaved" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	for c in $cfgs; do
		start_cfg "$c"
		wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null # warm up (JIT)
		a0=$(ticks "$app") o0=0
		[ "$srv" != "$app" ] && o0=$(ticks "$srv")
		wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/" >"$out/wrk.$c.$r"
		a1=$(ticks "$app") o1=0
		[ "$srv" != "$app" ] && o1=$(ticks "$srv")
		stop_cfg
		bench_record "$c" "$out/wrk.$c.$r" $((a1 - a0 + o1 - o0))
		printf ' %s=%.0f/s,p99=%sus' "$c" "$q" "${p99[$c]##* }" >&2
	done
	echo >&2
done
declare -A mr ml mc
bench_medians "$cfgs"
printf '\n%-9s %9s %8s %10s %10s %18s\n' config "req/s" "p99 us" "thru/bare" "p99/bare" "CPU us/req (app+obs)"
for c in $cfgs; do
	awk -v c="$c" -v q="${mr[$c]}" -v l="${ml[$c]}" -v bq="${mr[bare]}" -v bl="${ml[bare]}" -v u="${mc[$c]}" \
		'BEGIN { printf "%-9s %9.0f %8.0f %9.1f%% %9.1f%% %18.1f\n", c, q, l, 100*q/bq, 100*l/bl, u }'
done
awk -v h="${mr[obs]}" -v n="${mr[nohelper]}" -v hc="${mc[obs]}" -v nc="${mc[nohelper]}" \
	-v a="${mr[als]}" -v ac="${mc[als]}" \
	-v s="${mr[sdk]}" -v sc="${mc[sdk]}" 'BEGIN {
	printf "\nhelper: %.1f%% of the throughput of obs-run without it (target >= 97%%), %+.1f us CPU per request\n", 100*h/n, hc - nc
	printf "AsyncLocalStorage alone: %.1f%% of the throughput without it, %+.1f us CPU per request\n", 100*a/n, ac - nc
	printf "obs-run vs the OpenTelemetry SDK: %.2fx the SDK'"'"'s throughput, %.1f vs %.1f us CPU per request (target: obs-run cheaper)\n", h/s, hc, sc }'

#!/usr/bin/env bash
# bench/grpc-overhead: what obs costs gRPC and HTTP/2 traffic.
#
#   1. python3-grpcio unary calls: bench/grpc-overhead/load.py (closed loop,
#      THREADS callers on one channel, i.e. one HTTP/2 connection) against
#      tests/e2e/grpc_demo.py, client and server started together
#      (pair.sh), in interleaved rounds of
#        bare   alone
#        shim   LD_PRELOAD=libobs_preload.so in both, no collector
#        bpf    one obs-run --no-preload around both (BPF probes only)
#        obs    one obs-run around both: shim + BPF, every span of both
#               sides exported as OTLP to a sink (bench/http-overhead/sink.py)
#   2. h2load -c4 -m32 (h2c, prior knowledge) against nghttpd, the same
#      configurations (every h2load request gets a traceparent under obs).
#   Reports medians of calls/s (req/s), p99, their ratio to bare (target:
#   obs >= 95% of bare throughput) and obs-run's own CPU per call.
#
#   bench/grpc-overhead/run.sh [ROUNDS] [SECONDS] [THREADS]
#
# Needs root (obs-run loads BPF). Not a CI test: timings here are noisy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
rounds=${1:-5}
secs=${2:-10}
threads=${3:-8}
out=$top/build/bench/grpc
mkdir -p "$out/www"
make -C "$top" -s all
/usr/bin/python3 -c 'import grpc' 2>/dev/null ||
	{ echo "run.sh: python3-grpcio missing (scripts/deps.sh)" >&2; exit 1; }
for c in h2load nghttpd; do
	command -v "$c" >/dev/null || { echo "run.sh: $c missing (scripts/deps.sh)" >&2; exit 1; }
done
echo ok >"$out/www/index.html"

obs=$top/build/obs-run
shim=$top/build/libobs_preload.so
base=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-): a TIME_WAIT client port would block our listen
port=$base sink_port=$((base + 1)) mport=$((base + 2))
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port
python3 "$top/bench/http-overhead/sink.py" "$sink_port" 2>"$out/sink.log" &
sink=$!
trap 'kill $sink 2>/dev/null || true; wait 2>/dev/null || true' EXIT

hz=$(getconf CLK_TCK)
cfgs="bare shim bpf obs"

# run CFG KIND ARG: one pair under CFG; sets $res and $cpu (obs-run's CPU seconds)
run() {
	local cfg=$1 kind=$2 arg=$3 log pid t0 t1
	log=$out/obs.$cfg.$kind.log
	cpu=0
	case $cfg in
	bare) res=$("$here/pair.sh" "$kind" "$port" "$secs" "$arg") ;;
	shim) res=$(LD_PRELOAD=$shim "$here/pair.sh" "$kind" "$port" "$secs" "$arg") ;;
	bpf | obs)
		local flags=(--metrics-addr "127.0.0.1:$mport")
		[ "$cfg" = bpf ] && flags+=(--no-preload)
		"$obs" "${flags[@]}" -- "$here/pair.sh" "$kind" "$port" "$secs" "$arg" \
			>"$out/pair.out" 2>"$log" &
		pid=$!
		sleep 1
		t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		t1=$t0
		while kill -0 "$pid" 2>/dev/null; do
			t1=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo "$t1")
			sleep 0.2
		done
		wait "$pid" || true
		res=$(cat "$out/pair.out")
		cpu=$(awk -v t=$((t1 - t0)) -v hz="$hz" 'BEGIN {print t / hz}')
		;;
	esac
}

declare -A rate p99 ocpu hrate hcpu
echo "grpc-overhead: grpcio unary ($threads threads, one channel) and h2load, $rounds rounds x ${secs}s" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	for c in $cfgs; do
		run "$c" grpc "$threads"
		q=$(echo "$res" | sed -n 's/.*rate=\([0-9.]*\).*/\1/p')
		rate[$c]="${rate[$c]:-} $q"
		p99[$c]="${p99[$c]:-} $(echo "$res" | sed -n 's/.*p99_us=\([0-9]*\).*/\1/p')"
		ocpu[$c]="${ocpu[$c]:-} $(awk -v t="$cpu" -v q="$q" -v s="$secs" 'BEGIN {print t * 1e6 / (q * s)}')"
		echo "$res" | grep -q 'errors=0' || echo " ($c grpc: $res)" >&2
		run "$c" h2 "$out/www"
		h=$(echo "$res" | awk '/^finished in/ {print $4}')
		hrate[$c]="${hrate[$c]:-} $h"
		hcpu[$c]="${hcpu[$c]:-} $(awk -v t="$cpu" -v q="$h" -v s="$secs" 'BEGIN {print t * 1e6 / (q * s)}')"
		echo "$res" | grep -q ' 0 failed, 0 errored' || echo " ($c h2load: $res)" >&2
		printf ' %s=%.0f/s,%.0f/s' "$c" "$q" "$h" >&2
	done
	echo >&2
done

printf '\n%-6s %10s %8s %10s %14s   %12s %10s %14s\n' config "calls/s" "p99 us" "thru/bare" \
	"obs us/call" "h2load req/s" "thru/bare" "obs us/req"
declare -A m
for c in $cfgs; do
	for k in rate p99 ocpu hrate hcpu; do
		declare -n v=$k
		m[$c.$k]=$(echo ${v[$c]} | tr ' ' '\n' | median)
	done
done
for c in $cfgs; do
	awk -v c="$c" -v q="${m[$c.rate]}" -v l="${m[$c.p99]}" -v b="${m[bare.rate]}" \
		-v o="${m[$c.ocpu]}" -v h="${m[$c.hrate]}" -v hb="${m[bare.hrate]}" -v ho="${m[$c.hcpu]}" 'BEGIN {
		printf "%-6s %10.0f %8.0f %9.1f%% %14.2f   %12.0f %9.1f%% %14.2f\n",
			c, q, l, 100*q/b, o, h, 100*h/hb, ho }'
done
awk -v q="${m[obs.rate]}" -v b="${m[bare.rate]}" -v h="${m[obs.hrate]}" -v hb="${m[bare.hrate]}" \
	-v s="${m[shim.rate]}" 'BEGIN {
	printf "\nobs: grpcio %.1f%% of bare (target >= 95%%; the shim alone %.1f%%), h2load %.1f%%\n",
		100*q/b, 100*s/b, 100*h/hb }'
echo "spans in the last obs round (obs-run's exit summary):"
grep -E '^  (spans|traceparent)' "$out/obs.obs.h2.log" | sed 's/^/ /' || true

#!/usr/bin/env bash
# bench/grpc-overhead: what obs costs gRPC and HTTP/2 traffic.
#
#   1. python3-grpcio unary calls (bench/grpc-overhead/load.py, closed loop,
#      THREADS callers on one channel) against tests/e2e/grpc_demo.py, in
#      interleaved rounds of
#        bare   client and server alone
#        obs    both under obs-run, every span of both exported as OTLP to
#               a sink (bench/http-overhead/sink.py)
#   2. h2load (h2c, prior knowledge) against nghttpd, interleaved:
#        bare   both alone
#        obs    nghttpd under obs-run (spans exported), h2load under obs-run
#               (every request injected, spans exported)
#   reporting medians of calls/s (req/s) and p99 latency and their ratios to
#   bare (target: obs >= 95% of bare throughput), and obs's own CPU per call.
#
#   bench/grpc-overhead/run.sh [ROUNDS] [SECONDS] [THREADS]
#
# Needs root (obs-run loads BPF). Not a CI test: timings here are noisy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
rounds=${1:-5}
secs=${2:-10}
threads=${3:-8}
out=$top/build/bench/grpc
mkdir -p "$out/www"
make -C "$top" -s all
py=/usr/bin/python3 # Debian's, where python3-grpcio lives
"$py" -c 'import grpc' 2>/dev/null || { echo "run.sh: python3-grpcio missing (scripts/deps.sh)" >&2; exit 1; }
for c in h2load nghttpd; do
	command -v "$c" >/dev/null || { echo "run.sh: $c missing (scripts/deps.sh)" >&2; exit 1; }
done
echo ok >"$out/www/index.html"

obs=$top/build/obs-run
base=$((20000 + RANDOM % 20000))
gport=$base hport=$((base + 1)) sink_port=$((base + 2)) m1=$((base + 3)) m2=$((base + 4))
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port
python3 "$top/bench/http-overhead/sink.py" "$sink_port" 2>"$out/sink.log" &
sink=$!
srv=
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null
	kill "$sink" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT

listening() { ss -Hltn "sport = :$1" | grep -q .; }
wait_listen() {
	for _ in $(seq 100); do listening "$1" && return 0; sleep 0.1; done
	echo "run.sh: nothing listens on $1; see $out/*.log" >&2
	exit 1
}
stop() { kill -TERM "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; srv=; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
hz=$(getconf CLK_TCK)

declare -A rate p99 cpu
echo "grpc-overhead: grpcio unary, $threads threads on one channel, $rounds rounds x ${secs}s" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	for c in bare obs; do
		if [ $c = bare ]; then
			"$py" "$top/tests/e2e/grpc_demo.py" serve "$gport" >"$out/server.log" 2>&1 &
		else
			"$obs" --metrics-addr "127.0.0.1:$m1" --service gsrv -- \
				"$py" "$top/tests/e2e/grpc_demo.py" serve "$gport" >"$out/server.log" 2>&1 &
		fi
		srv=$!
		wait_listen "$gport"
		c0=$(ticks "$srv")
		if [ $c = bare ]; then
			res=$("$py" "$here/load.py" "$gport" "$secs" "$threads")
		else
			res=$("$obs" --metrics-addr "127.0.0.1:$m2" --no-summary --service gcli -- \
				"$py" "$here/load.py" "$gport" "$secs" "$threads" 2>>"$out/client.log")
		fi
		c1=$(ticks "$srv")
		stop
		q=$(echo "$res" | field rate)
		rate[$c]="${rate[$c]:-} $q"
		p99[$c]="${p99[$c]:-} $(echo "$res" | field p99_us)"
		# the server-side obs-run's own CPU (collector + BPF loader) per call
		cpu[$c]="${cpu[$c]:-} $(awk -v t=$((c1 - c0)) -v hz="$hz" -v q="$q" -v s="$secs" 'BEGIN {print (q > 0) ? t / hz * 1e6 / (q * s) : 0}')"
		printf ' %s=%s/s' "$c" "$q" >&2
		echo "$res" | grep -q 'errors=0' || echo " ($c: $res)" >&2
	done
	echo >&2
done

declare -A hrate hp99
echo "grpc-overhead: h2load -c4 -m32 against nghttpd (h2c), $rounds rounds x ${secs}s" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	for c in bare obs; do
		if [ $c = bare ]; then
			nghttpd --no-tls -d "$out/www" "$hport" >"$out/nghttpd.log" 2>&1 &
		else
			"$obs" --metrics-addr "127.0.0.1:$m1" --service h2srv -- \
				nghttpd --no-tls -d "$out/www" "$hport" >"$out/nghttpd.log" 2>&1 &
		fi
		srv=$!
		wait_listen "$hport"
		cmd=(h2load -D "$secs" -c 4 -m 32 "http://127.0.0.1:$hport/index.html")
		if [ $c = bare ]; then
			"${cmd[@]}" >"$out/h2load.$c.$r" 2>&1
		else
			"$obs" --metrics-addr "127.0.0.1:$m2" --service h2load -- "${cmd[@]}" \
				>"$out/h2load.$c.$r" 2>&1
		fi
		stop
		q=$(awk '/^finished in/ {print $4}' "$out/h2load.$c.$r")
		hrate[$c]="${hrate[$c]:-} $q"
		grep -q ' 0 failed, 0 errored' "$out/h2load.$c.$r" || echo " ($c: errors, see $out/h2load.$c.$r)" >&2
		printf ' %s=%s/s' "$c" "$q" >&2
	done
	echo >&2
done

printf '\n%-14s %12s %10s %10s %18s\n' config "calls/s" "p99 us" "thru/bare" "obs CPU us/call"
for c in bare obs; do
	mr=$(echo ${rate[$c]} | tr ' ' '\n' | median)
	ml=$(echo ${p99[$c]} | tr ' ' '\n' | median)
	mc=$(echo ${cpu[$c]} | tr ' ' '\n' | median)
	br=$(echo ${rate[bare]} | tr ' ' '\n' | median)
	awk -v c="grpcio $c" -v q="$mr" -v l="$ml" -v b="$br" -v o="$mc" \
		'BEGIN {printf "%-14s %12.0f %10.0f %9.1f%% %18.2f\n", c, q, l, 100*q/b, o}'
done
for c in bare obs; do
	mr=$(echo ${hrate[$c]} | tr ' ' '\n' | median)
	br=$(echo ${hrate[bare]} | tr ' ' '\n' | median)
	awk -v c="h2load $c" -v q="$mr" -v b="$br" \
		'BEGIN {printf "%-14s %12.0f %10s %9.1f%%\n", c, q, "-", 100*q/b}'
done
echo
echo "last obs round, h2load side (obs-run's exit summary):"
grep -E '^  (spans|traceparent)' "$out/h2load.obs.$rounds" | sed 's/^/ /' || true

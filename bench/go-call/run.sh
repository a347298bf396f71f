#!/usr/bin/env bash
# bench/go-call: what following goroutines costs a Go service that calls a
# downstream on every request.
#
#   tests/e2e/go/srv.go's GET /call (net/http client, keep-alive) calling a
#   second, untraced copy of it (GET /), driven by wrk -t1, in interleaved
#   rounds of
#     call-bare     the Go service alone
#     call-obs      obs-run: capture, goroutines followed (the uprobes on
#                   persistConn.writeLoop and .roundTrip: a trap per call)
#     call-nodwarf  obs-run on the same program built with -ldflags=-w: no
#                   DWARF, so goroutines are not followed (capture only,
#                   the calls marked parent unknown)
#   reporting medians of req/s and p99 against bare, and CPU microseconds
#   per request (the calling service plus obs-run, user+system from /proc).
#   The difference between the two obs rows is the price of the parents.
#
#   bench/go-call/run.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#
# Needs root, go, wrk. Not a CI test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
rounds=${1:-5}
secs=${2:-6}
conns=${3:-8}
out=$top/build/bench/go-call
mkdir -p "$out"
make -C "$top" -s all
for v in plain nodwarf; do
	flags=
	[ $v = nodwarf ] && flags=-ldflags=-w
	(cd "$top/tests/e2e/go" && GOCACHE=$out/gocache GOPATH=$out/gopath GO111MODULE=off \
		go build $flags -o "$out/go-srv-$v" srv.go)
done
obs=$top/build/obs-run
base=$((20000 + RANDOM % 12000))
port=$base dport=$((base + 1)) mport=$((base + 2))
peer=
"$out/go-srv-plain" "$dport" &
down=$!
cleanup() {
	kill "$down" ${srv:-} 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT

start_cfg() { # CFG: start the caller under CFG; set $srv and $app
	local url=http://127.0.0.1:$dport/
	case $1 in
	call-bare) "$out/go-srv-plain" "$port" "$url" & ;;
	call-obs) "$obs" --sample-ratio 0.1 --no-summary --metrics-addr "127.0.0.1:$mport" -- \
		"$out/go-srv-plain" "$port" "$url" 2>>"$out/obs.log" & ;;
	call-nodwarf) "$obs" --sample-ratio 0.1 --no-summary --metrics-addr "127.0.0.1:$mport" -- \
		"$out/go-srv-nodwarf" "$port" "$url" 2>>"$out/obs.log" & ;;
	esac
	srv=$!
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/call" 2>/dev/null && break
		sleep 0.1
	done
	app=$srv
	[ "$1" = call-bare ] || app=$(pgrep -P "$srv" | head -1)
	[ -n "$app" ] || { echo "run.sh: $1 did not start; see $out/obs.log" >&2; exit 1; }
}

cfgs="call-bare call-obs call-nodwarf"
hz=$(getconf CLK_TCK)
declare -A rps p99 cpu
echo "go-call: wrk -t1 -c$conns on /call, $rounds rounds x ${secs}s, interleaved" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	for c in $cfgs; do
		start_cfg "$c"
		wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/call" >/dev/null # warm up
		obsp=0
		[ "$c" = call-bare ] || obsp=$srv
		a0=$(ticks "$app") o0=$( ((obsp)) && ticks "$obsp" || echo 0)
		wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/call" >"$out/wrk.$c.$r"
		a1=$(ticks "$app") o1=$( ((obsp)) && ticks "$obsp" || echo 0)
		if [ "$c" != call-bare ] && [ "$r" = 1 ]; then
			curl -fsS "127.0.0.1:$mport/metrics" >"$out/metrics.$c" || true
		fi
		bench_stop
		bench_record "$c" "$out/wrk.$c.$r" $((a1 - a0 + o1 - o0))
		printf ' %s=%.0f/s' "$c" "$q" >&2
	done
	echo >&2
done
declare -A mr ml mc
bench_medians "$cfgs"
printf '\n%-13s %9s %8s %7s %7s %9s %9s\n' config "req/s" "p99 us" "rps/b" "p99/b" "cpu us/r" "+us/r"
for c in $cfgs; do
	awk -v c="$c" -v q="${mr[$c]}" -v l="${ml[$c]}" -v bq="${mr[call-bare]}" -v bl="${ml[call-bare]}" \
		-v w="${mc[$c]}" -v bw="${mc[call-bare]}" 'BEGIN {
		printf "%-13s %9.0f %8.0f %7.2f %7.2f %9.2f %+9.2f\n", c, q, l, q/bq, l/bl, w, w - bw }'
done
awk -v o="${mc[call-obs]}" -v n="${mc[call-nodwarf]}" 'BEGIN {
	printf "\nfollowing goroutines (a uprobe per call, one per new connection, a goid read per captured syscall): %+.2f us CPU per request\n", o - n }'
echo
echo "first round, the collector's view:"
for c in call-obs call-nodwarf; do
	printf '  %s: ' "$c"
	grep -E '^obs_context_unknown_total' "$out/metrics.$c" | awk '{s += $2} END {printf "obs_context_unknown_total %d\n", s}' || echo
done

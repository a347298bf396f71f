#!/usr/bin/env bash
# bench/go-inject: what --go-inject costs a Go middle service.
#
#   tests/e2e/go/srv.go's /call (each request calls a downstream: nginx,
#   one worker) + wrk -t1 (keep-alive), in interleaved rounds of
#     bare    the Go service alone
#     obs     obs-run: probes + kernel-side capture, spans kept at 10% (not
#             exported): the call is the child of its request in obs's
#             spans, nothing goes out with it
#     inject  obs-run --go-inject: the same, and each call carries its
#             traceparent out (the sk_msg program inserts it)
#   reporting medians of req/s and p99 against bare, CPU microseconds per
#   request (the Go process plus obs-run's, user+system from /proc), and
#   then the BPF time per request of each obs program under obs and inject
#   (bpf_stats, on for that phase only): the kernel's cost of injection.
#   The downstream nginx's own CPU is not counted (the same in each).
#
#   bench/go-inject/run.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#   SRV_IDLE_CONNS=64 bench/go-inject/run.sh ...
#      the Go service keeps up to 64 idle connections to nginx (net/http's
#      default, 2, makes most calls under concurrency dial a new one)
#
# Needs root, go, wrk, nginx. Not a CI test: timings here are noisy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
rounds=${1:-5}
secs=${2:-8}
conns=${3:-16}
out=$top/build/bench/go-inject
mkdir -p "$out"
make -C "$top" -s all
(cd "$top/tests/e2e/go" && GOCACHE=$out/gocache GOPATH=$out/gopath GO111MODULE=off \
	go build -o "$out/go-srv" srv.go)
obs=$top/build/obs-run
base=$((20000 + RANDOM % 12000))
port=$base nport=$((base + 1)) mport=$((base + 2))
bench_nginx_conf "$out" "$nport"
nginx -c "$out/nginx.conf" 2>>"$out/nginx.err" &
ngx=$!
pids=()
cleanup() {
	for p in "${pids[@]}" "$ngx"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
url=http://127.0.0.1:$port/call
down=http://127.0.0.1:$nport/

start_cfg() { # CFG: start the Go service under CFG, set $srv and $app
	case $1 in
	bare) "$out/go-srv" "$port" "$down" & ;;
	obs) "$obs" --sample-ratio 0.1 --no-summary --metrics-addr "127.0.0.1:$mport" -- \
		"$out/go-srv" "$port" "$down" 2>>"$out/obs.log" & ;;
	inject) "$obs" --go-inject --sample-ratio 0.1 --no-summary --metrics-addr "127.0.0.1:$mport" -- \
		"$out/go-srv" "$port" "$down" 2>>"$out/obs.log" & ;;
	esac
	srv=$!
	pids=("$srv")
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "$url" 2>/dev/null && break
		sleep 0.1
	done
	app=$srv
	[ "$1" = bare ] || app=$(pgrep -P "$srv" | head -1)
	[ -n "$app" ] || { echo "run.sh: $1 did not start; see $out/obs.log" >&2; exit 1; }
}

cfgs="bare obs inject"
hz=$(getconf CLK_TCK)
declare -A rps p99 cpu
echo "go-inject: wrk -t1 -c$conns on /call, $rounds rounds x ${secs}s, interleaved${SRV_IDLE_CONNS:+, SRV_IDLE_CONNS=$SRV_IDLE_CONNS}" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	for c in $cfgs; do
		start_cfg "$c"
		wrk -t1 -c"$conns" -d1s "$url" >/dev/null # warm up
		obsp=0
		[ "$c" = bare ] || obsp=$srv
		a0=$(ticks "$app") o0=$( ((obsp)) && ticks "$obsp" || echo 0)
		wrk -t1 -c"$conns" -d"${secs}s" --latency "$url" >"$out/wrk.$c.$r"
		a1=$(ticks "$app") o1=$( ((obsp)) && ticks "$obsp" || echo 0)
		[ "$c" = inject ] && [ "$r" = 1 ] &&
			{ curl -fsS "127.0.0.1:$mport/metrics" >"$out/metrics.inject" || true; }
		bench_stop
		pids=()
		bench_record "$c" "$out/wrk.$c.$r" $((a1 - a0 + o1 - o0))
		printf ' %s=%.0f/s' "$c" "$q" >&2
	done
	echo >&2
done
declare -A mr ml mc
bench_medians "$cfgs"
printf '\n%-8s %9s %8s %7s %7s %9s %9s\n' config "req/s" "p99 us" "rps/b" "p99/b" "cpu us/r" "+us/r"
for c in $cfgs; do
	awk -v c="$c" -v q="${mr[$c]}" -v l="${ml[$c]}" -v bq="${mr[bare]}" -v bl="${ml[bare]}" \
		-v w="${mc[$c]}" -v bw="${mc[bare]}" 'BEGIN {
		printf "%-8s %9.0f %8.0f %7.2f %7.2f %9.2f %+9.2f\n", c, q, l, q/bq, l/bl, w, w - bw }'
done
echo
echo "injection, first round:"
grep -E '^obs_go_inject_total' "$out/metrics.inject" | sed 's/^/  /' || true

# BPF time per request, by program (bench/lib.sh), and what injection adds
bench_bpf_phase "$rounds" "$url" "$conns" "obs inject"
awk -v a="$(bench_bpf_median obs total)" -v b="$(bench_bpf_median inject total)" 'BEGIN {
	printf "  injection: %+.0f ns of BPF per request\n", b - a }'

#!/usr/bin/env bash
# bench/go-http: what kernel-side capture costs a Go net/http service.
#
#   tests/e2e/go/srv.go (Debian's golang-go) + wrk -t1 (keep-alive, small
#   response), and for the ratio the issue asks for, nginx (one worker)
#   the same way, in interleaved rounds of
#     go-bare      the Go service alone
#     go-bpf       obs-run --no-preload: the kernel probes alone (no capture)
#     go-obs       obs-run: probes + kernel-side HTTP/1 capture + RED in the
#                  collector's region for it, spans kept at 10% (not exported)
#     go-bpftrace  the peer: bpftrace keeping the buffer and size of every
#                  read and write of the Go process (capture.bt)
#     ngx-bare     nginx alone
#     ngx-obs      obs-run --sample-ratio 0.1 on nginx: probes + the shim
#   reporting medians of req/s and p99 against bare, and CPU microseconds
#   per request (the server's process plus obs-run's, user+system from
#   /proc), with obs's added CPU per request for Go against nginx's; then
#   the BPF time per request of each obs program under go-bpf and go-obs
#   (bpf_stats, enabled for that phase only): steadier than the CPU
#   columns, the figure to compare builds by.
#
#   bench/go-http/run.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#   COMPARE=/path/to/other/build bench/go-http/run.sh ...
#      also runs go-obs from another build of obs (an earlier commit's
#      build/ directory) as go-obs@, interleaved in the same rounds
#
# Needs root, go, wrk, nginx (bpftrace optional). Not a CI test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
rounds=${1:-5}
secs=${2:-8}
conns=${3:-16}
out=$top/build/bench/go-http
mkdir -p "$out"
make -C "$top" -s all
(cd "$top/tests/e2e/go" && GOCACHE=$out/gocache GOPATH=$out/gopath GO111MODULE=off \
	go build -o "$out/go-srv" srv.go)
obs=$top/build/obs-run
cmp=${COMPARE:-}
if [ -n "$cmp" ] && [ ! -x "$cmp/obs-run" ]; then
	echo "run.sh: COMPARE=$cmp has no obs-run" >&2
	exit 1
fi
base=$((20000 + RANDOM % 12000))
port=$base mport=$((base + 2))
bench_nginx_conf "$out" "$port"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

start_cfg() { # CFG: start the server under CFG, set $srv, $app (the server's pid), $peer
	peer= app=
	rm -f "$out/nginx.pid"
	case $1 in
	go-bare | go-bpftrace) "$out/go-srv" "$port" & ;;
	go-bpf) "$obs" --no-preload --no-summary --metrics-addr "127.0.0.1:$mport" -- "$out/go-srv" "$port" 2>>"$out/obs.log" & ;;
	go-obs) "$obs" --sample-ratio 0.1 --no-summary --metrics-addr "127.0.0.1:$mport" -- "$out/go-srv" "$port" 2>>"$out/obs.log" & ;;
	go-obs@) "$cmp/obs-run" --sample-ratio 0.1 --no-summary --metrics-addr "127.0.0.1:$mport" -- "$out/go-srv" "$port" 2>>"$out/obs.log" & ;;
	ngx-bare) nginx -c "$out/nginx.conf" 2>>"$out/nginx.err" & ;;
	ngx-obs) "$obs" --sample-ratio 0.1 --no-summary --metrics-addr "127.0.0.1:$mport" -- nginx -c "$out/nginx.conf" 2>>"$out/obs.log" & ;;
	esac
	srv=$!
	pids=("$srv")
	for _ in $(seq 100); do
		case $1 in ngx-*) [ -s "$out/nginx.pid" ] || { sleep 0.1; continue; } ;; esac
		curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
		sleep 0.1
	done
	case $1 in
	ngx-*) app=$(pgrep -P "$(cat "$out/nginx.pid")" | head -1) ;;
	go-bare | go-bpftrace) app=$srv ;;
	*) app=$(pgrep -P "$srv" | head -1) ;;
	esac
	[ -n "$app" ] || { echo "run.sh: $1 did not start; see $out/*.log" >&2; exit 1; }
	if [ "$1" = go-bpftrace ]; then
		bench_bpftrace "$here/capture.bt" "$app" "$out/bpftrace.out"
		pids+=("$peer")
	fi
}
stop_cfg() {
	bench_stop
	pids=()
}

cfgs="go-bare go-bpf go-obs ${cmp:+go-obs@ }go-bpftrace ngx-bare ngx-obs"
command -v bpftrace >/dev/null || cfgs=${cfgs/go-bpftrace /}
hz=$(getconf CLK_TCK)
declare -A rps p99 cpu acpu ocpu
echo "go-http: wrk -t1 -c$conns, $rounds rounds x ${secs}s, interleaved" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	for c in $cfgs; do
		start_cfg "$c"
		wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null # warm up
		obsp=0
		case $c in go-bpf | go-obs | go-obs@ | ngx-obs) obsp=$srv ;; go-bpftrace) obsp=$peer ;; esac
		a0=$(ticks "$app") o0=$( ((obsp)) && ticks "$obsp" || echo 0)
		wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/" >"$out/wrk.$c.$r"
		a1=$(ticks "$app") o1=$( ((obsp)) && ticks "$obsp" || echo 0)
		if [ "$c" = go-obs ] && [ "$r" = 1 ]; then
			curl -fsS "127.0.0.1:$mport/metrics" >"$out/metrics.go-obs" || true
		fi
		stop_cfg
		bench_record "$c" "$out/wrk.$c.$r" $((a1 - a0 + o1 - o0))
		acpu[$c]="${acpu[$c]:-} $(per_req $((a1 - a0)))"
		ocpu[$c]="${ocpu[$c]:-} $(per_req $((o1 - o0)))"
		printf ' %s=%.0f/s' "$c" "$q" >&2
	done
	echo >&2
done
declare -A mr ml mc ma mo
bench_medians "$cfgs"
for c in $cfgs; do
	ma[$c]=$(echo ${acpu[$c]} | tr ' ' '\n' | median)
	mo[$c]=$(echo ${ocpu[$c]} | tr ' ' '\n' | median)
done
printf '\n%-12s %9s %8s %7s %7s %9s %9s %9s %9s\n' config "req/s" "p99 us" "rps/b" "p99/b" "app us/r" "obs us/r" "cpu us/r" "+us/r"
for c in $cfgs; do
	b=go-bare
	case $c in ngx-*) b=ngx-bare ;; esac
	awk -v c="$c" -v q="${mr[$c]}" -v l="${ml[$c]}" -v bq="${mr[$b]}" -v bl="${ml[$b]}" \
		-v w="${mc[$c]}" -v bw="${mc[$b]}" -v a="${ma[$c]}" -v o="${mo[$c]}" 'BEGIN {
		printf "%-12s %9.0f %8.0f %7.2f %7.2f %9.2f %9.2f %9.2f %+9.2f\n", c, q, l, q/bq, l/bl, a, o, w, w - bw }'
done
echo
awk -v gq="${mr[go-obs]}" -v bq="${mr[go-bare]}" -v g="${mc[go-obs]}" -v gb="${mc[go-bare]}" \
	-v n="${mc[ngx-obs]}" -v nb="${mc[ngx-bare]}" -v t="${mc[go-bpftrace]:-0}" -v p="${mc[go-bpf]}" 'BEGIN {
	printf "figures:\n"
	printf "  Go under obs-run (capture): %.2fx bare throughput [target >= 0.9]\n", gq / bq
	printf "  added CPU per request: Go %+.2f us (of which kernel probes %+.2f), nginx with the shim %+.2f us: %.2fx [target <= 2x]\n", g - gb, p - gb, n - nb, (g - gb) / (n - nb)
	if (t > 0) printf "  bpftrace keeping every read/write of the Go process: %+.2f us per request\n", t - gb
}'
if [ -n "$cmp" ]; then
	awk -v q="${mr[go-obs]}" -v qc="${mr[go-obs@]}" -v g="${mc[go-obs]}" -v gc="${mc[go-obs@]}" \
		-v gb="${mc[go-bare]}" 'BEGIN {
		printf "  this build vs %s: %.2fx its throughput, %+.2f us per request against its %+.2f\n", "'"$cmp"'", q / qc, g - gb, gc - gb }'
fi
echo
echo "capture, first round (the collector's view):"
grep -E '^http_server_request_duration_seconds_count|^obs_events_dropped_total\{reason="capture_full"\}' "$out/metrics.go-obs" | sed 's/^/  /' || true

# BPF time per request, by program (bench/lib.sh)
scfgs="go-bpf go-obs${cmp:+ go-obs@}"
bench_bpf_phase "$rounds" "http://127.0.0.1:$port/" "$conns" "$scfgs"
a=$(bench_bpf_median go-obs total)
b=$(bench_bpf_median go-bpf total)
awk -v a="$a" -v b="$b" 'BEGIN { printf "  kernel-side capture: %+.0f ns of BPF per request\n", a - b }'

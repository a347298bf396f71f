#!/usr/bin/env bash
# bench/http-overhead: what the HTTP shim costs a real server, and what the
# collector's span pipeline sustains.
#
#   1. nginx + wrk (keep-alive, small response), interleaved rounds of
#        bare      nginx alone
#        shim      LD_PRELOAD=libobs_preload.so, no collector (spans dropped)
#        bpf       obs-run --no-preload (BPF probes only)
#        obs       obs-run, shim and BPF, every span exported as OTLP to a sink
#        obs10     the same with OTEL_TRACES_SAMPLER=parentbased_traceidratio,
#                  OTEL_TRACES_SAMPLER_ARG=0.1 (metrics still count every request)
#      reporting throughput and p99 medians and their ratios to bare
#      (targets: obs >= 95% of bare throughput, <= 5% p99 increase), and
#      CPU per request: nginx's worker and obs's collector, from
#      /proc/PID/stat (steadier than throughput on a shared machine).
#   2. shimcost: one process doing loopback HTTP exchanges (one client and
#      one server span each), bare vs LD_PRELOAD vs obs-run: ns per request.
#   3. encode_bench: spans/s the OTLP encoder (and gzip) does on one core.
#
#   bench/http-overhead/run.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#   COMPARE=/path/to/other/build bench/http-overhead/run.sh ...
#      also runs shim, obs and obs10 from another build of obs (an earlier
#      commit's build/ directory) as shim@, obs@ and obs10@, interleaved in
#      the same rounds, and prints the CPU per request of each pair
#
# Needs root (obs-run loads BPF). Not a CI test: timings here are noisy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
rounds=${1:-5}
secs=${2:-10}
conns=${3:-32}
out=$top/build/bench/http
mkdir -p "$out"
make -C "$top" -s all bench-bins
command -v wrk >/dev/null || { echo "run.sh: wrk missing (scripts/deps.sh installs it)" >&2; exit 1; }

obs=$top/build/obs-run
shim=$top/build/libobs_preload.so
cmp=${COMPARE:-}
if [ -n "$cmp" ] && [ ! -x "$cmp/obs-run" -o ! -e "$cmp/libobs_preload.so" ]; then
	echo "run.sh: COMPARE=$cmp has no obs-run and libobs_preload.so" >&2
	exit 1
fi
base=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-): a TIME_WAIT client port would block our listen
port=$base sink_port=$((base + 1)) mport=$((base + 2))

# One worker: nginx on one core, wrk on the other (this machine has two).
cat >"$out/nginx.conf" <<CONF
daemon off;
user root;
worker_processes 1;
error_log $out/error.log;
pid $out/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path $out; proxy_temp_path $out; fastcgi_temp_path $out;
	uwsgi_temp_path $out; scgi_temp_path $out;
	server { listen 127.0.0.1:$port; location / { return 200 "ok\n"; } }
}
CONF

python3 "$here/sink.py" "$sink_port" 2>"$out/sink.log" &
sink=$!
pids=()
cleanup() {
	for p in "${pids[@]}" "$sink"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

start_cfg() { # CFG: start nginx under CFG in the background, set $srv
	local obs=$obs shim=$shim
	case $1 in *@) obs=$cmp/obs-run shim=$cmp/libobs_preload.so ;; esac
	case ${1%@} in
	bare) nginx -c "$out/nginx.conf" 2>>"$out/nginx.err" & ;;
	shim) LD_PRELOAD=$shim nginx -c "$out/nginx.conf" 2>>"$out/nginx.err" & ;;
	bpf) "$obs" --no-preload --metrics-addr "127.0.0.1:$mport" -- \
		nginx -c "$out/nginx.conf" 2>>"$out/obs-bpf.log" & ;;
	obs) OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port "$obs" \
		--metrics-addr "127.0.0.1:$mport" -- nginx -c "$out/nginx.conf" 2>>"$out/obs.log" & ;;
	obs10) OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.1 \
		OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port "$obs" \
		--metrics-addr "127.0.0.1:$mport" -- nginx -c "$out/nginx.conf" 2>>"$out/obs10.log" & ;;
	esac
	srv=$!
	pids=("$srv")
	rm -f "$out/nginx.pid"
	for _ in $(seq 100); do
		if [ -s "$out/nginx.pid" ] && curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
			worker=$(pgrep -P "$(cat "$out/nginx.pid")" | head -1)
			return 0
		fi
		sleep 0.1
	done
	echo "run.sh: nginx ($1) did not start; see $out/*.log" >&2
	exit 1
}
stop_cfg() {
	kill -TERM "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
	pids=()
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; } # utime + stime
# wrk's p99 in microseconds
us() { awk '{v=$1; if (v ~ /us$/) print v+0; else if (v ~ /ms$/) print v*1000; else print v*1e6}'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

cfgs="bare shim bpf obs obs10"
[ -n "$cmp" ] && cfgs="$cfgs shim@ obs@ obs10@"
hz=$(getconf CLK_TCK)
declare -A rps p99 wcpu ccpu
echo "http-overhead: nginx + wrk -t1 -c$conns, $rounds rounds x ${secs}s, interleaved" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	for c in $cfgs; do
		start_cfg "$c"
		wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null # warm up
		w0=$(ticks "$worker") c0=0
		case $c in bpf | obs* | obs*@) c0=$(ticks "$srv") ;; esac
		wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/" >"$out/wrk.$c.$r"
		w1=$(ticks "$worker") c1=0
		case $c in bpf | obs* | obs*@) c1=$(ticks "$srv") ;; esac
		stop_cfg
		q=$(awk '/^Requests\/sec/ {print $2}' "$out/wrk.$c.$r")
		l=$(awk '$1 == "99%" {print $2}' "$out/wrk.$c.$r" | us)
		rps[$c]="${rps[$c]:-} $q"
		p99[$c]="${p99[$c]:-} $l"
		# CPU microseconds per request
		wcpu[$c]="${wcpu[$c]:-} $(awk -v t=$((w1 - w0)) -v hz="$hz" -v q="$q" -v s="$secs" 'BEGIN {print t / hz * 1e6 / (q * s)}')"
		ccpu[$c]="${ccpu[$c]:-} $(awk -v t=$((c1 - c0)) -v hz="$hz" -v q="$q" -v s="$secs" 'BEGIN {print t / hz * 1e6 / (q * s)}')"
		printf ' %s=%.0f/s,p99=%sus' "$c" "$q" "$l" >&2
	done
	echo >&2
done
printf '\n%-6s %10s %8s %12s %11s %16s %15s\n' config "req/s" "p99 us" "thru/bare" "p99/bare" \
	"nginx CPU us/req" "obs CPU us/req"
declare -A mr ml mw mc
for c in $cfgs; do
	mr[$c]=$(echo ${rps[$c]} | tr ' ' '\n' | median)
	ml[$c]=$(echo ${p99[$c]} | tr ' ' '\n' | median)
	mw[$c]=$(echo ${wcpu[$c]} | tr ' ' '\n' | median)
	mc[$c]=$(echo ${ccpu[$c]} | tr ' ' '\n' | median)
done
for c in $cfgs; do
	awk -v c="$c" -v q="${mr[$c]}" -v l="${ml[$c]}" -v bq="${mr[bare]}" -v bl="${ml[bare]}" \
		-v w="${mw[$c]}" -v o="${mc[$c]}" 'BEGIN {
		printf "%-6s %10.0f %8.0f %11.1f%% %10.1f%% %16.2f %15.2f\n", c, q, l, 100*q/bq, 100*l/bl, w, o }'
done
for c in obs obs10; do
	awk -v c="$c" -v q="${mr[$c]}" -v l="${ml[$c]}" -v bq="${mr[bare]}" -v bl="${ml[bare]}" \
		-v w="${mw[$c]}" -v bw="${mw[bare]}" -v o="${mc[$c]}" 'BEGIN {
		printf "\n%s: %.1f%% of bare throughput (target >= 95%%), p99 %+.1f%% (target <= +5%%);", c, 100*q/bq, 100*(l-bl)/bl
		printf " nginx +%.2f us/req, collector %.2f us/req", w - bw, o }'
done
if [ -n "$cmp" ]; then
	printf '\n\nthis build against %s (CPU us per request, nginx worker + obs):\n' "$cmp"
	for c in shim obs obs10; do
		awk -v c="$c" -v a="${mw[$c]}" -v ao="${mc[$c]}" -v b="${mw[$c@]}" -v bo="${mc[$c@]}" \
			-v ra="${mr[$c]}" -v rb="${mr[$c@]}" 'BEGIN {
			printf "  %-6s this %.2f, other %.2f (%+.1f%%); req/s %.0f vs %.0f\n",
				c, a + ao, b + bo, 100 * ((a + ao) - (b + bo)) / (b + bo), ra, rb }'
	done
fi
echo
echo "spans in the last obs round (obs-run's exit summary):"
grep -E '^  (spans|traceparent)' "$out/obs.log" | tail -3 | sed 's/^/ /' || true

echo
echo "shimcost: one process, loopback HTTP exchanges (client span + server span each)"
n=200000
declare -A sc
for r in $(seq 3); do
	sc[bare]="${sc[bare]:-} $("$top/build/bench/shimcost" $n)"
	sc[shim]="${sc[shim]:-} $(LD_PRELOAD=$shim "$top/build/bench/shimcost" $n)"
	sc[bpf]="${sc[bpf]:-} $("$obs" --no-summary --no-preload --metrics-addr "127.0.0.1:$mport" -- \
		"$top/build/bench/shimcost" $n 2>/dev/null)"
	sc[obs]="${sc[obs]:-} $(OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port "$obs" \
		--no-summary --metrics-addr "127.0.0.1:$mport" -- "$top/build/bench/shimcost" $n 2>/dev/null)"
	if [ -n "$cmp" ]; then
		sc[shim@]="${sc[shim@]:-} $(LD_PRELOAD=$cmp/libobs_preload.so "$top/build/bench/shimcost" $n)"
	fi
done
for c in bare shim bpf obs ${cmp:+shim@}; do sc[$c]=$(echo ${sc[$c]} | tr ' ' '\n' | median); done
awk -v b="${sc[bare]}" -v s="${sc[shim]}" -v p="${sc[bpf]}" -v o="${sc[obs]}" 'BEGIN {
	printf "  bare %.0f ns/exchange; LD_PRELOAD %.0f; obs-run --no-preload %.0f; obs-run %.0f\n", b, s, p, o
	printf "  shim cost per request (client or server span): %.0f ns with no collector, %.0f ns with the collector (BPF removed)\n",
		(s - b) / 2, (o - p) / 2 }'
[ -n "$cmp" ] && awk -v b="${sc[bare]}" -v s="${sc[shim]}" -v t="${sc[shim@]}" 'BEGIN {
	printf "  the other build'"'"'s shim: %.0f ns/exchange, %.0f ns per request (this build: %.0f)\n", t, (t - b) / 2, (s - b) / 2 }'

echo
echo "OTLP encoder, one core:"
"$top/build/bench/encode_bench" | sed 's/^/  /'

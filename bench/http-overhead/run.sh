#!/usr/bin/env bash
# bench/http-overhead: what obs costs a real server, side by side.
#
#   1. nginx (one worker) + wrk -t1 (keep-alive, small response),
#      interleaved rounds of
#        bare      nginx alone
#        shim      LD_PRELOAD=libobs_preload.so with no collector, sampling
#                  nothing (OBS_SAMPLE="force 0"): the shim and its RED
#                  counting in the process's own memory
#        bpf       obs-run --no-preload: the kernel probes alone
#        bpftrace  the peer for the kernel side: bpftrace keeping the same
#                  per-syscall histogram for the nginx worker
#        obs10     obs-run --sample-ratio 0.1, spans as gzip'd OTLP to a sink
#        obs100    obs-run --sample-ratio 1: every span exported
#      reporting medians of req/s and p99 and their ratios to bare, CPU
#      microseconds per request (the nginx worker plus obs's own process,
#      user+system from /proc/PID/stat), the collector's CPU per exported
#      span, and its resident memory (VmRSS at the end of a round, VmHWM).
#      Then, in the same rounds and runs of nginx, an open loop
#      (openloop.c): requests due at a fixed rate, a sixth of bare's
#      saturated req/s in round 1 (OPEN_RATE=N to choose), each one's
#      latency counted from when it was due. At saturation wrk's p99 is
#      the queue of 16 connections that any added CPU lengthens; at a
#      rate the server sustains, p50/p99/p99.9 show what a request itself
#      waits for. (At half the saturated rate both vCPUs were 75% busy
#      here and bare's own p99 moved from 139 to 1656 us between rounds;
#      at a sixth it held at 190-200.) Reported: those, their ratios to
#      bare, CPU us/request.
#   2. shimcost: one process doing loopback HTTP exchanges (one client and
#      one server span each), bare vs LD_PRELOAD vs obs-run: the process's CPU
#      ns per request (its CPU time: the wall clock moves by a third here).
#   3. encode_bench: spans/s the OTLP encoder (and gzip) does on one core.
#
#   bench/http-overhead/run.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#   COMPARE=/path/to/other/build bench/http-overhead/run.sh ...
#      also runs shim, nospans, obs10 and obs100 from another build of obs
#      (an earlier commit's build/ directory) as shim@, nospans@, obs10@
#      and obs100@, interleaved in the same rounds
#   CFGS="bare nospans obs10" bench/http-overhead/run.sh ...
#      only these configurations (bare is always needed for the ratios)
#
# Needs root (obs-run loads BPF). Not a CI test: timings here are noisy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
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

bench_nginx_conf "$out" "$port" # one worker: nginx on one core, wrk on the other

python3 "$here/sink.py" "$sink_port" 2>"$out/sink.log" &
sink=$!
pids=()
cleanup() {
	for p in "${pids[@]}" "$sink"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

start_cfg() { # CFG: start nginx under CFG in the background, set $srv (and $peer)
	local obs=$obs shim=$shim
	# OTLP with gzip, as the target for the exported span asks
	local exp=(env OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port OTEL_EXPORTER_OTLP_COMPRESSION=gzip)
	case $1 in *@) obs=$cmp/obs-run shim=$cmp/libobs_preload.so ;; esac
	peer=
	case ${1%@} in
	bare | bpftrace) nginx -c "$out/nginx.conf" 2>>"$out/nginx.err" & ;;
	shim) LD_PRELOAD=$shim OBS_SAMPLE="force 0" OTEL_TRACES_SAMPLER=always_off \
		nginx -c "$out/nginx.conf" 2>>"$out/nginx.err" & ;;
	bpf) "$obs" --no-preload --metrics-addr "127.0.0.1:$mport" -- \
		nginx -c "$out/nginx.conf" 2>>"$out/obs-bpf.log" & ;;
	nospans) "$obs" --no-spans --metrics-addr "127.0.0.1:$mport" -- \
		nginx -c "$out/nginx.conf" 2>>"$out/obs-nospans.log" & ;;
	obs10) "${exp[@]}" "$obs" --sample-ratio 0.1 --metrics-addr "127.0.0.1:$mport" -- \
		nginx -c "$out/nginx.conf" 2>>"$out/obs10.log" & ;;
	obs100) "${exp[@]}" "$obs" --sample-ratio 1 --metrics-addr "127.0.0.1:$mport" -- \
		nginx -c "$out/nginx.conf" 2>>"$out/obs100.log" & ;;
	esac
	srv=$!
	pids=("$srv")
	rm -f "$out/nginx.pid"
	for _ in $(seq 100); do
		if [ -s "$out/nginx.pid" ] && curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
			worker=$(pgrep -P "$(cat "$out/nginx.pid")" | head -1)
			break
		fi
		sleep 0.1
	done
	[ -n "$worker" ] || { echo "run.sh: nginx ($1) did not start; see $out/*.log" >&2; exit 1; }
	if [ "$1" = bpftrace ]; then
		bench_bpftrace "$top/bench/syscall-overhead/syscalls.bt" "$worker" "$out/bpftrace.out"
		pids+=("$peer")
	fi
}
stop_cfg() {
	bench_stop
	pids=()
	worker=
}
# wrk's p99 in microseconds

worker= peer=
cfgs=${CFGS:-"bare shim bpf bpftrace nospans obs10 obs100"}
cfgs="bare $(echo " $cfgs " | sed 's/ bare / /g')" # first: the open loop's rate comes from it
olrate=${OPEN_RATE:-}
[ -n "$cmp" ] && cfgs="$cfgs shim@ nospans@ obs10@ obs100@"
command -v bpftrace >/dev/null || cfgs=${cfgs/bpftrace /}
hz=$(getconf CLK_TCK)
kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
spans_of() { # spans the collector exported, from its /metrics
	{ curl -fsS "127.0.0.1:$mport/metrics" 2>/dev/null || true; } |
		awk '/^obs_spans_exported_total/ {s += $2} END {print s + 0}'
}
declare -A rps p99 wcpu ccpu rss hwm pss cspan o50 o99 o999 olate ocpu
echo "http-overhead: nginx + wrk -t1 -c$conns, $rounds rounds x ${secs}s, interleaved" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	# Each round starts one configuration later than the one before:
	# whatever the previous round's last configuration leaves behind
	# (its collector's exit, the sink's backlog, a warm or cold cache)
	# falls on a different one each time, not always on bare. Round 1
	# starts with bare: the open loop's rate comes from it.
	set -- $cfgs
	k=$(((r - 1) % $#))
	order="$(echo $cfgs | cut -d' ' -f$((k + 1))-) $( ((k)) && echo $cfgs | cut -d' ' -f1-$k || true)"
	for c in $order; do
		start_cfg "$c"
		wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null # warm up
		obsp=0
		case $c in bpf* | nospans* | obs*) obsp=$srv ;; bpftrace) obsp=$peer ;; esac
		w0=$(ticks "$worker") c0=$( ((obsp)) && ticks "$obsp" || echo 0) s0=$(spans_of)
		wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/" >"$out/wrk.$c.$r"
		sleep 0.3 # the last spans leave
		w1=$(ticks "$worker") c1=$( ((obsp)) && ticks "$obsp" || echo 0) s1=$(spans_of)
		# the open loop, at a sixth of bare's saturated rate (set from round 1)
		[ -n "$olrate" ] || olrate=$(awk '/^Requests\/sec/ {printf "%d", $2 / 6}' "$out/wrk.$c.$r")
		w2=$(ticks "$worker") c2=$( ((obsp)) && ticks "$obsp" || echo 0)
		"$top/build/bench/openloop" 127.0.0.1 "$port" / "$olrate" "$secs" "$conns" >"$out/open.$c.$r"
		w3=$(ticks "$worker") c3=$( ((obsp)) && ticks "$obsp" || echo 0)
		ofield() { awk -v k="$1" '{for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1)}' "$out/open.$c.$r"; }
		od=$(ofield done) ol=$(ofield late) o2=$(ofield p99) o3=$(ofield p999)
		o50[$c]="${o50[$c]:-} $(ofield p50)"
		o99[$c]="${o99[$c]:-} $o2"
		o999[$c]="${o999[$c]:-} $o3"
		olate[$c]="${olate[$c]:-} $ol"
		ocpu[$c]="${ocpu[$c]:-} $(awk -v t=$((w3 - w2 + c3 - c2)) -v hz="$hz" -v n="$od" 'BEGIN {print t / hz * 1e6 / n}')"
		rss[$c]="${rss[$c]:-} $( ((obsp)) && kb "$obsp" VmRSS || echo 0)"
		hwm[$c]="${hwm[$c]:-} $( ((obsp)) && kb "$obsp" VmHWM || echo 0)"
		pss[$c]="${pss[$c]:-} $( ((obsp)) && awk '$1 == "Pss:" {print $2}' "/proc/$obsp/smaps_rollup" 2>/dev/null || echo 0)"
		stop_cfg
		q=$(awk '/^Requests\/sec/ {print $2}' "$out/wrk.$c.$r")
		l=$(awk '$1 == "99%" {print $2}' "$out/wrk.$c.$r" | us)
		rps[$c]="${rps[$c]:-} $q"
		p99[$c]="${p99[$c]:-} $l"
		# CPU microseconds per request
		wcpu[$c]="${wcpu[$c]:-} $(awk -v t=$((w1 - w0)) -v hz="$hz" -v q="$q" -v s="$secs" 'BEGIN {print t / hz * 1e6 / (q * s)}')"
		ccpu[$c]="${ccpu[$c]:-} $(awk -v t=$((c1 - c0)) -v hz="$hz" -v q="$q" -v s="$secs" 'BEGIN {print t / hz * 1e6 / (q * s)}')"
		cspan[$c]="${cspan[$c]:-} $((s1 - s0))"
		printf ' %s=%.0f/s,p99=%sus,open-p99=%sus' "$c" "$q" "$l" "$o2" >&2
	done
	echo >&2
done
declare -A mr ml mw mc mrss mhwm mpss msp mo50 mo99 mo999 molate mocpu
for c in $cfgs; do
	mr[$c]=$(echo ${rps[$c]} | tr ' ' '\n' | median)
	ml[$c]=$(echo ${p99[$c]} | tr ' ' '\n' | median)
	mw[$c]=$(echo ${wcpu[$c]} | tr ' ' '\n' | median)
	mc[$c]=$(echo ${ccpu[$c]} | tr ' ' '\n' | median)
	mrss[$c]=$(echo ${rss[$c]} | tr ' ' '\n' | median)
	mhwm[$c]=$(echo ${hwm[$c]} | tr ' ' '\n' | median)
	mpss[$c]=$(echo ${pss[$c]} | tr ' ' '\n' | median)
	msp[$c]=$(echo ${cspan[$c]} | tr ' ' '\n' | median)
	mo50[$c]=$(echo ${o50[$c]} | tr ' ' '\n' | median)
	mo99[$c]=$(echo ${o99[$c]} | tr ' ' '\n' | median)
	mo999[$c]=$(echo ${o999[$c]} | tr ' ' '\n' | median)
	molate[$c]=$(echo ${olate[$c]} | tr ' ' '\n' | median)
	mocpu[$c]=$(echo ${ocpu[$c]} | tr ' ' '\n' | median)
done
printf '\n%-9s %9s %8s %7s %7s %9s %9s %9s %9s %8s %8s\n' config "req/s" "p99 us" "rps/b" "p99/b" \
	"app us/r" "obs us/r" "sum us/r" "+us/r" "RSS MB" "HWM MB"
for c in $cfgs; do
	awk -v c="$c" -v q="${mr[$c]}" -v l="${ml[$c]}" -v bq="${mr[bare]}" -v bl="${ml[bare]}" \
		-v w="${mw[$c]}" -v o="${mc[$c]}" -v bw="${mw[bare]}" -v m="${mrss[$c]}" -v h="${mhwm[$c]}" 'BEGIN {
		printf "%-9s %9.0f %8.0f %7.2f %7.2f %9.2f %9.2f %9.2f %+9.2f %8.1f %8.1f\n",
			c, q, l, q/bq, l/bl, w, o, w + o, w + o - bw, m/1024, h/1024 }'
done
printf '\nopen loop at %s req/s (a sixth of bare saturated, round 1), %s connections, medians:\n' "$olrate" "$conns"
printf '%-9s %8s %8s %8s %7s %8s %8s %9s %9s\n' config "p50 us" "p99 us" "p99.9 us" "p99/b" "p99.9/b" late "us/req" "+us/req"
for c in $cfgs; do
	awk -v c="$c" -v a="${mo50[$c]}" -v b="${mo99[$c]}" -v d="${mo999[$c]}" -v bb="${mo99[bare]}" \
		-v bd="${mo999[bare]}" -v l="${molate[$c]}" -v u="${mocpu[$c]}" -v bu="${mocpu[bare]}" 'BEGIN {
		printf "%-9s %8.0f %8.0f %8.0f %7.2f %8.2f %8.0f %9.2f %+9.2f\n", c, a, b, d, b/bb, d/bd, l, u, u - bu }'
done
echo
echo "figures (this build):"
# (a configuration left out by CFGS: 0, and its figure means nothing)
total() { awk -v w="${mw[$1]:-0}" -v o="${mc[$1]:-0}" 'BEGIN {print w + o}'; }
have() { [ -n "${mw[$1]:-}" ] && echo 1 || echo 0; }
awk -v b="$(total bare)" -v sh="$(total shim)" -v bp="$(total bpf)" -v ns="$(total nospans)" \
	-v hs="$(have shim)" -v hb="$(have bpf)" -v hn="$(have nospans)" \
	-v bt="$( [ -n "${mw[bpftrace]:-}" ] && total bpftrace || echo 0)" 'BEGIN {
	if (hs) printf "  shim + RED, unsampled request: %+.2f us CPU/req alone (LD_PRELOAD)", sh - b
	if (hs && hb && hn) printf ", %+.2f us under obs-run (nospans - bpf)", ns - bp
	if (hs) printf "  [target <= +0.3]\n"
	if (!hb) exit
	printf "  kernel probes: %+.2f us CPU/req  [target <= +1.0]", bp - b
	if (bt > 0) printf "; bpftrace %+.2f us (obs/bpftrace %.2f)", bt - b, (bp - b) / (bt - b)
	printf "\n" }'
for c in obs10 obs100; do
	[ -n "${mc[$c]:-}" ] || continue
	awk -v c="$c" -v o="${mc[$c]}" -v n="${mc[nospans]:-0}" -v q="${mr[$c]}" -v s="$secs" -v sp="${msp[$c]}" \
		-v l="${ml[$c]}" -v bl="${ml[bare]}" -v t="$([ $c = obs10 ] && echo 1.3 || echo 2)" 'BEGIN {
		per = sp > 0 ? (o - n) * q * s / sp : 0
		printf "  %s: p99 %.2fx bare [target <= %sx]; collector %.2f us CPU per exported span [target <= 1] (%d spans in a round)\n",
			c, l / bl, t, per, sp }'
	awk -v c="$c" -v b="${mo99[$c]}" -v bb="${mo99[bare]}" -v d="${mo999[$c]}" -v bd="${mo999[bare]}" 'BEGIN {
		printf "  %s, open loop at a sixth of bare saturated: p99 %.2fx bare, p99.9 %.2fx\n", c, b / bb, d / bd }'
done
# steady: VmRSS at the end of a loaded round; the peak (VmHWM) is at
# start, when libbpf holds its copy of the kernel's BTF to load the programs
# PSS: shared pages (libraries, the app's region) divided among the
# processes that map them
[ -n "${mrss[obs10]:-}${mrss[obs100]:-}" ] && awk -v a="${mrss[obs10]:-0}" -v m="${mrss[obs100]:-0}" -v h="${mhwm[obs100]:-0}" -v pa="${mpss[obs10]:-0}" -v pm="${mpss[obs100]:-0}" 'BEGIN {
	printf "  collector steady RSS under load (VmRSS): %.1f MB at 10%%, %.1f MB every span exported [target <= 16]; peak %.1f MB (VmHWM, at start); PSS %.1f and %.1f MB\n", a / 1024, m / 1024, h / 1024, pa / 1024, pm / 1024 }'
if [ -n "$cmp" ]; then
	printf '\nthis build against %s (CPU us per request, nginx worker + obs; p99):\n' "$cmp"
	for c in shim nospans obs10 obs100; do
		[ -n "${mr[$c]:-}" ] && [ -n "${mr[$c@]:-}" ] || continue
		awk -v c="$c" -v a="$(total $c)" -v b="$(total $c@)" -v ra="${mr[$c]}" -v rb="${mr[$c@]}" \
			-v la="${ml[$c]}" -v lb="${ml[$c@]}" 'BEGIN {
			printf "  %-8s this %.2f, other %.2f (%+.1f%%); req/s %.0f vs %.0f; p99 %.0f vs %.0f us\n",
				c, a, b, 100 * (a - b) / b, ra, rb, la, lb }'
	done
fi
echo
echo "spans in the last obs round (obs-run's exit summary):"
grep -E '^  (spans|traceparent)' "$out/obs100.log" | tail -3 | sed 's/^/ /' || true

echo
echo "shimcost: one process, loopback HTTP exchanges (client span + server span each), its CPU time"
n=200000
declare -A sc
for r in $(seq 3); do
	sc[bare]="${sc[bare]:-} $("$top/build/bench/shimcost" $n)"
	sc[shim]="${sc[shim]:-} $(LD_PRELOAD=$shim OBS_SAMPLE="force 0" "$top/build/bench/shimcost" $n)"
	sc[bpf]="${sc[bpf]:-} $("$obs" --no-summary --no-preload --metrics-addr "127.0.0.1:$mport" -- \
		"$top/build/bench/shimcost" $n 2>/dev/null)"
	sc[obs]="${sc[obs]:-} $(OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port "$obs" \
		--no-summary --no-spans --metrics-addr "127.0.0.1:$mport" -- "$top/build/bench/shimcost" $n 2>/dev/null)"
	if [ -n "$cmp" ]; then
		sc[shim@]="${sc[shim@]:-} $(LD_PRELOAD=$cmp/libobs_preload.so "$top/build/bench/shimcost" $n)"
	fi
done
for c in bare shim bpf obs ${cmp:+shim@}; do sc[$c]=$(echo ${sc[$c]} | tr ' ' '\n' | median); done
awk -v b="${sc[bare]}" -v s="${sc[shim]}" -v p="${sc[bpf]}" -v o="${sc[obs]}" 'BEGIN {
	printf "  bare %.0f CPU ns/exchange; LD_PRELOAD %.0f; obs-run --no-preload %.0f; obs-run %.0f\n", b, s, p, o
	printf "  shim cost per request (client or server span): %.0f ns with no collector, %.0f ns under obs-run --no-spans (BPF removed)\n",
		(s - b) / 2, (o - p) / 2 }'
[ -n "$cmp" ] && awk -v b="${sc[bare]}" -v s="${sc[shim]}" -v t="${sc[shim@]}" 'BEGIN {
	printf "  the other build'"'"'s shim: %.0f ns/exchange, %.0f ns per request (this build: %.0f)\n", t, (t - b) / 2, (s - b) / 2 }'

echo
echo "OTLP encoder, one core:"
"$top/build/bench/encode_bench" | sed 's/^/  /'

#!/usr/bin/env bash
# bench/redis-client: what following a Redis client costs it.
#
#   redis-benchmark (hiredis, through libc) against Debian's redis-server,
#   one connection, GET and SET, in interleaved rounds of
#     bare     redis-benchmark alone
#     shim     LD_PRELOAD of the shim, no collector (RESP parsed, points
#              counted in the process, no span kept)
#     kernel   obs-run --no-preload: the kernel probes alone
#     obs      obs-run --sample-ratio 0.1: probes + shim + collector,
#              spans kept at 10% (not exported)
#     obs100   obs-run: every command a span, written to /dev/null
#   each without pipelining (-P 1) and pipelined (-P 16), reporting medians
#   of commands/s and p99 against bare, and the client's CPU microseconds
#   per command (redis-benchmark's user+system, obs-run's included: its
#   collector), with obs's added CPU per command.
#
#   bench/redis-client/run.sh [ROUNDS] [COMMANDS]
#
# Needs root (obs-run loads BPF), redis-server, redis-benchmark. Not a CI test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
rounds=${1:-5}
n=${2:-100000}
out=$top/build/bench/redis-client
mkdir -p "$out"
make -C "$top" -s all
obs=$top/build/obs-run
port=$((20000 + RANDOM % 12000))
mport=$((port + 1))
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$out" \
	>"$out/redis.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; wait 2>/dev/null || true' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# one CFG at -P pipe: "cps p99_us cpu_us_per_command" of GET and SET together
one() {
	local cfg=$1 pipe=$2 t0 t1 csv
	local cmd=(redis-benchmark -p "$port" -t get,set -n "$n" -c 1 -P "$pipe" --csv)
	case $cfg in
	bare) ;;
	shim) cmd=(env LD_PRELOAD="$top/build/libobs_preload.so" "${cmd[@]}") ;;
	kernel) cmd=("$obs" --no-preload --no-summary --metrics-addr "127.0.0.1:$mport" -- "${cmd[@]}") ;;
	obs) cmd=("$obs" --sample-ratio 0.1 --no-summary --metrics-addr "127.0.0.1:$mport" -- "${cmd[@]}") ;;
	obs100) cmd=("$obs" --spans-file /dev/null --no-summary --metrics-addr "127.0.0.1:$mport" -- "${cmd[@]}") ;;
	esac
	/usr/bin/time -f "%U %S" -o "$out/time" "${cmd[@]}" >"$out/csv" 2>>"$out/err"
	# (obs-run's fixed start and exit taken off: bench_obs_fixed)
	awk -F'"' -v cpu="$(awk '{print $1 + $2}' "$out/time")" -v fixed="${fixed[$cfg]:-0}" -v n="$n" '
		$2 == "GET" || $2 == "SET" { rps += $4; p99 = $14 > p99 ? $14 : p99; k++ }
		END { printf "%.0f %.0f %.2f\n", rps / k, p99 * 1000, (cpu - fixed) * 1e6 / (2 * n) }' "$out/csv"
}

cfgs="bare shim kernel obs obs100"
declare -A res fixed
fixed[kernel]=$(for _ in 1 2 3; do bench_obs_fixed "$obs" --no-preload; done | median)
fixed[obs]=$(for _ in 1 2 3; do bench_obs_fixed "$obs" --sample-ratio 0.1; done | median)
fixed[obs100]=$(for _ in 1 2 3; do bench_obs_fixed "$obs" --spans-file /dev/null; done | median)
echo "obs-run's own start and exit: ${fixed[kernel]} s CPU (taken off each run's)" >&2
for pipe in 1 16; do
	for r in $(seq "$rounds"); do
		for c in $cfgs; do
			res[$pipe,$c]="${res[$pipe,$c]:-}$(one "$c" "$pipe")"$'\n'
		done
		echo "round $r/$rounds (-P $pipe) done" >&2
	done
done

col() { printf '%s' "${res[$1,$2]}" | awk -v f="$3" 'NF {print $f}' | median; }
for pipe in 1 16; do
	echo
	echo "redis-benchmark -c 1 -P $pipe, GET+SET, $n each, medians of $rounds interleaved rounds"
	printf '%-8s %12s %8s %10s %8s %14s %12s\n' config "commands/s" ratio "p99 us" ratio "CPU us/cmd" "added"
	b_r=$(col "$pipe" bare 1) b_l=$(col "$pipe" bare 2) b_c=$(col "$pipe" bare 3)
	for c in $cfgs; do
		r=$(col "$pipe" "$c" 1) l=$(col "$pipe" "$c" 2) cu=$(col "$pipe" "$c" 3)
		awk -v c="$c" -v r="$r" -v l="$l" -v cu="$cu" -v br="$b_r" -v bl="$b_l" -v bc="$b_c" 'BEGIN {
			printf "%-8s %12.0f %8.2f %10.0f %8.2f %14.2f %+12.2f\n", c, r, r / br, l, (bl ? l / bl : 0), cu, cu - bc }'
	done
done

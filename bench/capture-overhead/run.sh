#!/usr/bin/env bash
# bench/capture-overhead: what kernel-side capture costs per syscall, on
# the syscalls it works on, measured without a network service's noise.
#
#   loop.c (static, so obs follows it from the kernel side) makes HTTP/1.1
#   exchanges over one loopback connection, in one thread pinned to one
#   CPU: 4 reads and writes on captured sockets and a getppid per
#   exchange. Interleaved rounds of
#     bare      the loop alone
#     probes    obs-run --no-preload on the same loop built dynamically:
#               the kernel probes, no capture
#     capture   obs-run on the static loop: probes + capture
#     capture@  the same from another build (COMPARE=, e.g. the commit
#               before's build/ directory)
#   reporting the medians of the loop's own ns per exchange and, from the
#   kernel's BPF statistics (kernel.bpf_stats_enabled), of the ns the
#   syscall programs (obs_sys_enter/exit, with capture's tail calls) run
#   per syscall. The second is the steadier: it counts only obs's
#   programs, not what the hypervisor steals around them.
#
#   bench/capture-overhead/run.sh [ROUNDS] [EXCHANGES]
#   COMPARE=/path/to/other/build bench/capture-overhead/run.sh ...
#
# Needs root, bpftool. Not a CI test: timings on shared vCPUs are noisy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
rounds=${1:-5}
n=${2:-400000}
out=$top/build/bench/capture-overhead
mkdir -p "$out"
make -C "$top" -s all
cc -O2 -Wall -static -o "$out/loop" "$here/loop.c"
cc -O2 -Wall -o "$out/loop-dyn" "$here/loop.c"
obs=$top/build/obs-run
cmp=${COMPARE:-}
if [ -n "$cmp" ] && [ ! -x "$cmp/obs-run" ]; then
	echo "run.sh: COMPARE=$cmp has no obs-run" >&2
	exit 1
fi
cpu=$(($(nproc) - 1))
mport=$((20000 + RANDOM % 12000))
stats0=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -q kernel.bpf_stats_enabled="$stats0"' EXIT
sysctl -q kernel.bpf_stats_enabled=1

# ns the syscall programs ran per syscall, from two `bpftool prog show`
# snapshots (the same programs' run_time_ns and run_cnt)
prog_ns() {
	python3 - "$1" "$2" <<'PY'
import json, sys
b = {p["id"]: p for p in json.load(open(sys.argv[1]))}
ns = 0.0
for p in json.load(open(sys.argv[2])):
    q = b.get(p["id"])
    if q and p.get("name") in ("obs_sys_enter", "obs_sys_exit"):
        dc = p.get("run_cnt", 0) - q.get("run_cnt", 0)
        if dc:
            ns += (p.get("run_time_ns", 0) - q.get("run_time_ns", 0)) / dc
print(round(ns, 1))
PY
}

run_cfg() { # CFG: prints "ns-per-exchange ns-per-syscall"
	local o=$obs prog=$out/loop flags= pid t
	case $1 in
	bare) echo "$("$prog" "$n" "$cpu") 0"; return ;;
	probes) prog=$out/loop-dyn flags=--no-preload ;;
	capture@) o=$cmp/obs-run ;;
	esac
	"$o" $flags --no-summary --metrics-addr "127.0.0.1:$mport" -- "$prog" "$n" "$cpu" \
		>"$out/loop.out" 2>>"$out/obs.log" &
	pid=$!
	sleep 1
	bpftool prog show -j >"$out/stats.0"
	sleep 2
	bpftool prog show -j >"$out/stats.1"
	wait "$pid"
	t=$(grep -E '^[0-9.]+$' "$out/loop.out" | head -1)
	echo "${t:-0} $(prog_ns "$out/stats.0" "$out/stats.1")"
}

cfgs="bare probes capture ${cmp:+capture@}"
declare -A ex sc
echo "capture-overhead: $rounds rounds x $n exchanges (5 syscalls each, 4 captured), CPU $cpu" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	for c in $cfgs; do
		read -r e s < <(run_cfg "$c")
		ex[$c]="${ex[$c]:-} $e" sc[$c]="${sc[$c]:-} $s"
		printf ' %s=%.0fns' "$c" "$e" >&2
	done
	echo >&2
done
declare -A me ms
for c in $cfgs; do
	me[$c]=$(echo ${ex[$c]} | tr ' ' '\n' | median)
	ms[$c]=$(echo ${sc[$c]} | tr ' ' '\n' | median)
done
printf '\n%-10s %14s %14s %22s\n' config "ns/exchange" "+ns/exchange" "programs ns/syscall"
for c in $cfgs; do
	awk -v c="$c" -v e="${me[$c]}" -v b="${me[bare]}" -v s="${ms[$c]}" 'BEGIN {
		printf "%-10s %14.0f %+14.0f %22s\n", c, e, e - b, (c == "bare") ? "-" : sprintf("%.1f", s) }'
done
awk -v p="${ms[probes]}" -v c="${ms[capture]}" 'BEGIN {
	printf "\ncapture adds %.0f ns per syscall to the probes (%.0f ns per captured read or write)\n", c - p, (c - p) * 5 / 4 }'
if [ -n "$cmp" ]; then
	awk -v c="${ms[capture]}" -v d="${ms[capture@]}" -v p="${ms[probes]}" 'BEGIN {
		printf "this build vs %s: capture %+.0f ns per syscall against its %+.0f\n", "'"$cmp"'", c - p, d - p }'
fi

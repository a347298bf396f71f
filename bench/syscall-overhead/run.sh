#!/usr/bin/env bash
# bench/syscall-overhead: per-syscall cost added by obs vs two empty BPF
# programs vs bpftrace computing the same per-syscall histogram. Runs the
# configurations interleaved, ROUNDS times, and reports medians and ratios.
#
#   bench/syscall-overhead/run.sh [ROUNDS] [ITERATIONS]
#
# Needs root. Not a CI test: this machine's timings are noisy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
rounds=${1:-7}
iters=${2:-300000}
out=$top/build/bench
mkdir -p "$out"

make -C "$top" -s all
[ "$out/empty.skel.h" -nt "$here/empty.bpf.c" ] || {
	clang -g -O2 -target bpf -I"$top/build" -c "$here/empty.bpf.c" -o "$out/empty.bpf.o"
	bpftool gen skeleton "$out/empty.bpf.o" name empty_bpf > "$out/empty.skel.h"
}
cc -O2 -Wall -I"$out" -o "$out/empty_loader" "$here/empty_loader.c" -lbpf -lelf -lz
cc -O2 -Wall -o "$out/loop" "$here/loop.c"
# bpftrace reads tracepoint formats from tracefs.
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing

obs="$top/build/obs-run"
port=$((20000 + RANDOM % 10000))
run_cfg() {
	case $1 in
	bare) "$out/loop" "$iters" ;;
	empty) "$out/empty_loader" "$out/loop" "$iters" ;;
	clock) "$out/empty_loader" --clock "$out/loop" "$iters" ;;
	obs) "$obs" --no-summary --metrics-addr 127.0.0.1:$port -- "$out/loop" "$iters" 2>/dev/null ;;
	bpftrace) bpftrace -q -c "$out/loop $iters" "$here/syscalls.bt" 2>/dev/null || true ;;
	esac
}

cfgs="bare empty clock obs bpftrace"
declare -A res
echo "syscall-overhead: $rounds rounds x $iters iterations (3 syscalls each), interleaved" >&2
for r in $(seq "$rounds"); do
	for c in $cfgs; do
		v=$(run_cfg "$c" | grep -E '^[0-9.]+$' | head -1 || true)
		res[$c]="${res[$c]:-} $v"
	done
	printf '  round %s:' "$r" >&2
	for c in $cfgs; do printf ' %s=%s' "$c" "$(echo ${res[$c]} | awk '{print $NF}')" >&2; done
	echo >&2
done
declare -A m
for c in $cfgs; do m[$c]=$(echo ${res[$c]} | tr ' ' '\n' | median); done
b=${m[bare]}
printf '\n%-10s %12s %14s %18s\n' config "ns/syscall" "added ns" "added / empty-BPF"
for c in $cfgs; do
	awk -v c="$c" -v v="${m[$c]}" -v b="$b" -v e="${m[empty]}" 'BEGIN {
		add = v - b; ref = e - b;
		printf "%-10s %12.1f %14.1f %18s\n", c, v, add, (c == "bare") ? "-" : sprintf("%.2fx", add / ref) }'
done
awk -v o="${m[obs]}" -v t="${m[bpftrace]}" -v b="$b" -v e="${m[empty]}" -v k="${m[clock]}" 'BEGIN {
	printf "\nobs added / empty-BPF added:   %.2fx (target <= 1.5x)\n", (o - b) / (e - b)
	printf "obs added / bpftrace added:    %.2f  (target < 0.5)\n", (o - b) / (t - b)
	printf "two clock reads alone:         %.1f ns = %.2fx empty-BPF (a floor for any timing)\n", k - e, (k - e) / (e - b)
	printf "obs beyond the clock floor:    %.1f ns = %.2fx empty-BPF\n", o - k, (o - k) / (e - b) }'

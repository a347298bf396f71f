#!/usr/bin/env bash
# bench/pg-client: what following a PostgreSQL client costs it.
#
#   pgbench (libpq, through libc) against a throwaway cluster of Debian's
#   postgresql (tests/e2e/pg_cluster.sh), one connection, select-only
#   (-S) with prepared statements, in interleaved rounds of
#     bare     pgbench alone
#     shim     LD_PRELOAD of the shim, no collector (the protocol read,
#              points counted in the process, no span kept)
#     kernel   obs-run --no-preload: the kernel probes alone
#     obs      obs-run --sample-ratio 0.1: probes + shim + collector,
#              spans kept at 10% (not exported)
#     obs100   obs-run: every operation a span, written to /dev/null
#   each one operation per round trip (-S) and ten per round trip (a
#   pipeline of ten SELECTs up to one Sync: one BATCH operation),
#   reporting medians of operations/s and p99 against bare, and the
#   client's CPU microseconds per operation (pgbench's user+system,
#   obs-run's included: its collector), with obs's added CPU.
#
#   bench/pg-client/run.sh [ROUNDS] [TRANSACTIONS]
#
# Needs root (obs-run loads BPF; the cluster runs as postgres), postgresql.
# Not a CI test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
rounds=${1:-5}
n=${2:-20000}
out=$top/build/bench/pg-client
mkdir -p "$out"
make -C "$top" -s all
obs=$top/build/obs-run
port=$((20000 + RANDOM % 12000))
mport=$((port + 1))
pgd=$(mktemp -d /tmp/obs-bench-pg.XXXXXX)
trap '"$top/tests/e2e/pg_cluster.sh" stop "$pgd"' EXIT
"$top/tests/e2e/pg_cluster.sh" start "$pgd" "$port"
pgbench -i -q -s 1 -h 127.0.0.1 -p "$port" -U postgres shop >"$out/init.log" 2>&1
{
	echo '\set aid random(1, 100000)'
	echo '\startpipeline'
	for _ in $(seq 10); do echo 'SELECT abalance FROM pgbench_accounts WHERE aid = :aid;'; done
	echo '\endpipeline'
} >"$out/pipe10.sql"

# one CFG with WORKLOAD (s: -S; p: the pipeline): "tps p99_us cpu_us_per_operation"
one() {
	local cfg=$1 w=$2 ops=1
	local cmd=(pgbench -n -h 127.0.0.1 -p "$port" -U postgres -c 1 -t "$n" -M prepared
		-l --log-prefix="$out/tx")
	if [ "$w" = p ]; then cmd+=(-M extended -f "$out/pipe10.sql"); ops=10; else cmd+=(-S); fi
	cmd+=(shop)
	case $cfg in
	bare) ;;
	shim) cmd=(env LD_PRELOAD="$top/build/libobs_preload.so" "${cmd[@]}") ;;
	kernel) cmd=("$obs" --no-preload --no-summary --metrics-addr "127.0.0.1:$mport" -- "${cmd[@]}") ;;
	obs) cmd=("$obs" --sample-ratio 0.1 --no-summary --metrics-addr "127.0.0.1:$mport" -- "${cmd[@]}") ;;
	obs100) cmd=("$obs" --spans-file /dev/null --no-summary --metrics-addr "127.0.0.1:$mport" -- "${cmd[@]}") ;;
	esac
	rm -f "$out"/tx.*
	/usr/bin/time -f "%U %S" -o "$out/time" "${cmd[@]}" >"$out/pgbench.out" 2>>"$out/err"
	# the log: one line per transaction, its latency in us in column 3
	# (obs-run's fixed start and exit taken off: bench_obs_fixed)
	sort -n -k3,3 "$out"/tx.* | awk -v tps="$(awk '/^tps/ {print $3}' "$out/pgbench.out")" \
		-v cpu="$(awk '{print $1 + $2}' "$out/time")" -v fixed="${fixed[$cfg]:-0}" -v n="$n" -v ops="$ops" '
		{ l[NR] = $3 } END { printf "%.0f %.0f %.2f\n", tps * ops, l[int(NR * 0.99)], (cpu - fixed) * 1e6 / (n * ops) }'
}

cfgs="bare shim kernel obs obs100"
declare -A res fixed
fixed[kernel]=$(for _ in 1 2 3; do bench_obs_fixed "$obs" --no-preload; done | median)
fixed[obs]=$(for _ in 1 2 3; do bench_obs_fixed "$obs" --sample-ratio 0.1; done | median)
fixed[obs100]=$(for _ in 1 2 3; do bench_obs_fixed "$obs" --spans-file /dev/null; done | median)
echo "obs-run's own start and exit: ${fixed[kernel]} s CPU (taken off each run's)" >&2
for w in s p; do
	for r in $(seq "$rounds"); do
		for c in $cfgs; do
			res[$w,$c]="${res[$w,$c]:-}$(one "$c" "$w")"$'\n'
		done
		echo "round $r/$rounds ($w) done" >&2
	done
done

col() { printf '%s' "${res[$1,$2]}" | awk -v f="$3" 'NF {print $f}' | median; }
for w in s p; do
	echo
	[ "$w" = s ] && echo "pgbench -c 1 -S -M prepared, $n operations, medians of $rounds interleaved rounds" ||
		echo "pgbench -c 1, a pipeline of 10 SELECTs per Sync, $n pipelines, medians of $rounds interleaved rounds"
	printf '%-8s %12s %8s %10s %8s %14s %12s\n' config "operations/s" ratio "p99 us" ratio "CPU us/op" "added"
	b_r=$(col "$w" bare 1) b_l=$(col "$w" bare 2) b_c=$(col "$w" bare 3)
	for c in $cfgs; do
		r=$(col "$w" "$c" 1) l=$(col "$w" "$c" 2) cu=$(col "$w" "$c" 3)
		awk -v c="$c" -v r="$r" -v l="$l" -v cu="$cu" -v br="$b_r" -v bl="$b_l" -v bc="$b_c" 'BEGIN {
			printf "%-8s %12.0f %8.2f %10.0f %8.2f %14.2f %+12.2f\n", c, r, r / br, l, (bl ? l / bl : 0), cu, cu - bc }'
	done
done

#!/usr/bin/env bash
# bench/agent-many: the node agent serving many traced processes at once.
#
#   PROCS processes (default 200) each do ITERS loopback HTTP exchanges
#   (bench/http-overhead/shimcost: one client and one server span each),
#   spread over ROUTES routes of their own, all at the same time, in
#   interleaved rounds of
#     bare    no shim
#     shim    LD_PRELOAD of the shim with no collector, sampling nothing
#     agent   LD_PRELOAD of the shim an `obs agent` published: every process
#             hands its region to the agent, 1% of traces sampled and
#             exported as OTLP to a sink
#   reporting the processes' CPU microseconds per exchange (user+system of
#   all of them, from the shell's `times`), the agent's own CPU, its memory
#   (anonymous, and the regions it shares with the processes), how many
#   series it exposes, and how long one /metrics takes to render.
#
#   bench/agent-many/run.sh [PROCS] [ITERS] [ROUTES] [ROUNDS]
#
# Needs root (the agent loads BPF). Not a CI test: timings here are noisy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
procs=${1:-200}
iters=${2:-5000}
routes=${3:-25}
rounds=${4:-3}
out=$top/build/bench/agent-many
mkdir -p "$out"
make -C "$top" -s all bench-bins
shimcost=$top/build/bench/shimcost
base=$((20000 + RANDOM % 12000))
mport=$base sink_port=$((base + 1))
dir=$(mktemp -d /run/obs-bench.XXXXXX)
chmod 755 "$dir"
agent=
sink=
cleanup() {
	[ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null
	[ -n "$sink" ] && kill "$sink" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

python3 "$top/bench/http-overhead/sink.py" "$sink_port" 2>"$out/sink.log" &
sink=$!
cat >"$dir/agent.yaml" <<EOF
metrics:
  listen: "127.0.0.1:$mport"
cardinality:
  max_series: 10000000
tracing:
  shim_dir: $dir/run-obs
  endpoint: http://127.0.0.1:$sink_port
  sampling_ratio: 0.01
EOF
"$top/build/obs" agent --config "$dir/agent.yaml" 2>"$out/agent.log" &
agent=$!
for _ in $(seq 300); do
	curl -fsS "127.0.0.1:$mport/readyz" 2>/dev/null | grep -q ready && break
	sleep 0.1
done
curl -fsS "127.0.0.1:$mport/readyz" >/dev/null || { echo "run.sh: the agent did not start; see $out/agent.log" >&2; exit 1; }

secs() { # "1m2.500s" -> 62.5
	awk '{ split($0, a, "m"); sub("s", "", a[2]); print a[1] * 60 + a[2] }'
}
# all PROCS at once under CFG; prints "CPU-seconds wall-seconds"
run_all() {
	local cfg=$1 t0 t1
	t0=$(date +%s%N)
	(
		for i in $(seq 0 $((procs - 1))); do
			case $cfg in
			bare) "$shimcost" "$iters" "$routes" $((i * routes)) >/dev/null & ;;
			shim) LD_PRELOAD=$top/build/libobs_preload.so OBS_SAMPLE="force 0" \
				"$shimcost" "$iters" "$routes" $((i * routes)) >/dev/null & ;;
			agent) OTEL_SERVICE_NAME=many-$((i % 20)) LD_PRELOAD=$dir/run-obs/libobs_preload.so \
				"$shimcost" "$iters" "$routes" $((i * routes)) >/dev/null & ;;
			esac
		done
		wait
		times >"$out/times.all"
		tail -1 "$out/times.all" >"$out/times"
	)
	t1=$(date +%s%N)
	read -r u s <"$out/times"
	echo "$(awk -v u="$(echo "$u" | secs)" -v s="$(echo "$s" | secs)" 'BEGIN {print u + s}') $(((t1 - t0) / 1000000))"
}

declare -A cpu wall
hz=$(getconf CLK_TCK)
echo "agent-many: $procs processes x $iters exchanges over $routes routes each, $rounds rounds" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	for c in bare shim agent; do
		a0=$(ticks "$agent")
		read -r t w < <(run_all "$c")
		a1=$(ticks "$agent")
		per=$(awk -v t="$t" -v n=$((procs * iters)) 'BEGIN {print t * 1e6 / n}')
		cpu[$c]="${cpu[$c]:-} $per"
		wall[$c]="${wall[$c]:-} $w"
		[ "$c" = agent ] && acpu="${acpu:-} $(awk -v t=$((a1 - a0)) -v hz="$hz" -v n=$((procs * iters)) 'BEGIN {print t / hz * 1e6 / n}')"
		printf ' %s=%.2fus/exchange(%sms)' "$c" "$per" "$w" >&2
	done
	echo >&2
done
for c in bare shim agent; do cpu[$c]=$(echo ${cpu[$c]} | tr ' ' '\n' | median); done
acpu=$(echo $acpu | tr ' ' '\n' | median)

# the agent now holds what every process counted (they have exited: retired)
for _ in $(seq 10); do
	curl -s -o /dev/null -w '%{time_total}\n' "127.0.0.1:$mport/metrics"
done >"$out/scrape.txt"
curl -fsS "127.0.0.1:$mport/metrics" >"$out/metrics.txt"
series=$(grep -cE '^http_(server|client)_request_duration_seconds_count\{' "$out/metrics.txt" || true)
samples=$(grep -vc '^#' "$out/metrics.txt" || true)
counted=$(awk '/^http_server_request_duration_seconds_count/ {s += $NF} END {printf "%d", s}' "$out/metrics.txt")
st() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$agent/status"; }

echo
printf '%-6s %18s\n' config "CPU us/exchange"
for c in bare shim agent; do printf '%-6s %18.2f\n' "$c" "${cpu[$c]}"; done
awk -v b="${cpu[bare]}" -v s="${cpu[shim]}" -v a="${cpu[agent]}" -v o="$acpu" 'BEGIN {
	printf "\nper request (an exchange is a client and a server request):\n"
	printf "  shim alone %+.2f us; under the agent %+.2f us in the processes + %.2f us in the agent\n",
		(s - b) / 2, (a - b) / 2, o / 2 }'
echo "  server requests counted by the agent: $counted (expected $((rounds * procs * iters)))"
echo "  /metrics: $series HTTP histogram series, $samples samples; render median $(median <"$out/scrape.txt" | awk '{printf "%.1f", $1 * 1000}') ms [target < 20 ms at 10 000 series]"
echo "  agent memory: VmRSS $(st VmRSS) kB = anonymous $(st RssAnon) kB + files $(st RssFile) kB + shared with the processes $(st RssShmem) kB; VmHWM $(st VmHWM) kB"

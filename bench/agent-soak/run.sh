#!/usr/bin/env bash
# bench/agent-soak: the node agent under process churn, for a long time.
#
#   For MINUTES (default 30), about RATE (default 50) new processes a
#   second start and end, as cron jobs, hooks and health checks do on a
#   busy node:
#     - one-shot host programs under NAMES distinct executable names
#       (copies of /bin/true: job1 ... jobNAMES), the bulk of the churn;
#     - now and then one that declares a service of its own
#       (OTEL_SERVICE_NAME=svcN, N ever new): a service that lives a
#       moment and then has no process, to expire after STALE;
#   while nginx serves a steady trickle of requests (a live service).
#   Every STEP seconds it prints the agent's samples exposed (obs_series),
#   the services it names, the series expired so far, its resident memory
#   and its CPU share. Both the series count and the memory must stay flat:
#   the last rows against the first ones are the result.
#
#   bench/agent-soak/run.sh [MINUTES] [RATE] [NAMES] [STALE] [STEP]
#
# Needs root (the agent loads BPF) and nginx. Not a CI test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
minutes=${1:-30}
rate=${2:-50}
names=${3:-500}
stale=${4:-60s}
step=${5:-30}
out=$top/build/bench/agent-soak
rm -rf "$out" && mkdir -p "$out/bin" "$out/ngx"
make -C "$top" -s all >/dev/null
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mp=$(port) np=$(port)

for i in $(seq "$names"); do cp /bin/true "$out/bin/job$i"; done
printf 'metrics:\n  listen: "127.0.0.1:%s"\ncardinality:\n  stale_after: %s\n' "$mp" "$stale" >"$out/agent.yaml"
"$top/build/obs" agent --no-preload --config "$out/agent.yaml" 2>"$out/agent.err" &
agent=$!
bench_nginx_conf "$out/ngx" "$np"
nginx -c "$out/ngx/nginx.conf" -p "$out/ngx" &
ngx=$!
churn=
cleanup() {
	[ -n "$churn" ] && kill "$churn" 2>/dev/null
	kill "$ngx" "$agent" 2>/dev/null
	wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$mp/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

# the churn: RATE processes a second, in batches of RATE/10 every 100 ms
(
	n=0 svc=0
	batch=$(((rate + 9) / 10))
	while :; do
		for _ in $(seq "$batch"); do
			n=$((n + 1))
			if [ $((n % 25)) = 0 ]; then
				svc=$((svc + 1))
				OTEL_SERVICE_NAME=svc$svc "$out/bin/job1" &
			else
				"$out/bin/job$((n % names + 1))" &
			fi
		done
		curl -fsS -o /dev/null "http://127.0.0.1:$np/" || true
		wait
		sleep 0.1
	done
) &
churn=$!

metric() { awk -v m="$1" '$1 == m {print $2}' "$out/m"; }
printf '%8s %10s %9s %9s %10s %8s %8s\n' minute obs_series services expired rss_kb agent_cpu procs
t0=$SECONDS
prev_ticks=$(ticks "$agent") prev_t=$SECONDS
forks0=$(awk '/^processes/ {print $2}' /proc/stat)
while [ $((SECONDS - t0)) -lt $((minutes * 60)) ]; do
	sleep "$step"
	curl -fsS "http://127.0.0.1:$mp/metrics" >"$out/m"
	now_ticks=$(ticks "$agent")
	cpu=$(awk -v d=$((now_ticks - prev_ticks)) -v t=$((SECONDS - prev_t)) -v hz="$(getconf CLK_TCK)" \
		'BEGIN {printf "%.1f%%", t ? 100 * d / hz / t : 0}')
	prev_ticks=$now_ticks prev_t=$SECONDS
	printf '%8.1f %10s %9s %9s %10s %8s %8s\n' "$(awk -v s=$((SECONDS - t0)) 'BEGIN {print s / 60}')" \
		"$(metric obs_series)" \
		"$(grep -o 'service="[^"]*"' "$out/m" | sort -u | wc -l)" \
		"$(metric obs_series_expired_total)" \
		"$(awk '/^VmRSS/ {print $2}' "/proc/$agent/status")" "$cpu" \
		$(($(awk '/^processes/ {print $2}' /proc/stat) - forks0))
done
echo "services at the end:"
grep -o 'service="[^"]*"' "$out/m" | sort | uniq -c | sort -rn | head -15

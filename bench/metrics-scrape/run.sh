#!/usr/bin/env bash
# bench/metrics-scrape: obs-run start-to-ready time, collector RSS, and
# /metrics scrape time with ~10 000 exposed samples. Needs root.
#
#   bench/metrics-scrape/run.sh [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
runs=${1:-10}
out=$top/build/bench
mkdir -p "$out"
make -C "$top" -s all
cc -O2 -Wall -o "$out/spray" "$here/spray.c"
obs=$top/build/obs
port=$((20000 + RANDOM % 10000))
now_ms() { date +%s%3N; }

echo "obs-run start to ready ($runs runs):" >&2
for i in $(seq "$runs"); do
	t0=$(now_ms)
	"$top/build/obs-run" --no-summary --metrics-addr 127.0.0.1:$port -- sleep 30 2>/dev/null &
	p=$!
	until curl -fsS 127.0.0.1:$port/readyz 2>/dev/null | grep -q ready; do sleep 0.005; done
	echo $(( $(now_ms) - t0 ))
	kill -TERM $p; wait $p 2>/dev/null || true
done >"$out/ready.txt"
echo "  median $(median <"$out/ready.txt") ms (min $(sort -g "$out/ready.txt" | head -1), max $(sort -g "$out/ready.txt" | tail -1))"

echo "scrape with ~10 000 samples (obs-run, 600 distinct syscall series x 17 samples):" >&2
"$top/build/obs-run" --no-summary --max-series 20000 --metrics-addr 127.0.0.1:$port \
	-- "$out/spray" 600 60 >"$out/spray.out" 2>/dev/null &
p=$!
until grep -q sprayed "$out/spray.out" 2>/dev/null; do sleep 0.05; done
curl -fsS 127.0.0.1:$port/metrics >"$out/scrape.txt"
samples=$(grep -vc '^#' "$out/scrape.txt")
for i in $(seq 20); do
	curl -fsS -o /dev/null -w '%{time_total}\n' 127.0.0.1:$port/metrics
done | awk '{print $1 * 1000}' >"$out/scrape-times.txt"
rss=$(awk '/VmRSS/ {print $2}' /proc/$p/status)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$p/status)
inner=$(curl -fsS 127.0.0.1:$port/metrics | awk '/^obs_scrape_duration_seconds / {print $2 * 1000}')
kill -TERM $p; wait $p 2>/dev/null || true
echo "  samples exposed:         $samples"
echo "  scrape time (curl):      median $(median <"$out/scrape-times.txt") ms over 20 scrapes, $(wc -c <"$out/scrape.txt") bytes"
echo "  render time (obs):       ${inner} ms (obs_scrape_duration_seconds)"
echo "  collector RSS:           $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB)"

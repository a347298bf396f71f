#!/usr/bin/env bash
# bench/http-overhead/openloop-ab.sh: the app's tail latency at a load it
# sustains, this build against another, interleaved: nginx (one worker)
# bare, and under obs-run from each build, driven by openloop.c at a fixed
# rate (latency from when each request was due). Prints, per
# configuration, the median p99 over all runs and its quartiles.
#
#   bench/http-overhead/openloop-ab.sh OTHER_BUILD [ROUNDS] [RATE] [OBS-RUN ARGS...]
#   e.g. openloop-ab.sh /tmp/old/build 6 20000 --sample-ratio 1
#
# OTHER_BUILD: another commit's build/ directory (git worktree add, make).
# Each round: bare, this build, the other, two 5 s runs each; spans go as
# gzip'd OTLP to bench/http-overhead/sink.py. Needs root. Not a CI test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
other=${1:?usage: openloop-ab.sh OTHER_BUILD [ROUNDS] [RATE] [OBS-RUN ARGS...]}
rounds=${2:-6}
rate=${3:-20000}
shift $(($# < 3 ? $# : 3))
[ -x "$other/obs-run" ] || { echo "openloop-ab.sh: $other has no obs-run" >&2; exit 1; }
make -C "$top" -s all bench-bins
out=$top/build/bench/openloop-ab
mkdir -p "$out"
base=$((20000 + RANDOM % 12000))
port=$base sink_port=$((base + 1)) mport=$((base + 2))
bench_nginx_conf "$out" "$port"
python3 "$here/sink.py" "$sink_port" 2>"$out/sink.log" &
sink=$!
srv=
cleanup() {
	[ -n "$srv" ] && kill -INT "$srv" 2>/dev/null
	[ -s "$out/nginx.pid" ] && kill "$(cat "$out/nginx.pid")" 2>/dev/null
	kill "$sink" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT

# one configuration: start nginx (bare or under BUILD/obs-run), two runs
one() { # LABEL [BUILD [OBS-RUN ARGS...]]
	local l=$1 b=${2:-}
	shift $(($# < 2 ? $# : 2))
	rm -f "$out/nginx.pid"
	if [ -n "$b" ]; then
		OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port OTEL_EXPORTER_OTLP_COMPRESSION=gzip \
			"$b/obs-run" "$@" --metrics-addr "127.0.0.1:$mport" -- nginx -c "$out/nginx.conf" \
			2>>"$out/obs.$l.log" &
	else
		nginx -c "$out/nginx.conf" 2>>"$out/nginx.err" &
	fi
	srv=$!
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
		sleep 0.1
	done
	for _ in 1 2; do
		"$top/build/bench/openloop" 127.0.0.1 "$port" / "$rate" 5 16 |
			awk -v l="$l" '{for (i = 1; i < NF; i += 2) if ($i == "p99") print l, $(i + 1)}'
	done >>"$out/p99"
	kill -INT "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
	srv=
	[ -s "$out/nginx.pid" ] && kill "$(cat "$out/nginx.pid")" 2>/dev/null || true
	sleep 1
}
args=("$@")
: >"$out/p99"
echo "openloop-ab: $rounds rounds at $rate req/s; obs-run ${args[*]}" >&2
for r in $(seq "$rounds"); do
	printf '  round %s\n' "$r" >&2
	one bare
	one this "$top/build" "${args[@]}"
	one other "$other" "${args[@]}"
done
for c in bare this other; do
	awk -v c="$c" '$1 == c {print $2}' "$out/p99" | sort -g |
		awk -v c="$c" '{a[NR] = $1} END {
			printf "%-6s p99 median %.0f us (quartiles %.0f-%.0f), %d runs\n", c,
				(a[int((NR + 1) / 2)] + a[int((NR + 2) / 2)]) / 2, a[int(NR / 4) + 1], a[int(3 * NR / 4)], NR }'
done

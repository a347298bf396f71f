# Shared helpers for obs's bats end-to-end tests. Real programs only.

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
OBS=$TOP/build/obs
OBS_RUN=$TOP/build/obs-run

# Tests that need root + BPF fail (not skip) in CI, where they must run.
require_bpf() {
	if [ "$(id -u)" != 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then
		if [ "${CI:-}" = true ]; then
			echo "CI=true but root/BTF unavailable: this test must run in CI" >&2
			return 1
		fi
		skip "needs root and kernel BTF"
	fi
}

# skip_unless_ci REASON: skip where a developer's machine may lack
# something; in CI, which has everything, fail instead.
skip_unless_ci() {
	if [ "${CI:-}" = true ]; then
		echo "CI=true but $1: this test must run in CI" >&2
		return 1
	fi
	skip "$1"
}

require_cmd() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && continue
		if [ "${CI:-}" = true ]; then
			echo "CI=true but '$c' is missing (scripts/deps.sh installs it)" >&2
			return 1
		fi
		skip "needs $c"
	done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for CMD... : retry for up to $WAIT_FOR_SECS (30) seconds. Generous:
# a passing test returns at once, and a loaded 2-CPU CI machine can take
# seconds to start a service or drain a retrying exporter.
wait_for() {
	local end=$((SECONDS + ${WAIT_FOR_SECS:-30}))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -lt "$end" ] || break
		sleep 0.1
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

ready() { curl -fsS "http://127.0.0.1:$1/readyz" | grep -q '"ready"'; }
# PORT is listening on loopback (without connecting: no request, no span)
listening() { ss -Hltn "sport = :$1" | grep -q .; }

scrape() { curl -fsS "http://127.0.0.1:$1/metrics"; }

# Sum of a metric's samples matching a grep -E pattern in a scrape file.
metric_sum() {
	grep -E "$2" "$1" | grep -v '^#' | awk '{s += $NF} END {print s + 0}'
}

# Start obs-run in the background: obs_start PORT ARGS... (sets OBS_PID)
obs_start() {
	local port=$1
	shift
	"$OBS_RUN" --metrics-addr "127.0.0.1:$port" "$@" >"$BATS_TEST_TMPDIR/obs.out" \
		2>"$BATS_TEST_TMPDIR/obs.err" &
	OBS_PID=$!
	wait_for ready "$port"
}

obs_stop() {
	[ -n "${OBS_PID:-}" ] || return 0
	kill -TERM "$OBS_PID" 2>/dev/null || true
	# longer than obs-run's own bound on its last export (5 s, docs/obs.md):
	# killed at that bound, it lost its exit summary and last log lines
	for _ in $(seq 80); do kill -0 "$OBS_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$OBS_PID" 2>/dev/null || true
	wait "$OBS_PID" 2>/dev/null || true
	OBS_PID=
}

PY=${PY:-$(python3 -c 'import sys; print(sys.executable)')}
NODE_DIR=$TOP/tests/e2e/node
PROTO_DIR=$TOP/build/protos

# The OpenTelemetry JS packages (pinned in tests/e2e/node/package-lock.json),
# installed from the npm registry on first use.
require_node_modules() {
	require_cmd node npm
	[ -d "$NODE_DIR/node_modules/@opentelemetry/instrumentation-grpc" ] && return 0
	(cd "$NODE_DIR" && npm ci --no-audit --no-fund --silent) >&2
}

# receiver_start PORT [FAULTS]: the OTLP receiver; spans land in $RECV_OUT.
receiver_start() {
	require_node_modules # (its decoder; a file run alone has them too)
	RECV_OUT=$BATS_TEST_TMPDIR/received
	FAULTS=${2:-} node "$NODE_DIR/receiver.js" "$1" "$RECV_OUT" "$PROTO_DIR" \
		>"$BATS_TEST_TMPDIR/receiver.log" 2>&1 &
	RECV_PID=$!
	wait_for test -e "$RECV_OUT.ready"
}

receiver_stop() {
	[ -n "${RECV_PID:-}" ] && kill "$RECV_PID" 2>/dev/null || true
	RECV_PID=
}

# span_field FILTER FIELD: FIELD of the first received span matching a
# python expression over d (the span as a dict).
span_q() {
	"$PY" - "$RECV_OUT" "$1" <<'PYEOF'
import json, sys
out, expr = sys.argv[1], sys.argv[2]
spans = [json.loads(l) for l in open(out)] if __import__("os").path.exists(out) else []
print(eval(expr, {"spans": spans}))
PYEOF
}

# bg_stop PID: TERM, wait, KILL.
bg_stop() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# wait_scrape PORT ERE: until a fresh scrape has a line matching ERE.
scrape_has() { scrape "$1" | grep -Eq "$2"; }
wait_scrape() { wait_for scrape_has "$1" "$2"; }
spans_eq() { [ "$(span_q "$1")" = "$2" ]; }
# scrape_sum_ge PORT ERE N: the scraped series matching ERE sum to N or more.
scrape_sum_ge() {
	scrape "$1" >"$BATS_TEST_TMPDIR/m.now" || return 1
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m.now" "$2")" -ge "$3" ]
}

# agent_shim_start: an agent on $MP that publishes the shim in a directory
# of its own under /run ($SHIMD/run-obs: workloads of other users must
# reach it, a test's temporary directory is not reachable), spans to
# $D/spans.jsonl, every trace sampled; ARGS are more YAML lines for its
# config. Sets SHIMD and AGENT.
agent_shim_start() {
	SHIMD=$(mktemp -d /run/obs-test.XXXXXX)
	chmod 755 "$SHIMD"
	cat >"$D/agent.yaml" <<-EOF
		metrics:
		  listen: "127.0.0.1:$MP"
		tracing:
		  shim_dir: $SHIMD/run-obs
		  spans_file: $D/spans.jsonl
		  sampling_ratio: 1
	EOF
	[ $# -eq 0 ] || printf '%s\n' "$@" >>"$D/agent.yaml"
	OTEL_BSP_SCHEDULE_DELAY=50 "$OBS" agent --config "$D/agent.yaml" >"$D/agent.out" 2>"$D/agent.err" &
	AGENT=$!
	wait_for ready "$MP"
}

# db_items PORT: GET /item/1..80 of the data-store tests' services, each
# with its own traceparent (db_spans.py checks them): 40 at 8 at a time,
# then 40 at 32; each answer must be "value-N-" 50 times.
db_items() {
	local n
	_db_get() {
		seq "$2" "$3" | xargs -P "$4" -I{} sh -c '
			tp=$(printf "00-%032x-%016x-01" {} $(( {} + 4096 )))
			curl -fsS -H "traceparent: $tp" "http://127.0.0.1:'"$1"'/item/{}" >"'"$BATS_TEST_TMPDIR"'/body.{}"'
	}
	_db_get "$1" 1 40 8
	_db_get "$1" 41 80 32
	for n in $(seq 1 80); do
		[ "$(cat "$BATS_TEST_TMPDIR/body.$n")" = "$(printf "value-$n-%.0s" $(seq 50))" ] || {
			echo "/item/$n answered: $(head -c 200 "$BATS_TEST_TMPDIR/body.$n")" >&2
			return 1
		}
	done
}

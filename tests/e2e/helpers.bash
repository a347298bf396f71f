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

# wait_for CMD... : retry for up to ~10 s
wait_for() {
	for _ in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

ready() { curl -fsS "http://127.0.0.1:$1/readyz" | grep -q '"ready"'; }

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
	for _ in $(seq 50); do kill -0 "$OBS_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$OBS_PID" 2>/dev/null || true
	wait "$OBS_PID" 2>/dev/null || true
	OBS_PID=
}

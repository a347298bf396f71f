#!/usr/bin/env bats
# obs-run / obs behaviour at the edges: usage, exit codes, errors, signals.

bats_require_minimum_version 1.5.0
load helpers

teardown() { obs_stop; }

@test "obs --help and obs-run --help print usage and exit 0" {
	run "$OBS" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: obs COMMAND"* ]]
	run "$OBS_RUN" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--metrics-addr"* ]]
	run "$OBS" triage --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"-p, --pid PID"* ]]
}

@test "unknown flag: message, usage hint, exit 2" {
	run "$OBS_RUN" --frobnicate -- true
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown option '--frobnicate'"* ]]
	[[ "$output" == *"Try 'obs-run --help'"* ]]
	run "$OBS" bogus
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown command 'bogus'"* ]]
}

@test "CMD not found exits 127 like a shell; not executable exits 126" {
	require_bpf
	run -127 "$OBS_RUN" --no-metrics -- /nonexistent/command-xyz
	[ "$status" -eq 127 ]
	[[ "$output" == *"command not found"* ]]
	touch "$BATS_TEST_TMPDIR/noexec"
	chmod 644 "$BATS_TEST_TMPDIR/noexec"
	run "$OBS_RUN" --no-metrics -- "$BATS_TEST_TMPDIR/noexec"
	[ "$status" -eq 126 ]
	[[ "$output" == *"cannot execute"* ]]
}

@test "exit status and death by signal are passed through" {
	require_bpf
	run "$OBS_RUN" --no-metrics --no-summary -- sh -c 'exit 7'
	[ "$status" -eq 7 ]
	run "$OBS_RUN" --no-metrics --no-summary -- sh -c 'kill -KILL $$'
	[ "$status" -eq 137 ]
}

@test "signals sent to obs-run are forwarded to CMD" {
	require_bpf
	local port
	port=$(free_port)
	obs_start "$port" -- sh -c "trap 'echo got-term; exit 42' TERM; touch $BATS_TEST_TMPDIR/trapped; while :; do sleep 0.1; done"
	wait_for test -e "$BATS_TEST_TMPDIR/trapped"
	kill -TERM "$OBS_PID"
	local st=0
	wait "$OBS_PID" || st=$?
	OBS_PID=
	[ "$st" -eq 42 ]
	grep -q got-term "$BATS_TEST_TMPDIR/obs.out"
}

@test "summary on exit names the command, its status and the top syscalls" {
	require_bpf
	run "$OBS_RUN" --no-metrics -- sh -c 'for i in 1 2 3; do cat /etc/hostname >/dev/null; done'
	[ "$status" -eq 0 ]
	[[ "$output" == *"sh (pid "*") exited with status 0"* ]]
	[[ "$output" == *"where the time went"* ]]
	[[ "$output" == *"syscall execve"* ]]
	[[ "$output" == *"syscall openat"* ]]
}

@test "run-queue latency: two busy loops sharing one CPU for 2 s each wait about half of it (1.4-2.8 s in all), from the scheduler's stamp and, as on a kernel without it, from a wakeup program" {
	require_bpf
	require_cmd taskset
	run_queue_hogs
	OBS_DEBUG_NO_SCHED_INFO=1 run_queue_hogs
}

@test "TCP bytes: exactly what a process sent and received over loopback TCP (not its UDP, not its Unix socket), read from the socket with plain loads and, as on a kernel before 6.2, with a helper call per field" {
	require_bpf
	tcp_bytes_exact
	OBS_DEBUG_NO_BTF_CAST=1 tcp_bytes_exact
}

tcp_bytes_exact() {
	local MP
	MP=$(free_port)
	rm -f "$BATS_TEST_TMPDIR/sent"
	obs_start "$MP" -- python3 -c "
import socket, time
l = socket.create_server(('127.0.0.1', 0))
c = socket.create_connection(l.getsockname())
s, _ = l.accept()
c.sendall(b'x' * 123457)        # TCP: counted, sent and received
got = 0
while got < 123457:
    got += len(s.recv(65536))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b'u' * 1000, ('127.0.0.1', 9))     # UDP: not TCP
a, b = socket.socketpair()
a.sendall(b'p' * 500); b.recv(500)          # Unix: not TCP
open('$BATS_TEST_TMPDIR/sent', 'w').write('ok')
time.sleep(60)"
	wait_for test -e "$BATS_TEST_TMPDIR/sent"
	sleep 0.5
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	grep -E '^obs_tcp_(sent|received)_bytes_total' "$BATS_TEST_TMPDIR/m"
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_tcp_sent_bytes_total')" = 123457 ]
	[ "$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_tcp_received_bytes_total')" = 123457 ]
	obs_stop
}

run_queue_hogs() {
	local MP
	MP=$(free_port)
	rm -f "$BATS_TEST_TMPDIR/hogs"
	obs_start "$MP" -- sh -c "
		taskset -c 0 timeout 2 sh -c 'while :; do :; done' &
		taskset -c 0 timeout 2 sh -c 'while :; do :; done' &
		wait; echo done >'$BATS_TEST_TMPDIR/hogs'; sleep 60"
	wait_for test -e "$BATS_TEST_TMPDIR/hogs"
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	grep '^obs_runqueue_latency_seconds_' "$BATS_TEST_TMPDIR/m" | grep -v _bucket
	awk '$1 == "obs_runqueue_latency_seconds_sum{service=\"sh\"}" { ok = $2 >= 1.4 && $2 <= 2.8 }
		END { exit !ok }' "$BATS_TEST_TMPDIR/m"
	# most waits are for a whole scheduler slice: past 262 us
	awk '$1 == "obs_runqueue_latency_seconds_bucket{service=\"sh\",le=\"0.000262144\"}" { lo = $2; seen = 1 }
		$1 == "obs_runqueue_latency_seconds_count{service=\"sh\"}" { n = $2 }
		END { exit !(seen && n >= 100 && 2 * lo < n) }' "$BATS_TEST_TMPDIR/m"
	obs_stop
}

@test "metrics port in use: clear error, exit 125, CMD never runs" {
	require_bpf
	local port
	port=$(free_port)
	python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$port)); s.listen(); time.sleep(30)" &
	local holder=$!
	wait_for python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))"
	run "$OBS_RUN" --metrics-addr "127.0.0.1:$port" -- touch "$BATS_TEST_TMPDIR/ran"
	kill "$holder"
	[ "$status" -eq 125 ]
	[[ "$output" == *"cannot listen on 127.0.0.1:$port: Address already in use"* ]]
	[[ "$output" == *"--metrics-addr"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
}

@test "non-root: error names the missing capability" {
	require_cmd setpriv
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$OBS_RUN" --no-metrics -- true
	[ "$status" -eq 125 ]
	[[ "$output" == *"missing capability CAP_BPF and CAP_PERFMON"* ]]
	[[ "$output" == *"Run it as root"* ]]
	[[ "$output" != *"libbpf"* ]]
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$OBS" triage -p 1 -d 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"missing capability"* ]]
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all -- "$OBS" check
	[ "$status" -eq 1 ]
	[[ "$output" == *"[MISSING] privileges"* ]]
	[[ "$output" == *"fix: run as root"* ]]
}

@test "obs check reports every requirement and passes here" {
	require_bpf
	run "$OBS" check
	[ "$status" -eq 0 ]
	[[ "$output" == *"[ok     ] kernel BTF"* ]]
	[[ "$output" == *"[ok     ] BPF ring buffer maps"* ]]
	[[ "$output" == *"raw tracepoints: all 20 obs uses attach"* ]]
	# this kernel (6.5+, bpf_loop): requests charged to their makers,
	# merges too
	[[ "$output" == *"block I/O: charged to the process that made each request"* ]]
	[[ "$output" == *"block I/O merges: a request or bio merged into another process's is charged to its maker"* ]]
	[[ "$output" == *"kprobes"* ]]
	[[ "$output" == *"obs can run here."* ]]
}

@test "/readyz is 503 with a JSON reason before attach, 200 after; /healthz 200" {
	require_bpf
	local port
	port=$(free_port)
	OBS_DEBUG_ATTACH_DELAY_MS=3000 "$OBS_RUN" --metrics-addr "127.0.0.1:$port" -- sleep 30 \
		2>"$BATS_TEST_TMPDIR/obs.err" &
	OBS_PID=$!
	wait_for curl -sS "http://127.0.0.1:$port/healthz"
	run curl -sS -o "$BATS_TEST_TMPDIR/r" -w '%{http_code}' "http://127.0.0.1:$port/readyz"
	[ "$output" = 503 ]
	grep -q '"status":"not ready","reason":"BPF programs are not loaded and attached yet"' "$BATS_TEST_TMPDIR/r"
	run curl -sS -w '%{http_code}' -o /dev/null "http://127.0.0.1:$port/healthz"
	[ "$output" = 200 ]
	wait_for ready "$port"
	run curl -sS -w '%{http_code}' -o /dev/null "http://127.0.0.1:$port/readyz"
	[ "$output" = 200 ]
	run curl -sS -w '%{http_code}' -o /dev/null "http://127.0.0.1:$port/nope"
	[ "$output" = 404 ]
	run curl -sS -X POST -w '%{http_code}' -o /dev/null "http://127.0.0.1:$port/metrics"
	[ "$output" = 405 ]
}

@test "tracefs unmounted: obs still runs, obs check says how to mount it" {
	require_bpf
	local before
	before=$(grep -c ' tracefs ' /proc/self/mounts || true)
	# A mount namespace of the test's own, with no tracefs anywhere in it
	# (debugfs automounts one at /sys/kernel/debug/tracing): whatever the
	# machine has mounted, and nothing of it is changed.
	run unshare -m --propagation private sh -c '
		for m in /sys/kernel/debug/tracing /sys/kernel/tracing /sys/kernel/debug; do
			while mountpoint -q "$m" 2>/dev/null; do umount -l "$m" || exit 97; done
		done
		grep -q " tracefs " /proc/self/mounts && exit 96
		"$1" --no-metrics -- true 2>&1 || exit 98
		"$2" check' sh "$OBS_RUN" "$OBS"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"exited with status 0"* ]]
	[[ "$output" == *"tracefs: not mounted; obs uses raw tracepoints and does not need it"* ]]
	[[ "$output" == *"mount -t tracefs nodev /sys/kernel/tracing"* ]]
	# and the machine's own mounts are as they were
	[ "$(grep -c ' tracefs ' /proc/self/mounts || true)" -eq "$before" ]
}

@test "cardinality guard: --max-series caps samples, overflow is folded and counted" {
	require_bpf
	local port
	port=$(free_port)
	# 300 distinct syscall series (unassigned numbers: ENOSYS, harmless).
	obs_start "$port" --max-series 200 -- python3 -c 'import ctypes,time
libc = ctypes.CDLL(None)
for nr in range(1000, 1300): libc.syscall(nr)
open("'"$BATS_TEST_TMPDIR"'/sprayed", "w").close()
time.sleep(30)'
	wait_for test -e "$BATS_TEST_TMPDIR/sprayed"
	scrape "$port" >"$BATS_TEST_TMPDIR/m"
	m=$BATS_TEST_TMPDIR/m
	used=$(metric_sum "$m" '^obs_series ')
	echo "used: $used"
	[ "$used" -le 200 ]
	[ "$(metric_sum "$m" '^obs_series_limit ')" -eq 200 ]
	# Guarded samples exposed stay within the limit.
	n=$(grep -E '^obs_(syscall|disk|tcp|runqueue)' "$m" | grep -vc otel_metric_overflow)
	echo "guarded samples: $n"
	[ "$n" -le 200 ]
	# Nothing lost: the overflow series holds the refused label sets' calls.
	over=$(metric_sum "$m" '^obs_syscall_duration_seconds_count\{otel_metric_overflow="true"\}')
	echo "overflow count: $over"
	[ "$over" -ge 250 ]
	refused=$(metric_sum "$m" '^obs_series_overflow_total\{metric="obs_syscall_duration_seconds"\}')
	[ "$refused" -ge 250 ]
	promtool check metrics <"$m"
}

@test "obs-run says when CMD is a program the shim cannot enter (Go, static), and what it gets instead; a dynamic program or a script gets no such word; obs check says it per program and pid" {
	require_bpf
	require_cmd go gcc
	local T=$BATS_TEST_TMPDIR GP
	GP=$(free_port)
	# a real Go net/http service (Debian's golang-go), and a static C program
	(cd "$TOP/tests/e2e/go" && GOCACHE=$T/gocache GOPATH=$T/gopath GO111MODULE=off \
		go build -o "$T/srv" srv.go)
	printf 'int main(void) { return 0; }\n' >"$T/st.c"
	gcc -static -o "$T/st" "$T/st.c"
	"$OBS_RUN" --metrics-addr 127.0.0.1:0 --no-summary -- "$T/srv" "$GP" 2>"$T/go.err" &
	local GO_PID=$!
	wait_for listening "$GP"
	# the app is unharmed, and the word is there
	[ "$(curl -fsS "http://127.0.0.1:$GP/")" = "go ok" ]
	kill "$GO_PID"
	wait "$GO_PID" || true
	grep -q "warning: $T/srv is a Go program (go1\.[0-9.]*): Go makes its own syscalls" "$T/go.err"
	grep -q 'obs follows its HTTP/1 and cleartext HTTP/2 and gRPC from the kernel side instead: http_\*/rpc_\* metrics and spans' "$T/go.err"
	run "$OBS_RUN" --metrics-addr 127.0.0.1:0 --no-summary -- "$T/st"
	[ "$status" -eq 0 ]
	[[ $output == *"$T/st is statically linked: LD_PRELOAD cannot load the shim"* ]]
	# resolved through PATH as exec would; a dynamic program and a script: no word
	run env PATH="$T:$PATH" "$OBS_RUN" --metrics-addr 127.0.0.1:0 --no-summary -- st
	[[ $output == *"$T/st is statically linked"* ]]
	printf '#!/bin/sh\nexit 0\n' >"$T/script.sh"
	chmod +x "$T/script.sh"
	for cmd in true "$T/script.sh"; do
		run "$OBS_RUN" --metrics-addr 127.0.0.1:0 --no-summary -- "$cmd"
		[ "$status" -eq 0 ]
		[[ $output != *shim_cannot_enter* && $output != *"cannot load the shim"* && $output != *"Go program"* ]]
	done
	# --no-preload asked for no shim: nothing to warn about
	run "$OBS_RUN" --metrics-addr 127.0.0.1:0 --no-summary --no-preload -- "$T/st"
	[[ $output != *"statically linked"* ]]
	# obs check says it per program, and per running process
	"$T/srv" "$GP" &
	GO_PID=$!
	wait_for listening "$GP"
	run "$OBS" check -q "$T/srv" "$T/st" true "$GO_PID" no-such-program
	kill "$GO_PID"
	echo "$output"
	[[ $output == *"[kernel ] $T/srv: a Go program (go1."*"HTTP/1, HTTP/2, gRPC and cleartext PostgreSQL, Redis and MySQL metrics and spans from the kernel side"* ]]
	[[ $output == *"outgoing requests: net/http calls and PostgreSQL, Redis and MySQL operations the children of the requests whose handlers made them"* ]]
	[[ $output == *"[kernel ] $T/st: statically linked: HTTP/1, HTTP/2, gRPC and cleartext PostgreSQL, Redis and MySQL metrics and spans from the kernel side"* ]]
	[[ $output == *"[shim   ] $(type -P true): dynamically linked"* ]]
	[ "$(echo "$output" | grep -c "\[kernel \] $T/srv: a Go program")" -eq 2 ] # by path and by pid
	[[ $output == *"[?      ] no-such-program: not found"* ]]
}

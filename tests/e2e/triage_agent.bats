#!/usr/bin/env bats
# obs triage on running processes and cgroups; obs agent on the node.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	require_bpf
	W=$BATS_TEST_TMPDIR
	# The interpreter itself: a python3 shim (pyenv) forks helpers first,
	# and the cgroup test counts processes.
	PY=$(python3 -c 'import sys; print(sys.executable)')
}

teardown() {
	[ -n "${TARGET:-}" ] && kill "$TARGET" 2>/dev/null || true
	[ -n "${CG:-}" ] && { echo $$ >"$(dirname "$CG")/cgroup.procs"; rmdir "$CG"; } 2>/dev/null || true
	obs_stop
	[ -n "${AGENT:-}" ] && { kill "$AGENT"; wait "$AGENT"; } 2>/dev/null || true
	[ -n "${NGINX:-}" ] && { kill "$NGINX"; wait "$NGINX"; } 2>/dev/null || true
}

# A process that does steady syscall, disk and scheduler work.
start_target() {
	"$PY" -c 'import os,time
fd=os.open("'"$W"'/t.out", os.O_WRONLY|os.O_CREAT)
t=time.time()+60
while time.time()<t:
    os.write(fd, b"x"*512); os.fsync(fd); time.sleep(0.002)' &
	TARGET=$!
}

@test "obs triage -p on a running process prints histograms and a slowest-first table" {
	start_target
	local t0=$(date +%s%N)
	run "$OBS" triage -p "$TARGET" -d 2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Tracing pid $TARGET"* ]]
	[[ "$output" == *"syscall latency (all syscalls)"* ]]
	[[ "$output" == *"latency : count      distribution"* ]]
	[[ "$output" == *"|****"* ]]
	[[ "$output" == *"run queue latency"* ]]
	[[ "$output" == *"slowest first (by p99):"* ]]
	[[ "$output" == *"syscall fsync"* ]]
	[[ "$output" == *"syscall write"* ]]
	# Ready within a fraction of a second: attach time is printed.
	ms=$(echo "$output" | sed -n 's/.*probes attached in \([0-9]*\) ms.*/\1/p')
	echo "attach ms: $ms"
	[ "$ms" -lt 1000 ]
}

@test "obs triage -i prints intervals, then totals" {
	start_target
	run "$OBS" triage -p "$TARGET" -d 2.5 -i 1
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c '==== .* interval ====')" -ge 2 ]
	[[ "$output" == *"==== "*" total ===="* ]]
}

@test "obs triage -c on a cgroup v2 directory" {
	local root
	root=$(findmnt -no TARGET -t cgroup2 | head -1)
	if [ -z "$root" ] || [ ! -w "$root" ]; then
		skip_unless_ci "no writable cgroup v2 mount"
		return 1
	fi
	CG=$root/obs-e2e-$$
	mkdir "$CG"
	start_target
	echo "$TARGET" >"$CG/cgroup.procs"
	run "$OBS" triage -c "$CG" -d 1.5
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Tracing cgroup $CG (1 processes)"* ]]
	[[ "$output" == *"syscall fsync"* ]]
	kill "$TARGET"; TARGET=
	rmdir "$CG" 2>/dev/null || true
	CG=
}

@test "obs triage --all sees other processes; bad targets get clear errors" {
	start_target
	run "$OBS" triage --all -d 1
	[ "$status" -eq 0 ]
	[[ "$output" == *"Tracing all processes"* ]]
	[[ "$output" == *"syscall fsync"* ]]
	run "$OBS" triage -p 3999999 -d 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"no process with pid 3999999"* ]]
	run "$OBS" triage -c /nonexistent -d 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not a cgroup v2 directory"* ]]
}

@test "obs agent labels every process by OTEL_SERVICE_NAME or executable name" {
	local port
	port=$(free_port)
	# under a name of its own: other obs processes on the machine are
	# measured like any process, this one must not measure itself
	cp "$OBS" "$W/obs-self"
	"$W/obs-self" agent --metrics-addr "127.0.0.1:$port" 2>"$W/agent.err" &
	AGENT=$!
	wait_for ready "$port"
	# Started after the agent: followed from fork, relabelled at exec.
	OTEL_SERVICE_NAME=e2e-checkout python3 -c 'import os,time
for i in range(3000): os.getsid(0)
time.sleep(30)' &
	local svc=$!
	wait_for scrape_sum_ge "$port" '^obs_syscall_duration_seconds_count\{syscall="getsid",service="e2e-checkout",' 3000
	scrape "$port" >"$W/m"
	kill "$svc" 2>/dev/null || true
	n=$(metric_sum "$W/m" '^obs_syscall_duration_seconds_count\{syscall="getsid",service="e2e-checkout",container_id="[^"]*",pod_uid="[^"]*"\}')
	echo "getsid count: $n"
	[ "$n" -ge 3000 ]
	# Processes that were already running are labelled by their executable.
	grep -q 'service="bats-exec-test"\|service="bash"' "$W/m"
	# obs never measures itself.
	grep -q 'service="python3"\|service="e2e-checkout"' "$W/m" # the check below can see a name
	run ! grep -q 'service="obs-self"' "$W/m"
	promtool check metrics <"$W/m"
}

# m_count PATTERN: how many series of the agent's scrape match (grep -E)
m_count() { scrape "$port" | grep -Ec "$1" || true; }
job_series_gone() { [ "$(m_count 'service="job[0-9]+"')" = 0 ]; }

@test "agent: 500 one-shot programs' series expire after cardinality.stale_after, giving the budget back: nginx started after them gets its series" {
	require_cmd nginx wrk
	local port i np expired
	port=$(free_port)
	np=$(free_port)
	printf 'metrics:\n  listen: "127.0.0.1:%s"\ncardinality:\n  max_series: 20000\n  stale_after: 4s\n' \
		"$port" >"$W/agent.yaml"
	"$OBS" agent --no-preload --config "$W/agent.yaml" 2>"$W/agent.err" &
	AGENT=$!
	wait_for ready "$port"
	# 500 distinct executables, each run once: 500 services for a moment
	mkdir "$W/bin"
	for i in $(seq 500); do cp /bin/true "$W/bin/job$i"; done
	for i in $(seq 500); do "$W/bin/job$i"; done
	wait_for sh -c "curl -fsS http://127.0.0.1:$port/metrics | grep -q 'service=\"job'"
	# the guard held the line meanwhile: never more samples than max_series
	[ "$(scrape "$port" | awk '$1 == "obs_series" {print $2}')" -le 20000 ]
	# none of them lives: after the window their series are gone
	WAIT_FOR_SECS=20 wait_for job_series_gone
	expired=$(scrape "$port" | awk '$1 == "obs_series_expired_total" {print $2}')
	echo "expired: $expired"
	[ "$expired" -gt 500 ]
	# nginx, started after them, gets its series: the budget is back
	sh "$TOP/scripts/nginx-conf.sh" "$W/ngx" "$np"
	nginx -c "$W/ngx/nginx.conf" -p "$W/ngx" &
	NGINX=$!
	wait_for listening "$np"
	wrk -t1 -c4 -d2s "http://127.0.0.1:$np/" >/dev/null
	wait_for scrape_sum_ge "$port" '^obs_syscall_duration_seconds_count\{syscall="accept4",service="nginx"' 1 || {
		scrape "$port" | grep -E '^obs_series|^obs_series_overflow'
		scrape "$port" | grep -o 'service="[^"]*"' | sort | uniq -c | sort -rn | head
		false
	}
	[ "$(m_count '^obs_syscall_duration_seconds_count\{.*service="nginx"')" -ge 4 ]
	# a live service does not expire: nginx idle past the window keeps its series
	sleep 6
	[ "$(m_count '^obs_syscall_duration_seconds_count\{.*service="nginx"')" -ge 4 ]
}

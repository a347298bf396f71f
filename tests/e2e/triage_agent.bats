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
	[ -n "${CGROOT:-}" ] && cg_remove "$CGROOT"
	obs_stop
	[ -n "${AGENT:-}" ] && { kill "$AGENT"; wait "$AGENT"; } 2>/dev/null || true
	[ -n "${NGINX:-}" ] && { kill "$NGINX"; wait "$NGINX"; } 2>/dev/null || true
}

# cg_remove DIR: kill what runs in a cgroup tree the test made, remove it
cg_remove() {
	local d
	for d in $(find "$1" -depth -type d); do
		echo 1 >"$d/cgroup.kill" 2>/dev/null || true
	done
	sleep 0.2
	find "$1" -depth -type d -exec rmdir {} \; 2>/dev/null || true
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
m_value() { scrape "$port" | awk -v m="$1" '$1 == m {print $2}'; }
# nginx_series_ge N: at least N syscall series of service nginx (some
# requests made first: a series appears with an observation)
nginx_series_ge() {
	curl -fsS -o /dev/null "http://127.0.0.1:$np/"
	[ "$(m_count '^obs_syscall_duration_seconds_count\{.*service="nginx"')" -ge "$1" ]
}

start_nginx() {
	sh "$TOP/scripts/nginx-conf.sh" "$W/ngx" "$np"
	nginx -c "$W/ngx/nginx.conf" -p "$W/ngx" &
	NGINX=$!
	wait_for listening "$np"
}

@test "agent: 500 one-shot programs within 30s under nginx load are counted under their parent's service, never as services of their own; nginx, its workers included, keeps its series" {
	require_cmd nginx wrk
	local i s0 s1 series_max=0 v
	port=$(free_port)
	np=$(free_port)
	printf 'metrics:\n  listen: "127.0.0.1:%s"\nservices:\n  short_lived: 2s\n' "$port" >"$W/agent.yaml"
	"$OBS" agent --no-preload --config "$W/agent.yaml" 2>"$W/agent.err" &
	AGENT=$!
	wait_for ready "$port"
	# nginx, started by this shell: under the shell's service for its
	# first 2 s, then its own name, and its workers (forked before that,
	# no exec of their own) follow their master
	start_nginx
	wait_for nginx_series_ge 4
	[ "$(m_count '^obs_syscall_duration_seconds_count\{syscall="accept4",service="nginx"')" -ge 1 ]
	s0=$(m_value obs_series)
	mkdir "$W/bin"
	for i in $(seq 500); do cp /bin/true "$W/bin/job$i"; done
	wrk -t1 -c4 -d25s "http://127.0.0.1:$np/" >"$W/wrk.out" &
	local wrk=$!
	for i in $(seq 500); do
		"$W/bin/job$i"
		if [ $((i % 50)) = 0 ]; then
			v=$(m_value obs_series)
			[ "$v" -le "$series_max" ] || series_max=$v
		fi
	done
	wait "$wrk"
	s1=$(m_value obs_series)
	# wrk is a host program that lived on: a service of its own, rightly
	v=$(scrape "$port" | grep -c 'service="wrk"' || true)
	echo "samples: $s0 before, at most $series_max during, $s1 after the 500 (wrk's: $v)"
	cat "$W/wrk.out"
	# none became a service: their syscalls are the shell's
	[ "$(m_count 'service="job[0-9]+"')" = 0 ]
	[ "$(m_count '^obs_syscall_duration_seconds_count\{syscall="execve",service="bash"')" -ge 1 ]
	# the bound (docs/metrics.md): the churn adds no service, so the
	# samples grow only by the syscalls the shell had not made before
	# (each costs one histogram, 30 samples), far below one new service
	[ "$s1" -le $((s0 + 1000 + v)) ]
	[ "$series_max" -le $((s0 + 1000 + v)) ]
	# nginx served under load the whole time, counted as nginx
	[ "$(m_count '^obs_syscall_duration_seconds_count\{.*service="nginx"')" -ge 4 ]
	v=$(scrape "$port" | awk '/^obs_syscall_duration_seconds_count\{syscall="accept4",service="nginx"/ {s += $2} END {print s + 0}')
	echo "nginx accept4: $v"
	[ "$v" -ge 1 ]
}

@test "agent: services that declared themselves and ended expire after cardinality.stale_after, giving the budget back: nginx started after them gets its series" {
	require_cmd nginx wrk
	local i expired
	port=$(free_port)
	np=$(free_port)
	printf 'metrics:\n  listen: "127.0.0.1:%s"\ncardinality:\n  max_series: 20000\n  stale_after: 4s\nservices:\n  short_lived: 1s\n' \
		"$port" >"$W/agent.yaml"
	"$OBS" agent --no-preload --config "$W/agent.yaml" 2>"$W/agent.err" &
	AGENT=$!
	wait_for ready "$port"
	# 500 one-shot programs that each name a service of their own
	for i in $(seq 500); do OTEL_SERVICE_NAME=job$i /bin/true; done
	wait_for sh -c "curl -fsS http://127.0.0.1:$port/metrics | grep -q 'service=\"job'"
	# the guard held the line meanwhile: never more samples than max_series
	[ "$(m_value obs_series)" -le 20000 ]
	# none lives: after the window their series are gone
	WAIT_FOR_SECS=20 wait_for job_series_gone
	expired=$(m_value obs_series_expired_total)
	echo "expired: $expired"
	[ "$expired" -gt 500 ]
	# nginx, started after them, gets its series: the budget is back
	start_nginx
	wrk -t1 -c4 -d2s "http://127.0.0.1:$np/" >/dev/null
	wait_for nginx_series_ge 4 || {
		scrape "$port" | grep -E '^obs_series|^obs_series_overflow'
		scrape "$port" | grep -o 'service="[^"]*"' | sort | uniq -c | sort -rn | head
		false
	}
	# a live service does not expire: nginx idle past the window keeps its series
	sleep 6
	[ "$(m_count '^obs_syscall_duration_seconds_count\{.*service="nginx"')" -ge 4 ]
}

@test "agent: at the series limit, services with live processes keep their series ahead of ones with none (which expire at once)" {
	require_cmd nginx wrk
	local i refused
	port=$(free_port)
	np=$(free_port)
	# a window far longer than the test: only the pressure can expire them
	printf 'metrics:\n  listen: "127.0.0.1:%s"\ncardinality:\n  max_series: 6000\n  stale_after: 10m\nservices:\n  short_lived: 1s\n' \
		"$port" >"$W/agent.yaml"
	"$OBS" agent --no-preload --config "$W/agent.yaml" 2>"$W/agent.err" &
	AGENT=$!
	wait_for ready "$port"
	# dead services fill the budget until the guard refuses
	for i in $(seq 200); do
		OTEL_SERVICE_NAME=job$i /bin/true
		[ $((i % 20)) = 0 ] || continue
		refused=$(scrape "$port" | awk '/^obs_series_overflow_total/ {s += $2} END {print s + 0}')
		[ "$refused" = 0 ] || break
	done
	echo "refused after $i dead services: $refused"
	[ "$refused" -gt 0 ]
	# a live service arrives: the dead ones make way for it
	start_nginx
	wait_for nginx_series_ge 4 || {
		scrape "$port" | grep -E '^obs_series'
		false
	}
	# (at the agent's next look, within 2 s: every dead one goes at once)
	wait_for job_series_gone || {
		scrape "$port" | grep -E '^obs_series'
		false
	}
	[ "$(m_value obs_series_expired_total)" -gt 0 ]
	[ "$(m_value obs_series)" -le 6000 ]
	# nginx has all it observed: none of its series is refused any more
	local before
	before=$(scrape "$port" | awk '/^obs_series_overflow_total/ {s += $2} END {print s + 0}')
	wrk -t1 -c4 -d1s "http://127.0.0.1:$np/" >/dev/null
	[ "$(scrape "$port" | awk '/^obs_series_overflow_total/ {s += $2} END {print s + 0}')" = "$before" ]
}

# cg2_root: where the cgroup v2 hierarchy is mounted
cg2_root() { awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts; }

@test "agent: a pod's processes are named by their container (an exec'd helper too), a systemd unit's by the unit, OTEL_RESOURCE_ATTRIBUTES's service.name, a host program by its executable once it has lived services.short_lived" {
	local cid pod root ctr unit loop pods
	cid=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	pod=1234abcd_5678_90ab_cdef_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
	root=$(cg2_root)/obs-e2e-$$-$BATS_TEST_NUMBER
	ctr=$root/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$pod.slice/cri-containerd-$cid.scope
	unit=$root/system.slice/obs-e2e-demo.service
	CGROOT=$root
	mkdir -p "$ctr" "$unit" "$W/logs" "$W/bin"
	# what the kubelet links for each container: POD_NAMESPACE_CONTAINER-ID.log
	ln -s /dev/null "$W/logs/web-7d4b9c-x2x9z_shop_webapp-$cid.log"
	port=$(free_port)
	printf 'metrics:\n  listen: "127.0.0.1:%s"\nservices:\n  short_lived: 2s\n  pod_logs: %s\n' \
		"$port" "$W/logs" >"$W/agent.yaml"
	"$OBS" agent --no-preload --config "$W/agent.yaml" 2>"$W/agent.err" &
	AGENT=$!
	wait_for ready "$port"
	loop='import os, sys, time
t = time.time() + 40
while time.time() < t:
    getattr(os, sys.argv[1])(); time.sleep(0.005)'
	# the container's main process, then a one-shot helper exec'd in it
	sh -c "echo \$\$ >$ctr/cgroup.procs; exec python3 -c '$loop' getppid" &
	sh -c "echo \$\$ >$ctr/cgroup.procs; exec python3 -c 'import os
for _ in range(500): os.getresgid()'"
	# a unit's process, and a host process naming itself by resource attribute
	sh -c "echo \$\$ >$unit/cgroup.procs; exec python3 -c '$loop' times" &
	OTEL_RESOURCE_ATTRIBUTES="deployment.environment=e2e,service.name=e2e-res%2Dattr" \
		python3 -c "$loop" getpgrp &
	# a host program that lives on, and one-shots of another name
	cp "$(readlink -f /usr/bin/python3)" "$W/bin/e2e-longlived"
	"$W/bin/e2e-longlived" -c "$loop" getresuid &
	cp /bin/true "$W/bin/e2e-oneshot"
	for _ in $(seq 20); do "$W/bin/e2e-oneshot"; done
	pods='container_id="'$cid'",pod_uid="[^"]+"'
	wait_for scrape_sum_ge "$port" '^obs_syscall_duration_seconds_count\{syscall="getppid",service="webapp",'"$pods"'\}' 10
	wait_for scrape_sum_ge "$port" '^obs_syscall_duration_seconds_count\{syscall="getresgid",service="webapp",'"$pods"'\}' 500
	wait_for scrape_sum_ge "$port" '^obs_syscall_duration_seconds_count\{syscall="times",service="obs-e2e-demo",container_id="",' 10
	wait_for scrape_sum_ge "$port" '^obs_syscall_duration_seconds_count\{syscall="getpgrp",service="e2e-res-attr",' 10
	wait_for scrape_sum_ge "$port" '^obs_syscall_duration_seconds_count\{syscall="getresuid",service="e2e-longlived",' 10
	scrape "$port" >"$W/m"
	# the helper is never a service of its own, nor the pod's processes
	# another container's; the one-shots are their shell's
	run ! grep -Eq 'syscall="getresgid",service="python3' "$W/m"
	run ! grep -q 'service="e2e-oneshot"' "$W/m"
	# (by this test's own syscalls: another python3 on the host, such as
	# a stray one a CI machine runs, is a host program by right)
	run ! grep -Eq 'syscall="(getppid|getresgid|times|getpgrp)",service="(python3[.0-9]*|webapp)",container_id="",' "$W/m"
	promtool check metrics <"$W/m"
	kill $(jobs -p) 2>/dev/null || true
}


#!/usr/bin/env bats
# Real services under obs-run: nginx driven by wrk, dd on the real disk,
# scraped by a real Prometheus server and checked with promtool.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	require_bpf
	require_cmd nginx wrk curl prometheus promtool python3
	W=$BATS_TEST_TMPDIR
	NGINX_PORT=$(free_port)
	"$TOP/scripts/nginx-conf.sh" "$W" "$NGINX_PORT"
}

teardown() {
	[ -n "${UNRELATED:-}" ] && kill "$UNRELATED" 2>/dev/null || true
	merge_device_down
	[ -n "${PROM:-}" ] && kill "$PROM" 2>/dev/null || true
	obs_stop
}

@test "nginx + wrk under obs-run: HTTP-side syscalls and TCP metrics, nginx only" {
	local port
	port=$(free_port)
	# An unrelated busy process with a syscall nginx never makes (getsid).
	python3 -c 'import os,time
t=time.time()+60
while time.time()<t: os.getsid(0)' &
	UNRELATED=$!
	obs_start "$port" -- nginx -c "$W/nginx.conf" -p "$W"
	wait_for curl -fsS "http://127.0.0.1:$NGINX_PORT/"
	run wrk -t2 -c8 -d3s "http://127.0.0.1:$NGINX_PORT/"
	[ "$status" -eq 0 ]
	scrape "$port" >"$W/m"
	# HTTP-side syscalls of nginx, in kernel histograms.
	for sc in accept4 epoll_wait writev recvfrom; do
		n=$(metric_sum "$W/m" "^obs_syscall_duration_seconds_count\{syscall=\"$sc\",service=\"nginx\"\}")
		echo "$sc: $n"
		[ "$n" -gt 0 ]
	done
	# wrk's requests: every connection was accepted by nginx.
	inb=$(metric_sum "$W/m" '^obs_tcp_connections_total\{direction="inbound",service="nginx"\}')
	echo "inbound: $inb"
	[ "$inb" -ge 8 ]
	tx=$(metric_sum "$W/m" '^obs_tcp_sent_bytes_total\{service="nginx"\}')
	rx=$(metric_sum "$W/m" '^obs_tcp_received_bytes_total\{service="nginx"\}')
	[ "$tx" -gt 100000 ]
	[ "$rx" -gt 10000 ]
	grep -q '^obs_runqueue_latency_seconds_count{service="nginx"}' "$W/m"
	# The unrelated process is not there: no getsid, and no other service.
	run ! grep -q 'syscall="getsid"' "$W/m"
	[ -z "$(grep -E '^obs_(syscall|tcp|runqueue)' "$W/m" | grep -v 'service="nginx"')" ]
}

@test "our /metrics passes promtool check metrics (text and OpenMetrics)" {
	local port
	port=$(free_port)
	obs_start "$port" -- nginx -c "$W/nginx.conf" -p "$W"
	wait_for curl -fsS "http://127.0.0.1:$NGINX_PORT/"
	wrk -t1 -c2 -d1s "http://127.0.0.1:$NGINX_PORT/" >/dev/null
	scrape "$port" >"$W/m"
	run promtool check metrics <"$W/m"
	echo "$output"
	[ "$status" -eq 0 ]
	curl -fsS -H 'Accept: application/openmetrics-text; version=1.0.0' \
		-D "$W/h" "http://127.0.0.1:$port/metrics" >"$W/om"
	grep -qi '^content-type: application/openmetrics-text; version=1.0.0' "$W/h"
	[ "$(tail -1 "$W/om")" = "# EOF" ]
	grep -q '^# TYPE obs_tcp_connections counter' "$W/om"
	grep -q '^obs_tcp_connections_total{direction="inbound",service="nginx"}' "$W/om"
	grep -q '^# UNIT obs_syscall_duration_seconds seconds' "$W/om"
}

@test "a real Prometheus server scrapes obs-run; PromQL returns the nginx series" {
	local port pport
	port=$(free_port)
	pport=$(free_port)
	obs_start "$port" -- nginx -c "$W/nginx.conf" -p "$W"
	cat >"$W/prometheus.yml" <<CONF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: obs
    static_configs: [ { targets: ["127.0.0.1:$port"] } ]
CONF
	prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/prom" \
		--web.listen-address="127.0.0.1:$pport" --log.level=warn 2>"$W/prom.log" &
	PROM=$!
	wait_for curl -fsS "http://127.0.0.1:$pport/-/ready"
	# Traffic while Prometheus scrapes, so rates over the window are non-zero.
	wrk -t2 -c4 -d20s "http://127.0.0.1:$NGINX_PORT/" >/dev/null &
	local load=$!
	local q='sum by (service) (obs_tcp_connections_total{direction="inbound"})'
	for _ in $(seq 30); do
		curl -fsS "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$q" >"$W/q"
		grep -q '"service":"nginx"' "$W/q" && break
		sleep 1
	done
	cat "$W/q"
	grep -q '"status":"success"' "$W/q"
	grep -q '"metric":{"service":"nginx"},"value":\[[0-9.]*,"[1-9]' "$W/q"
	# A histogram query over the scraped buckets works too.
	q='histogram_quantile(0.99, sum by (le) (rate(obs_syscall_duration_seconds_bucket{service="nginx"}[1m])))'
	for _ in $(seq 30); do
		curl -fsS "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$q" >"$W/q2"
		grep -q '"result":\[{"metric":{},"value":\[[0-9.]*,"[0-9]' "$W/q2" && break
		sleep 1
	done
	kill "$load" 2>/dev/null || true
	cat "$W/q2"
	grep -q '"resultType":"vector","result":\[{"metric":{},"value":\[[0-9.]*,"[0-9][0-9.e+-]*"' "$W/q2"
	# Prometheus saw the target up.
	curl -fsS "http://127.0.0.1:$pport/api/v1/query" --data-urlencode 'query=up{job="obs"}' | grep -q '"1"\]'
}

@test "dd oflag=direct under obs-run shows write latency on the real disk" {
	local port dev n b u left inf
	port=$(free_port)
	# The block device under this directory, by its kernel name (vda, nvme0n1).
	dev=$(lsblk -no PKNAME "$(findmnt -no SOURCE -T "$W")" 2>/dev/null | head -1)
	[ -n "$dev" ] || dev=$(basename "$(findmnt -no SOURCE -T "$W")")
	echo "device: $dev"
	# Another, unfollowed writer keeps the device's queue busy, so some
	# of dd's requests are dispatched by kblockd and dd's own context
	# dispatches some of the writer's: each request is charged to the
	# process that made it, none lost, none taken (it once counted 466
	# or 531 of 500 here).
	timeout 60 sh -c "while [ ! -e $W/dd.done ]; do
		dd if=/dev/zero of=$W/bg.out bs=1M count=64 2>/dev/null; sync $W/bg.out; done" &
	bg=$!
	obs_start "$port" -- sh -c "dd if=/dev/zero of=$W/dd.out bs=4k count=500 oflag=direct 2>/dev/null; touch $W/dd.done; sleep 30"
	wait_for test -e "$W/dd.done"
	wait "$bg"
	scrape "$port" >"$W/m"
	n=$(metric_sum "$W/m" "^obs_disk_io_duration_seconds_count\{device=\"$dev\",op=\"write\",service=\"sh\"\}")
	b=$(metric_sum "$W/m" "^obs_disk_io_bytes_total\{device=\"$dev\",op=\"write\",service=\"sh\"\}")
	echo "writes: $n bytes: $b"
	grep -E '^obs_(events_dropped_total|bpf_program_misses_total)\{' "$W/m" | grep -v ' 0$' || true
	grep -E '^obs_bpf_map_entries\{map="disk_' "$W/m"
	grep -q '^obs_bpf_program_misses_total{program="obs_block_rq_complete"} [0-9]' "$W/m"
	# Every request counted. On Linux 6.18 (virtio-blk) the completion
	# program now and then does not see the end of one of dd's writes
	# (ftrace records it; bpftrace's programs miss some too; no recursion
	# miss is recorded): such a request is counted as unseen, with its
	# bytes, once a request is made at its address, or is still in
	# disk_start; never silently gone.
	u=$(metric_sum "$W/m" '^obs_disk_io_end_unseen_total ')
	left=$(metric_sum "$W/m" '^obs_bpf_map_entries\{map="disk_start"\}')
	echo "unseen: $u still in flight: $left"
	[ $((n + u + left)) -eq 500 ]
	[ "$n" -ge 250 ] # (59 of 500 unseen once, in 25 runs outside bats)
	# an unseen request's bytes count once its end is known
	[ "$b" -eq $(((n + u) * 4096)) ]
	# A latency distribution, not a single bucket: the +Inf count equals _count.
	inf=$(metric_sum "$W/m" "^obs_disk_io_duration_seconds_bucket\{device=\"$dev\",op=\"write\",service=\"sh\",le=\"\+Inf\"\}")
	[ "$inf" -eq "$n" ]
}

# A block device whose I/O can be held: loop device A on a file of an ext4
# image mounted through loop device B. Freezing that filesystem stalls A's
# worker, so once A's hardware tags (128 here) are taken, requests wait in A's
# mq-deadline scheduler, where they merge.
# PORT's collector holds no block request it saw start: none leaked. (The
# maps see every process's requests: another's may be in flight at one
# scrape, never at every one.)
disk_maps_empty() {
	scrape "$1" >"$W/maps$1"
	grep -q '^obs_bpf_map_entries{map="disk_start"} 0$' "$W/maps$1" &&
		grep -q '^obs_bpf_map_entries{map="disk_merged"} 0$' "$W/maps$1"
}

merge_device_up() {
	truncate -s 64M "$W/b.img"
	mkfs.ext4 -q -F "$W/b.img"
	mkdir -p "$W/b"
	LOOP_B=$(losetup -f --show "$W/b.img")
	mount "$LOOP_B" "$W/b"
	dd if=/dev/zero of="$W/b/backing" bs=1M count=32 status=none
	sync
	LOOP_A=$(losetup -f --show "$W/b/backing")
	echo mq-deadline >"/sys/block/${LOOP_A#/dev/}/queue/scheduler"
}

merge_device_down() {
	[ -n "${OBS2:-}" ] && kill "$OBS2" 2>/dev/null || true
	[ -n "${LOOP_B:-}" ] || return 0
	fsfreeze -u "$W/b" 2>/dev/null || true
	WAIT_FOR_SECS=10 wait_for test -e "$W/done0" || true
	[ -n "${LOOP_A:-}" ] && losetup -d "$LOOP_A"
	umount "$W/b" || true
	losetup -d "$LOOP_B"
	LOOP_A= LOOP_B=
}

@test "block requests merged by the I/O scheduler across processes: each process counts its own bytes, none left in flight" {
	local p0 p1 a tags nw before after
	require_cmd mkfs.ext4 losetup fsfreeze
	merge_device_up
	a=${LOOP_A#/dev/}
	# Two services under two obs-runs write the even and the odd 4 KiB
	# blocks, nw writers each at once: more than the device's tags, so
	# that requests wait in the scheduler, where their requests and bios
	# merge into one another's (once lost: a merged request never
	# completes, and the request it joined counted its bytes).
	tags=$(cat "/sys/block/$a/mq/0/nr_tags")
	nw=$((tags + 100))
	cat >"$W/writers.sh" <<EOF
#!/bin/sh
while [ ! -e $W/go ]; do sleep 0.05; done
i=0
while [ \$i -lt $nw ]; do
	dd if=/dev/zero of=$LOOP_A bs=4k count=1 seek=\$((2 * i + \$1)) oflag=direct status=none &
	i=\$((i + 1))
done
wait
touch $W/done\$1
exec sleep 60
EOF
	chmod +x "$W/writers.sh"
	p0=$(free_port)
	p1=$(free_port)
	obs_start "$p0" -- "$W/writers.sh" 0
	"$OBS_RUN" --metrics-addr "127.0.0.1:$p1" -- "$W/writers.sh" 1 >"$W/obs2.out" 2>"$W/obs2.err" &
	OBS2=$!
	wait_for ready "$p1"
	before=$(awk '{print $6}' "/sys/block/$a/stat")
	fsfreeze -f "$W/b"
	touch "$W/go"
	# the worker holds as many requests as there are tags; the rest
	# wait in the scheduler
	wait_for sh -c "[ \$(awk '{print \$2}' /sys/block/$a/inflight) -ge $tags ]"
	sleep 1
	fsfreeze -u "$W/b"
	wait_for test -e "$W/done0"
	wait_for test -e "$W/done1"
	after=$(awk '{print $6}' "/sys/block/$a/stat")
	echo "write merges: $((after - before))"
	[ $((after - before)) -ge 20 ]
	for p in "$p0" "$p1"; do
		scrape "$p" >"$W/m$p"
		n=$(metric_sum "$W/m$p" "^obs_disk_io_duration_seconds_count\{device=\"$a\",op=\"write\"")
		b=$(metric_sum "$W/m$p" "^obs_disk_io_bytes_total\{device=\"$a\",op=\"write\"")
		echo "port $p: writes $n bytes $b"
		grep -E '^obs_bpf_map_entries\{map="disk_' "$W/m$p"
		# every byte its own; a write merged into the same service's
		# request is part of that request, not a request of its own
		[ "$b" -eq $((nw * 4096)) ]
		[ "$n" -le "$nw" ] && [ "$n" -ge $((nw * 3 / 4)) ]
		wait_for disk_maps_empty "$p"
	done
}

@test "fsync'd buffered writes, merged bio by bio in the writer's own plug, count every byte as its own" {
	local port n b
	port=$(free_port)
	# dd's fsync writes its 16 MiB back in its own context: 4 KiB pages
	# merged into a few large requests, in dd's plug (not kept: its own)
	obs_start "$port" -- sh -c "dd if=/dev/zero of=$W/bf.out bs=64k count=256 conv=fsync status=none; touch $W/bf.done; sleep 30"
	wait_for test -e "$W/bf.done"
	scrape "$port" >"$W/m"
	n=$(metric_sum "$W/m" '^obs_disk_io_duration_seconds_count\{device="[^"]*",op="write",service="sh"\}')
	b=$(metric_sum "$W/m" '^obs_disk_io_bytes_total\{device="[^"]*",op="write",service="sh"\}')
	echo "requests: $n bytes: $b"
	grep -E '^obs_bpf_map_entries\{map="disk_' "$W/m"
	# the data, and at most a little of the file's metadata
	[ "$b" -ge $((16 << 20)) ] && [ "$b" -lt $((17 << 20)) ]
	[ "$n" -ge 1 ] && [ "$n" -lt 4096 ]
	wait_for disk_maps_empty "$port"
}

@test "a kernel without bpf_loop (forced): the merge programs stay off, the rest loads, obs check says so, dd's writes all count" {
	local port n u left
	port=$(free_port)
	OBS_DEBUG_NO_BPF_LOOP=1 run "$OBS" check
	[ "$status" -eq 0 ]
	[[ "$output" == *"block I/O merges: no bpf_loop (kernel < 5.17)"* ]]
	OBS_DEBUG_NO_BPF_LOOP=1 obs_start "$port" -- sh -c "dd if=/dev/zero of=$W/dd.out bs=4k count=200 oflag=direct 2>/dev/null; touch $W/dd.done; sleep 30"
	wait_for test -e "$W/dd.done"
	scrape "$port" >"$W/m"
	n=$(metric_sum "$W/m" '^obs_disk_io_duration_seconds_count\{device="[^"]*",op="write",service="sh"\}')
	u=$(metric_sum "$W/m" '^obs_disk_io_end_unseen_total ')
	left=$(metric_sum "$W/m" '^obs_bpf_map_entries\{map="disk_start"\}')
	echo "writes: $n unseen: $u still in flight: $left"
	# each counted, or counted unseen (the dd test above says why)
	[ $((n + u + left)) -eq 200 ]
	[ "$n" -ge 100 ]
	# the plain completion is loaded, its walking variant and the merge
	# programs are not
	grep -q '^obs_bpf_program_misses_total{program="obs_block_rq_complete"}' "$W/m"
	run ! grep -q 'program="obs_disk_walk_complete"' "$W/m"
	run ! grep -q 'program="obs_block_rq_merge"' "$W/m"
}

@test "--probes disk loads the disk programs and their merge programs, not the TCP or run-queue ones" {
	local port
	port=$(free_port)
	obs_start "$port" --probes disk -- sh -c "dd if=/dev/zero of=$W/dd.out bs=4k count=20 oflag=direct 2>/dev/null; touch $W/dd.done; sleep 30"
	wait_for test -e "$W/dd.done"
	scrape "$port" >"$W/m"
	grep '^obs_bpf_program_misses_total' "$W/m"
	for p in obs_block_rq_complete obs_block_rq_merge obs_block_bio_backmerge; do
		grep -q "^obs_bpf_program_misses_total{program=\"$p\"}" "$W/m"
	done
	for p in obs_sock_send_length obs_inet_sock_set_state obs_tcp_retransmit_skb obs_sched_wakeup; do
		run ! grep -q "program=\"$p\"" "$W/m"
	done
}

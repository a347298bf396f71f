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
	local port dev
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
	[ "$n" -eq 500 ]
	[ "$b" -eq $((500 * 4096)) ]
	# A latency distribution, not a single bucket: the +Inf count equals _count.
	inf=$(metric_sum "$W/m" "^obs_disk_io_duration_seconds_bucket\{device=\"$dev\",op=\"write\",service=\"sh\",le=\"\+Inf\"\}")
	[ "$inf" -eq "$n" ]
}

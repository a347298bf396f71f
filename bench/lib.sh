# bench/lib.sh - what the benchmarks share; sourced by bench/*/run.sh.

# ticks PID: the process's user + system CPU time, in clock ticks (0 once gone)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# us: wrk's latency ("812.00us", "3.20ms", "1.02s") on stdin, in microseconds
us() { awk '{v=$1; if (v ~ /us$/) print v+0; else if (v ~ /ms$/) print v*1000; else print v*1e6}'; }

# median: of the numbers on stdin, one per line
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# bench_record CFG WRK_OUT TICKS: one round of CFG, from wrk --latency's
# output and the CPU ticks the measured processes used over it (needs $hz
# and $secs; the caller declares -A rps p99 cpu): its req/s (set in $q),
# p99 in us and CPU us per request, appended to rps[CFG], p99[CFG], cpu[CFG]
bench_record() {
	local l
	q=$(awk '/^Requests\/sec/ {print $2}' "$2")
	l=$(awk '$1 == "99%" {print $2}' "$2" | us)
	rps[$1]="${rps[$1]:-} $q"
	p99[$1]="${p99[$1]:-} $l"
	cpu[$1]="${cpu[$1]:-} $(per_req "$3")"
}

# per_req TICKS: CPU microseconds per request of TICKS over the round that
# bench_record last read (its $q req/s for $secs)
per_req() { awk -v t="$1" -v hz="$hz" -v q="$q" -v s="$secs" 'BEGIN {print t / hz * 1e6 / (q * s)}'; }

# bench_medians CFGS: mr, ml, mc[CFG] (the caller declares -A mr ml mc):
# the medians over the rounds of req/s, p99 and CPU us per request
bench_medians() {
	local c
	for c in $1; do
		mr[$c]=$(echo ${rps[$c]} | tr ' ' '\n' | median)
		ml[$c]=$(echo ${p99[$c]} | tr ' ' '\n' | median)
		mc[$c]=$(echo ${cpu[$c]} | tr ' ' '\n' | median)
	done
}

# bench_nginx_conf DIR PORT: DIR/nginx.conf for one nginx worker answering
# "ok" on 127.0.0.1:PORT, no access log, keep-alive without end (nginx on
# one core, the load generator on the other: this machine has two)
bench_nginx_conf() {
	cat >"$1/nginx.conf" <<CONF
daemon off;
user root;
worker_processes 1;
error_log $1/error.log;
pid $1/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path $1; proxy_temp_path $1; fastcgi_temp_path $1;
	uwsgi_temp_path $1; scgi_temp_path $1;
	server { listen 127.0.0.1:$2; location / { return 200 "ok\n"; } }
}
CONF
}

# bench_bpftrace SCRIPT PID OUT: the peer tool, bpftrace SCRIPT PID, in the
# background and attached before it returns; sets $peer
# bpftrace's tracepoints need tracefs (obs's raw tracepoints do not): a
# fresh machine may not have it mounted. A peer that did not attach stops
# the bench: its round would measure the bare service under its name.
bench_bpftrace() {
	[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
	bpftrace "$1" "$2" >"$3" 2>&1 &
	peer=$!
	for _ in $(seq 100); do grep -q Attaching "$3" && return 0; kill -0 "$peer" 2>/dev/null || break; sleep 0.1; done
	echo "bench: bpftrace did not attach ($1):" >&2
	grep -v RLIMIT_MEMLOCK "$3" | head -3 >&2
	exit 1
}

# bench_stop: stop the round's peer (SIGINT: bpftrace prints its maps and
# exits) and server ($peer, $srv)
bench_stop() {
	[ -n "${peer:-}" ] && { kill -INT "$peer" 2>/dev/null || true; wait "$peer" 2>/dev/null || true; }
	kill -TERM "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
}

# bench_obs_fixed OBS_RUN [ARGS...]: the CPU seconds (user+system) obs-run
# takes around a command that does nothing (loading its probes, BTF, its
# exit): what a short benchmark that times obs-run whole must take off
# before dividing by the operations it ran
bench_obs_fixed() {
	local t
	t=$(mktemp)
	/usr/bin/time -f "%U %S" -o "$t" "$@" --no-summary --metrics-addr 127.0.0.1:0 -- true >/dev/null 2>&1
	awk '{print $1 + $2}' "$t"
	rm -f "$t"
}

# BPF time per request, by program: the kernel's own accounting
# (kernel.bpf_stats_enabled, on only while measuring, restored at exit: it
# adds two clock reads to every program run, ~40 ns here, the same in
# every column). Steadier than CPU columns (their rounds move by +-10%):
# the figure to compare builds or configurations by. Every task's
# syscalls run the programs: the load generator's count in every column.
#
# bench_bpf_phase ROUNDS URL CONNS "CFGS": ROUNDS interleaved rounds of 4 s
# per configuration, each started with the caller's start_cfg CFG and
# ended with bench_stop; then a table of ns per request for each obs_*
# program and their total, medians (bns[CFG:PROG] keeps the rounds).
bench_bpf_snap() {
	bpftool prog show -j | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    n = p.get("name", "")
    if n.startswith("obs_"):
        print(n, p.get("run_time_ns", 0), p.get("run_cnt", 0))'
}
declare -A bns
bench_bpf_phase() {
	local rounds=$1 url=$2 conns=$3 cfgs=$4 stats0 r c n prog ns progs p v dir
	dir=$(mktemp -d)
	stats0=$(sysctl -n kernel.bpf_stats_enabled)
	trap 'sysctl -qw kernel.bpf_stats_enabled='"$stats0"'; cleanup' EXIT
	echo >&2
	echo "BPF time per request (bpf_stats), $rounds rounds x 4s:" >&2
	for r in $(seq "$rounds"); do
		for c in $cfgs; do
			start_cfg "$c"
			wrk -t1 -c"$conns" -d1s "$url" >/dev/null
			sysctl -qw kernel.bpf_stats_enabled=1
			bench_bpf_snap >"$dir/a"
			wrk -t1 -c"$conns" -d4s "$url" >"$dir/wrk"
			bench_bpf_snap >"$dir/b"
			sysctl -qw kernel.bpf_stats_enabled="$stats0"
			bench_stop
			pids=()
			n=$(awk '/requests in/ {print $1}' "$dir/wrk")
			while read -r prog ns; do
				bns[$c:$prog]="${bns[$c:$prog]:-} $ns"
			done < <(awk -v n="$n" 'NR == FNR {t[$1] = $2; next}
				{d = $2 - t[$1]; s += d; if (d / n >= 1) printf "%s %.0f\n", $1, d / n}
				END {printf "total %.0f\n", s / n}' "$dir/a" "$dir/b")
		done
	done
	rm -rf "$dir"
	progs=$(printf '%s\n' "${!bns[@]}" | sed 's/^[^:]*://' | sort -u | grep -v '^total$')
	printf '  %-26s' program
	for c in $cfgs; do printf ' %10s' "$c"; done
	printf '   (ns per request, medians)\n'
	for p in $progs total; do
		printf '  %-26s' "$p"
		for c in $cfgs; do
			v=
			[ -n "${bns[$c:$p]:-}" ] && v=$(echo ${bns[$c:$p]} | tr ' ' '\n' | median)
			printf ' %10s' "${v:--}"
		done
		printf '\n'
	done
}

# bench_bpf_median CFG PROG: that median (0 if it did not run)
bench_bpf_median() {
	[ -n "${bns[$1:$2]:-}" ] || { echo 0; return; }
	echo ${bns[$1:$2]} | tr ' ' '\n' | median
}

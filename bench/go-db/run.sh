#!/usr/bin/env bash
# bench/go-db: what following a Go program's data-store calls from the
# kernel side costs it.
#
#   Go net/http services (tests/e2e/go) whose every request makes one
#   data-store operation, driven by wrk -t1 (keep-alive):
#     redis  redis_srv.go /get: one GET (redigo) to a redis-server
#     pg     sql_srv.go /one: one simple-query SELECT (database/sql, lib/pq)
#            to a throwaway cluster of Debian's postgresql
#     my     sql_srv.go /one: the same through go-sql-driver/mysql, to a
#            throwaway MariaDB (Debian's mariadb-server)
#   each in interleaved rounds of
#     bare      the service alone
#     bpf       obs-run --no-preload: the kernel probes alone (no capture)
#     obs       obs-run --sample-ratio 0.1: probes + kernel-side capture of
#               the HTTP request and the operation, spans kept at 10%
#     obs100    obs-run: every request and operation a span (to /dev/null)
#     bpftrace  the peer: bpftrace keeping the buffer and size of every
#               read and write of the service (bench/go-http/capture.bt)
#   reporting medians of req/s and p99 against bare, and CPU microseconds
#   per request of the service plus obs-run (user+system from /proc; the
#   data store's own CPU is not counted), with what obs adds.
#
#   bench/go-db/run.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#
# Needs root, go, wrk, redis-server, postgresql, mariadb-server, Debian's
# redigo, lib/pq and go-sql-driver/mysql (scripts/deps.sh); bpftrace
# optional. Not a CI test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/bench/lib.sh"
rounds=${1:-5}
secs=${2:-8}
conns=${3:-16}
out=$top/build/bench/go-db
mkdir -p "$out"
make -C "$top" -s all
for s in redis sql; do
	(cd "$top/tests/e2e/go" && GOCACHE=$out/gocache GOPATH=/usr/share/gocode GO111MODULE=off \
		go build -o "$out/$s-srv" "${s}_srv.go")
done
obs=$top/build/obs-run
base=$((20000 + RANDOM % 12000))
port=$base mport=$((base + 1)) rport=$((base + 2)) pport=$((base + 3)) myport=$((base + 4))
pgd=$(mktemp -d /tmp/obs-bench-go-db.XXXXXX)
myd=$(mktemp -d /tmp/obs-bench-go-db-my.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "${redis:-}" ] && kill "$redis" 2>/dev/null
	wait 2>/dev/null || true
	"$top/tests/e2e/pg_cluster.sh" stop "$pgd" || true
	"$top/tests/e2e/my_server.sh" stop "$myd" || true
}
trap cleanup EXIT
redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --dir "$out" \
	>"$out/redis.log" 2>&1 &
redis=$!
"$top/tests/e2e/pg_cluster.sh" start "$pgd" "$pport"
"$top/tests/e2e/my_server.sh" start "$myd" "$myport" 2>>"$out/my.log"
mariadb --no-defaults -h 127.0.0.1 -P "$myport" -uobs -pobs shop \
	-e "INSERT INTO items VALUES (1, 'value-1') ON DUPLICATE KEY UPDATE v = v"
psql -qX -h 127.0.0.1 -p "$pport" -U postgres -d shop \
	-c "INSERT INTO items VALUES (1, 'value-1') ON CONFLICT DO NOTHING" >/dev/null
for _ in $(seq 50); do redis-cli -p "$rport" set item:1 value-1 >/dev/null 2>&1 && break; sleep 0.1; done

start_cfg() { # STORE CFG: the STORE's service under CFG; sets $srv, $app, $peer, $path
	local cmd
	peer= app=
	case $1 in
	redis) cmd=("$out/redis-srv" "$port" "$rport") path=/get ;;
	pg) cmd=("$out/sql-srv" postgres "$port" "host=127.0.0.1 port=$pport user=postgres dbname=shop sslmode=disable") path=/one ;;
	my) cmd=("$out/sql-srv" mysql "$port" "obs:obs@tcp(127.0.0.1:$myport)/shop") path=/one ;;
	esac
	case $2 in
	bare | bpftrace) "${cmd[@]}" & ;;
	bpf) "$obs" --no-preload --no-summary --metrics-addr "127.0.0.1:$mport" -- "${cmd[@]}" 2>>"$out/obs.log" & ;;
	obs) "$obs" --sample-ratio 0.1 --no-summary --metrics-addr "127.0.0.1:$mport" -- "${cmd[@]}" 2>>"$out/obs.log" & ;;
	obs100) "$obs" --spans-file /dev/null --no-summary --metrics-addr "127.0.0.1:$mport" -- "${cmd[@]}" 2>>"$out/obs.log" & ;;
	esac
	srv=$!
	pids=("$srv")
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port$path" 2>/dev/null && break
		sleep 0.1
	done
	case $2 in bare | bpftrace) app=$srv ;; *) app=$(pgrep -P "$srv" | head -1) ;; esac
	[ -n "$app" ] || { echo "run.sh: $1 $2 did not start; see $out/*.log" >&2; exit 1; }
	if [ "$2" = bpftrace ]; then
		bench_bpftrace "$top/bench/go-http/capture.bt" "$app" "$out/bpftrace.out"
		pids+=("$peer")
	fi
}

cfgs="bare bpf obs obs100 bpftrace"
command -v bpftrace >/dev/null || cfgs=${cfgs/ bpftrace/}
runs=""
for s in redis pg my; do for c in $cfgs; do runs="$runs $s-$c"; done; done
hz=$(getconf CLK_TCK)
declare -A rps p99 cpu
echo "go-db: wrk -t1 -c$conns, $rounds rounds x ${secs}s, interleaved" >&2
for r in $(seq "$rounds"); do
	printf '  round %s:' "$r" >&2
	for sc in $runs; do
		start_cfg "${sc%%-*}" "${sc#*-}"
		wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port$path" >/dev/null # warm up
		obsp=0
		case $sc in *-bpf | *-obs | *-obs100) obsp=$srv ;; *-bpftrace) obsp=$peer ;; esac
		a0=$(ticks "$app") o0=$( ((obsp)) && ticks "$obsp" || echo 0)
		wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port$path" >"$out/wrk.$sc.$r"
		a1=$(ticks "$app") o1=$( ((obsp)) && ticks "$obsp" || echo 0)
		if [ "$sc" = "${sc%%-*}-obs" ] && [ "$r" = 1 ]; then
			curl -fsS "127.0.0.1:$mport/metrics" >"$out/metrics.$sc" || true
		fi
		bench_stop
		pids=()
		bench_record "$sc" "$out/wrk.$sc.$r" $((a1 - a0 + o1 - o0))
		printf ' %s=%.0f/s' "$sc" "$q" >&2
	done
	echo >&2
done
declare -A mr ml mc
bench_medians "$runs"
printf '\n%-16s %9s %8s %7s %7s %9s %9s\n' config "req/s" "p99 us" "rps/b" "p99/b" "cpu us/r" "+us/r"
for sc in $runs; do
	b=${sc%%-*}-bare
	awk -v c="$sc" -v q="${mr[$sc]}" -v l="${ml[$sc]}" -v bq="${mr[$b]}" -v bl="${ml[$b]}" \
		-v w="${mc[$sc]}" -v bw="${mc[$b]}" 'BEGIN {
		printf "%-16s %9.0f %8.0f %7.2f %7.2f %9.2f %+9.2f\n", c, q, l, q/bq, l/bl, w, w - bw }'
done
echo
echo "what the collector saw, first round at 10% (one operation per request):"
for s in redis pg my; do
	grep -E '^(db_client_operation_duration_seconds_count|http_server_request_duration_seconds_count)|^obs_(shim_parse_errors|context_unknown)_total' \
		"$out/metrics.$s-obs" | sed 's/^/  /' || true
done

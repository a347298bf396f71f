#!/usr/bin/env bash
# Run every obs test: cmocka unit tests, libFuzzer smoke runs, bats
# end-to-end tests against real programs. Installs dependencies first.
# Last line: "N passed, N failed" (", N skipped" when a test skipped). Exit
# status non-zero on any failure; with CI=true a skipped test is a failure
# too (CI has every dependency: a skip there means a test did not run).
#
#   scripts/test.sh            everything
#   FUZZ_SECONDS=60 scripts/test.sh
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
fuzz_seconds=${FUZZ_SECONDS:-20}
pass=0 fail=0 skipped=0
failed=()

note() { printf '\n=== %s\n' "$*"; }
record() { # record NAME STATUS
	if [ "$2" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("$1"); fi
}

note "dependencies"
scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

note "build"
if ! make -s all unit-bins e2e-bins fuzz; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

note "lint (clang-format, cppcheck)"
if make -s lint >build/lint.log 2>&1; then
	echo "ok lint"
	record lint 0
else
	echo "not ok lint"
	tail -20 build/lint.log
	record lint 1
fi

note "unit tests (cmocka)"
for t in build/tests/test_*; do
	out=$("$t" 2>&1)
	st=$?
	echo "$out" | grep -E '^\[  (PASSED|FAILED|  OK|ERROR)' | grep -v '^\[       OK' || true
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p')
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p')
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0}))
	[ "$st" -ne 0 ] && [ -z "$f" ] && record "$t (crashed)" 1
	[ -n "$f" ] && failed+=("$t")
done

note "sanitizers (ASan + UBSan): unit tests and obs-run, with leak checks"
if make -s asan >build/asan.log 2>&1; then
	for t in build/asan/tests/test_*; do
		case $t in *.log) continue ;; esac # logs of an earlier run
		if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			"$t" >"$t.log" 2>&1; then
			echo "ok asan $(basename "$t")"
			record "asan $t" 0
		else
			echo "not ok asan $(basename "$t")"
			tail -20 "$t.log"
			record "asan $t" 1
		fi
	done
	# The ASan shim needs the ASan runtime first in every traced program:
	# obs-run keeps the user's LD_PRELOAD ahead of its own library.
	libasan=$(${CC:-gcc} -print-file-name=libasan.so)
	asan_run() { # NAME LOG WANT -- CMD...: obs-run (ASan) with the ASan shim
		local name=$1 log=$2 want=$3
		shift 4
		rm -f "$log.spans"
		if LD_PRELOAD=$libasan ASAN_OPTIONS=detect_leaks=${ASAN_LEAKS:-1} build/asan/obs-run \
			--metrics-addr 127.0.0.1:0 --spans-file "$log.spans" -- "$@" >"$log" 2>&1 &&
			! grep -qE 'ERROR: |runtime error' "$log" &&
			{ [ -z "$want" ] || grep -q "$want" "$log.spans"; }; then
			echo "ok asan $name"
			record "asan $name" 0
		else
			echo "not ok asan $name"
			tail -30 "$log"
			record "asan $name" 1
		fi
	}
	asan_run obs-run build/asan-run.log "" -- \
		sh -c 'for i in 1 2 3; do cat /etc/hostname; done >/dev/null'
	# one process, client and server spans, traceparent injection, ring, export
	asan_run "obs-run shim" build/asan-shim.log '"kind":"server".*"parent_span_id":"[0-9a-f]\{16\}"' -- \
		build/asan/bench/shimcost 2000
	# HTTP/2 both ways: a python3-h2 server (1-byte reads) and client
	# (minimal SO_SNDBUF, CONTINUATION) under the ASan shim; CPython's own
	# allocations at exit are not leaks of ours
	if /usr/bin/python3 -c 'import h2' 2>/dev/null; then
		h2p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		ASAN_LEAKS=0 asan_run "obs-run shim HTTP/2" build/asan-h2.log '"kind":"server".*"parent_span_id":"[0-9a-f]\{16\}"' -- \
			sh -c "/usr/bin/python3 tests/e2e/h2_stress.py serve $h2p >build/asan-h2.report & sleep 1;
				/usr/bin/python3 tests/e2e/h2_stress.py call $h2p 200 && wait &&
				grep -q '\"one_traceparent\": 200' build/asan-h2.report"
	elif [ "${CI:-}" = true ]; then
		echo "not ok asan obs-run shim HTTP/2: python3-h2 missing (scripts/deps.sh installs it)"
		record "asan HTTP/2" 1
	fi
	# Redis: redis-benchmark (hiredis), 50 connections pipelined 16 deep,
	# replies up to 600-element arrays, against Debian's redis-server
	if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
		rp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		redis-server --bind 127.0.0.1 --port "$rp" --save '' --appendonly no --dir build \
			>build/asan-redis-server.log 2>&1 &
		rs=$!
		for _ in $(seq 50); do redis-cli -p "$rp" ping >/dev/null 2>&1 && break; sleep 0.1; done
		asan_run "obs-run shim Redis" build/asan-redis.log '"db.system.name":"redis"' -- \
			redis-benchmark -p "$rp" -t set,get,lpush,lrange_600 -n 2000 -P 16 -q
		kill "$rs" 2>/dev/null
		wait "$rs" 2>/dev/null
	elif [ "${CI:-}" = true ]; then
		echo "not ok asan obs-run shim Redis: redis-server missing (scripts/deps.sh installs it)"
		record "asan Redis" 1
	fi
	# PostgreSQL: psycopg2 (libpq), 8 threads on their own connections,
	# 2000-row results, errors, two statements in a query, against Debian's
	# postgresql. (psql and pgbench hang at exit under ASan alone, in
	# p11-kit's destructor, with no obs anywhere: not usable here.)
	pgd=$(mktemp -d /tmp/obs-asan-pg.XXXXXX)
	pp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	if tests/e2e/pg_cluster.sh start "$pgd" "$pp" 2>build/asan-pg-cluster.log &&
		/usr/bin/python3 -c 'import psycopg2' 2>>build/asan-pg-cluster.log; then
		ASAN_LEAKS=0 asan_run "obs-run shim PostgreSQL" build/asan-pg.log '"db.system.name":"postgresql"' -- \
			/usr/bin/python3 tests/e2e/pg_load.py "host=127.0.0.1 port=$pp user=postgres dbname=shop" 8 50
	elif [ "${CI:-}" = true ]; then
		echo "not ok asan obs-run shim PostgreSQL: no cluster or psycopg2 ($(tail -1 build/asan-pg-cluster.log))"
		record "asan PostgreSQL" 1
	fi
	tests/e2e/pg_cluster.sh stop "$pgd" 2>/dev/null || true
	# MySQL: PyMySQL, 8 threads on their own connections, 2000-row
	# results, errors, two statements in a query, against Debian's MariaDB
	myd=$(mktemp -d /tmp/obs-asan-my.XXXXXX)
	mp=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	if tests/e2e/my_server.sh start "$myd" "$mp" 2>build/asan-my-server.log &&
		/usr/bin/python3 -c 'import pymysql' 2>>build/asan-my-server.log; then
		ASAN_LEAKS=0 asan_run "obs-run shim MySQL" build/asan-my.log '"db.system.name":"mariadb"' -- \
			/usr/bin/python3 tests/e2e/my_load.py "$mp" 8 50
	elif [ "${CI:-}" = true ]; then
		echo "not ok asan obs-run shim MySQL: no server or PyMySQL ($(tail -1 build/asan-my-server.log))"
		record "asan MySQL" 1
	fi
	tests/e2e/my_server.sh stop "$myd" 2>/dev/null || true
else
	echo "not ok asan build"
	tail -20 build/asan.log
	record "asan build" 1
fi

note "fuzz smoke runs (libFuzzer, ${fuzz_seconds}s each)"
for f in build/fuzz/fuzz_*; do
	name=$(basename "$f")
	corpus=build/fuzz-corpus/$name
	seeds=tests/fuzz/corpus/$name
	mkdir -p "$corpus"
	[ -d "$seeds" ] || seeds=
	if "$f" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -print_final_stats=0 \
		-artifact_prefix="build/fuzz-$name-" "$corpus" $seeds >"build/fuzz-$name.log" 2>&1; then
		echo "ok $name ($(grep -o 'Done [0-9]* runs' "build/fuzz-$name.log"))"
		record "$name" 0
	else
		echo "not ok $name: see build/fuzz-$name.log"
		tail -20 "build/fuzz-$name.log"
		record "$name" 1
	fi
done

note "end-to-end tests (bats, real programs)"
bats --tap tests/e2e >build/e2e.tap 2>&1
cat build/e2e.tap
p=$(grep -c '^ok ' build/e2e.tap)
s=$(grep -ciE '^ok .* # skip' build/e2e.tap)
f=$(grep -c '^not ok ' build/e2e.tap)
pass=$((pass + p - s))
skipped=$((skipped + s))
fail=$((fail + f))
grep '^not ok ' build/e2e.tap | while read -r l; do echo "FAILED: $l"; done
[ "$((p + f))" -eq 0 ] && record "bats ran no test" 1
# tests stop what they start: say what was left behind
left=$(pgrep -a -f "$top/build/(obs|tests/)|nginx -c .*/ngx/|obs-pod\." || true)
[ -n "$left" ] && printf 'warning: processes left running by the tests:\n%s\n' "$left"
if [ "$s" -gt 0 ]; then
	grep -iE '^ok .* # skip' build/e2e.tap | while read -r l; do echo "SKIPPED: $l"; done
	if [ "${CI:-}" = true ]; then
		echo "CI=true: $s test(s) skipped; CI must run every test"
		fail=$((fail + s))
		failed+=("$s skipped in CI")
	fi
fi

if [ "${#failed[@]}" -gt 0 ]; then
	printf '\nfailed: %s\n' "${failed[*]}"
fi
echo
if [ "$skipped" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skipped skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]

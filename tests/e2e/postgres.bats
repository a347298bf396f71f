#!/usr/bin/env bats
# Data stores: PostgreSQL clients (Debian's postgresql, psycopg2, pgbench,
# psql) under obs-run. Every operation is a CLIENT span, the child of the
# request that made it, and a point of db_client_operation_duration_seconds
# named by the server's command tag; pipelines are matched answer by
# answer; SQLSTATEs are said; the app's bytes and answers are unchanged.

load helpers

DPY=/usr/bin/python3 # Debian's, with python3-psycopg2

setup_file() {
	PGDIR=$(mktemp -d /tmp/obs-pg.XXXXXX)
	PGPORT_=$(free_port)
	export PGDIR PGPORT_
	# (a missing postgresql is said by setup, test by test)
	"$TOP/tests/e2e/pg_cluster.sh" start "$PGDIR" "$PGPORT_" 2>"$PGDIR.err" || true
}

teardown_file() {
	"$TOP/tests/e2e/pg_cluster.sh" stop "$PGDIR" || true
	rm -f "$PGDIR.err"
}

setup() {
	require_bpf
	require_cmd psql pgbench curl promtool openssl
	[ -e "$PGDIR/data/postmaster.pid" ] || {
		cat "$PGDIR.err" >&2
		[ "${CI:-}" = true ] && { echo "no PostgreSQL cluster to test with (above)" >&2; return 1; }
		skip "no PostgreSQL cluster (postgresql not installed?)"
	}
	"$DPY" -c 'import psycopg2' 2>/dev/null || {
		[ "${CI:-}" = true ] && { echo "python3-psycopg2 missing (scripts/deps.sh installs it)" >&2; return 1; }
		skip "python3-psycopg2 not installed"
	}
	D=$BATS_TEST_TMPDIR
	DSN="host=127.0.0.1 port=$PGPORT_ user=postgres dbname=shop sslmode=disable"
}

teardown() {
	obs_stop
	bg_stop "${FAKE:-}"
	true
}

@test "postgresql: a Python service's queries (psycopg2) are CLIENT spans, children of the request that made them (8 and 32 callers at once); every operation counted; SQLSTATEs said; answers unchanged" {
	local MP SP n lbl
	MP=$(free_port)
	SP=$(free_port)
	obs_start "$MP" --spans-file "$D/spans.jsonl" -- "$DPY" "$TOP/tests/e2e/pg_app.py" "$SP" "$DSN"
	wait_for curl -fsS -o /dev/null "http://127.0.0.1:$SP/item/0"
	db_items "$SP"
	[ "$(curl -fsS "http://127.0.0.1:$SP/bad")" = 42P01 ]
	[ "$(curl -fsS "http://127.0.0.1:$SP/two")" = ok ]
	# every operation counted: 81 requests' BEGIN, INSERT, SELECT, COMMIT
	lbl='db_system_name="postgresql",db_operation_name="%s",server_address="127.0.0.1",server_port="'"$PGPORT_"'",error_type="%s",service="python3"'
	wait_scrape "$MP" "^db_client_operation_duration_seconds_count\{$(printf "$lbl" COMMIT '')\} 82$"
	scrape "$MP" >"$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" INSERT '')} 81$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" SELECT '')} 81$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" BEGIN '')} 83$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" '' 42P01)} 1$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" ROLLBACK '')} 1$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" 'BATCH INSERT' '')} 1$" "$D/m"
	[ "$(metric_sum "$D/m" '^obs_shim_parse_errors_total')" = 0 ]
	promtool check metrics <"$D/m"
	obs_stop
	grep -Eq "^  db client postgresql INSERT 127.0.0.1 $PGPORT_ +81 " "$BATS_TEST_TMPDIR/obs.err"
	grep -Eq "^  db client postgresql 127.0.0.1 $PGPORT_ 42P01 +1 " "$BATS_TEST_TMPDIR/obs.err"
	# each request's operations are its own children, within its time
	"$PY" - "$TOP/tests/e2e" "$D/spans.jsonl" <<-'EOF'
		import sys
		sys.path.insert(0, sys.argv[1])
		from db_spans import check
		per, pg = check(sys.argv[2], "postgresql")
		for s in pg:
		    a = s["attributes"]
		    assert a["db.namespace"] == "shop" and a["server.address"] == "127.0.0.1", a
		    assert "db.query.text" not in a, a  # no SQL kept
		for n in range(1, 81):
		    assert per["/item/%d" % n] == ["BEGIN shop", "INSERT shop", "SELECT shop", "COMMIT shop"], per["/item/%d" % n]
		bad = [s for s in pg if s["attributes"].get("error.type") == "42P01"]
		assert len(bad) == 1 and bad[0]["status"] == "error" and bad[0]["name"] == "postgresql", bad
		assert bad[0]["attributes"]["db.response.status_code"] == "42P01", bad
		two = [s for s in pg if s["name"] == "BATCH INSERT shop"]
		assert len(two) == 1 and two[0]["attributes"]["db.operation.batch.size"] == 2, two
	EOF
}

# go_pg_build: the Go service (lib/pq), built offline from Debian's gocode
go_pg_build() {
	require_cmd go
	[ -d /usr/share/gocode/src/github.com/lib/pq ] || {
		[ "${CI:-}" = true ] && { echo "golang-github-lib-pq-dev missing (scripts/deps.sh installs it)" >&2; return 1; }
		skip "golang-github-lib-pq-dev not installed"
	}
	(cd "$TOP/tests/e2e/go" && GOCACHE=$D/gocache GOPATH=/usr/share/gocode GO111MODULE=off \
		go build -o "$D/sql-srv" sql_srv.go)
}

@test "postgresql from the kernel side: a Go service's queries (database/sql, lib/pq) are CLIENT spans, children of the request whose handler goroutine made them (8 and 32 callers at once); every operation counted; SQLSTATEs said; 9 KB answers and a 300 000-byte value followed" {
	local MP SP n lbl
	go_pg_build
	MP=$(free_port)
	SP=$(free_port)
	obs_start "$MP" --service go-pg --spans-file "$D/spans.jsonl" -- "$D/sql-srv" postgres "$SP" "$DSN"
	wait_for curl -fsS -o /dev/null "http://127.0.0.1:$SP/item/0"
	grep -q "and its cleartext PostgreSQL, Redis and MySQL operations (db_\* metrics and spans); a database operation is the child of the request whose handler goroutine made it" \
		"$BATS_TEST_TMPDIR/obs.err"
	db_items "$SP"
	[ "$(curl -fsS "http://127.0.0.1:$SP/bad")" = 42P01 ]
	[ "$(curl -fsS "http://127.0.0.1:$SP/big")" = 300000 ]
	[ "$(curl -fsS "http://127.0.0.1:$SP/list")" = 20 ]
	# every operation counted (request 0 too; lib/pq's round trip that
	# only prepares a statement runs nothing, and is no operation)
	lbl='db_system_name="postgresql",db_operation_name="%s",server_address="127.0.0.1",server_port="'"$PGPORT_"'",error_type="%s",service="go-pg"'
	# (waiting for the last requests' operations: the rest is counted by then)
	wait_scrape "$MP" "^db_client_operation_duration_seconds_count\{$(printf "$lbl" SELECT '')\} 83$"
	scrape "$MP" >"$D/m"
	grep -E '^(db_client_operation_duration_seconds_count|obs_(shim_parse_errors|context_unknown|events_dropped)_total)' "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" BEGIN '')} 81$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" INSERT '')} 81$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" SELECT '')} 83$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" '' 42P01)} 1$" "$D/m"
	[ "$(metric_sum "$D/m" '^obs_shim_parse_errors_total')" = 0 ]
	[ "$(metric_sum "$D/m" '^obs_context_unknown_total\{service="go-pg"\}')" = 0 ]
	[ "$(metric_sum "$D/m" '^obs_events_dropped_total\{reason="capture_full"\}')" = 0 ]
	promtool check metrics <"$D/m"
	obs_stop
	"$PY" - "$TOP/tests/e2e" "$D/spans.jsonl" <<-'EOF'
		import sys
		sys.path.insert(0, sys.argv[1])
		from db_spans import check
		per, pg = check(sys.argv[2], "postgresql")
		assert all(s["attributes"]["db.namespace"] == "shop" for s in pg), pg
		for n in range(1, 81):
		    assert per["/item/%d" % n] == ["BEGIN shop", "INSERT shop", "SELECT shop", "COMMIT shop"], per["/item/%d" % n]
		assert per["/bad"] == ["postgresql"] and per["/big"] == per["/list"] == ["SELECT shop"], per
	EOF
}

@test "postgresql from the kernel side over TLS (lib/pq, sslmode=require): the ciphertext is not parsed, no error is counted, and the app's answers are unchanged" {
	local MP SP
	go_pg_build
	MP=$(free_port)
	SP=$(free_port)
	obs_start "$MP" --service go-pg -- "$D/sql-srv" postgres "$SP" "${DSN/sslmode=disable/sslmode=require}"
	wait_for curl -fsS -o /dev/null "http://127.0.0.1:$SP/item/1"
	[ "$(curl -fsS "http://127.0.0.1:$SP/item/2")" = "$(printf "value-2-%.0s" $(seq 50))" ]
	[ "$(curl -fsS "http://127.0.0.1:$SP/bad")" = 42P01 ]
	wait_for scrape_sum_ge "$MP" '^http_server_request_duration_seconds_count\{.*service="go-pg"' 3
	scrape "$MP" >"$D/m"
	[ "$(metric_sum "$D/m" '^obs_shim_parse_errors_total')" = 0 ]
	[ "$(metric_sum "$D/m" '^db_client_operation_duration_seconds_count')" = 0 ]
}

@test "postgresql: pgbench with the extended protocol, prepared statements and pipelines: every operation counted, a pipeline's commands one BATCH" {
	local MP M
	MP=$(free_port)
	cat >"$D/one.sql" <<-'EOF'
		SELECT count(*) FROM items;
	EOF
	cat >"$D/pipe.sql" <<-'EOF'
		\startpipeline
		SELECT 1;
		INSERT INTO log VALUES (3);
		SELECT 2;
		\endpipeline
	EOF
	obs_start "$MP" -- sh -c "for M in simple extended prepared; do
		pgbench -n -h 127.0.0.1 -p $PGPORT_ -U postgres -M \$M -t 50 -c 2 -f '$D/one.sql' shop || exit 1
	done; pgbench -n -h 127.0.0.1 -p $PGPORT_ -U postgres -M extended -t 30 -c 2 -f '$D/pipe.sql' shop || exit 1
	echo done >'$D/ok'; sleep 60"
	wait_for test -e "$D/ok"
	wait_scrape "$MP" 'db_operation_name="BATCH",.*error_type="",service="sh"\} 60$'
	scrape "$MP" >"$D/m"
	# 3 modes x 2 clients x 50
	grep -q "^db_client_operation_duration_seconds_count{db_system_name=\"postgresql\",db_operation_name=\"SELECT\",.*error_type=\"\",service=\"sh\"} 300$" "$D/m"
	[ "$(metric_sum "$D/m" '^obs_shim_parse_errors_total')" = 0 ]
}

@test "postgresql over TLS (psql, libpq through the system OpenSSL): the operations are followed in the plaintext; the SSLRequest answered 'S' is no error" {
	local MP
	MP=$(free_port)
	obs_start "$MP" -- sh -c "psql -X -d 'host=127.0.0.1 port=$PGPORT_ user=postgres dbname=shop sslmode=require' \
		-c 'SELECT 1' -c 'SELECT * FROM nosuch' -c 'SHOW ssl' >'$D/out' 2>&1; sleep 60"
	wait_for grep -q '^ on$' "$D/out"
	wait_scrape "$MP" 'db_operation_name="SHOW",.*error_type="",service="sh"\} 1$'
	scrape "$MP" >"$D/m"
	grep -q 'db_operation_name="SELECT",.*error_type="",service="sh"} 1$' "$D/m"
	grep -q 'db_operation_name="",.*error_type="42P01",service="sh"} 1$' "$D/m"
	[ "$(metric_sum "$D/m" '^obs_shim_parse_errors_total')" = 0 ]
}

@test "postgresql: a server whose answer breaks the protocol: psql prints the same with and without obs; the operation ends as a protocol error, counted" {
	local MP FP
	MP=$(free_port)
	FP=$(free_port)
	"$DPY" "$TOP/tests/e2e/pg_fake.py" "$FP" >"$D/fake.log" 2>&1 &
	FAKE=$!
	wait_for listening "$FP"
	psql -X -h 127.0.0.1 -p "$FP" -U x -d y -c 'SELECT 1' -c 'SELECT 2' >"$D/bare.out" 2>&1 || true
	obs_start "$MP" -- sh -c "psql -X -h 127.0.0.1 -p $FP -U x -d y -c 'SELECT 1' -c 'SELECT 2' >'$D/obs.out' 2>&1; sleep 60"
	wait_for test -s "$D/obs.out"
	sleep 0.5
	cmp "$D/bare.out" "$D/obs.out"
	cat "$D/obs.out"
	wait_scrape "$MP" 'db_system_name="postgresql",db_operation_name="SELECT",.*error_type="",service="sh"\} 1$'
	wait_scrape "$MP" 'db_system_name="postgresql",db_operation_name="",.*error_type="protocol_error",service="sh"\} 1$'
	[ "$(metric_sum "$(scrape "$MP" >"$D/m"; echo "$D/m")" '^obs_shim_parse_errors_total')" -ge 1 ]
}

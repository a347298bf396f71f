#!/usr/bin/env bats
# Data stores: MySQL and MariaDB clients under obs-run, against a real
# MariaDB (Debian's mariadb-server): a Python service (PyMySQL, through
# the shim) and a Go one (database/sql with go-sql-driver/mysql, from the
# kernel side). Every command is a CLIENT span, the child of the request
# that made it, and a point of db_client_operation_duration_seconds named
# by its statement's keyword; prepared statements, several results and
# errors are said; the app's bytes and answers are unchanged.

load helpers

DPY=/usr/bin/python3 # Debian's, with python3-pymysql

setup_file() {
	MYDIR=$(mktemp -d /tmp/obs-my.XXXXXX)
	MYPORT_=$(free_port)
	export MYDIR MYPORT_
	# (a missing mariadb-server is said by setup, test by test)
	"$TOP/tests/e2e/my_server.sh" start "$MYDIR" "$MYPORT_" 2>"$MYDIR.err" || true
}

teardown_file() {
	"$TOP/tests/e2e/my_server.sh" stop "$MYDIR" || true
	rm -f "$MYDIR.err"
}

setup() {
	require_bpf
	require_cmd curl promtool
	[ -s "$MYDIR/pid" ] || {
		cat "$MYDIR.err" "$MYDIR/log" >&2 2>/dev/null
		[ "${CI:-}" = true ] && { echo "no MariaDB server to test with (above)" >&2; return 1; }
		skip "no MariaDB server (mariadb-server not installed?)"
	}
	"$DPY" -c 'import pymysql' 2>/dev/null || {
		[ "${CI:-}" = true ] && { echo "python3-pymysql missing (scripts/deps.sh installs it)" >&2; return 1; }
		skip "python3-pymysql not installed"
	}
	D=$BATS_TEST_TMPDIR
}

teardown() {
	obs_stop
	bg_stop "${FAKE:-}"
	true
}

# lbl OP ERR SERVICE: a db_client_operation_duration_seconds_count series
lbl() {
	printf 'db_system_name="mariadb",db_operation_name="%s",server_address="127.0.0.1",server_port="%s",error_type="%s",service="%s"' \
		"$1" "$MYPORT_" "$2" "$3"
}

@test "mysql: a Python service's queries (PyMySQL) are CLIENT spans, children of the request that made them (8 and 32 callers at once); every command counted; error codes, several results, COM_INIT_DB and PING said; answers unchanged" {
	local MP SP
	MP=$(free_port)
	SP=$(free_port)
	obs_start "$MP" --service py-my --spans-file "$D/spans.jsonl" -- "$DPY" "$TOP/tests/e2e/my_app.py" "$SP" "$MYPORT_"
	wait_for curl -fsS -o /dev/null "http://127.0.0.1:$SP/item/0"
	db_items "$SP"
	[ "$(curl -fsS "http://127.0.0.1:$SP/bad")" = 1146 ]
	[ "$(curl -fsS "http://127.0.0.1:$SP/two")" = ok ]
	[ "$(curl -fsS "http://127.0.0.1:$SP/db")" = 1044 ]
	# every command counted: 81 requests' BEGIN, INSERT, SELECT, COMMIT
	wait_scrape "$MP" "^db_client_operation_duration_seconds_count\{$(lbl COMMIT '' py-my)\} 82$"
	scrape "$MP" >"$D/m"
	grep -E '^(db_client_operation_duration_seconds_count|obs_(shim_parse_errors|context_unknown)_total)' "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl BEGIN '' py-my)} 81$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl INSERT '' py-my)} 81$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl SELECT '' py-my)} 81$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl SELECT 1146 py-my)} 1$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl BATCH '' py-my)} 1$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl INIT_DB 1044 py-my)} 1$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl INIT_DB '' py-my)} 1$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl PING '' py-my)} 1$" "$D/m"
	[ "$(metric_sum "$D/m" '^obs_shim_parse_errors_total')" = 0 ]
	promtool check metrics <"$D/m"
	obs_stop
	grep -Eq "^  db client mariadb INSERT 127.0.0.1 $MYPORT_ +81 " "$BATS_TEST_TMPDIR/obs.err"
	"$PY" - "$TOP/tests/e2e" "$D/spans.jsonl" <<-'PYEOF'
		import sys
		sys.path.insert(0, sys.argv[1])
		from db_spans import check
		per, my = check(sys.argv[2], "mariadb")
		for s in my:
		    a = s["attributes"]
		    assert a["server.address"] == "127.0.0.1" and "db.query.text" not in a, a
		for n in range(1, 81):
		    names = per["/item/%d" % n]
		    if names[0] == "SET shop":  # a new connection's autocommit setting
		        names = names[1:]
		    assert names == ["BEGIN shop", "INSERT shop", "SELECT shop", "COMMIT shop"], names
		bad = [s for s in my if s["attributes"].get("error.type") == "1146"]
		assert len(bad) == 1 and bad[0]["status"] == "error" and bad[0]["name"] == "SELECT shop", bad
		assert bad[0]["attributes"]["db.response.status_code"] == "1146", bad
		two = [s for s in my if s["name"] == "BATCH shop"]
		assert len(two) == 1 and two[0]["attributes"]["db.operation.batch.size"] == 2, two
		assert per["/db"] == ["INIT_DB shop", "INIT_DB shop", "PING shop"], per["/db"]
	PYEOF
}

@test "mysql from the kernel side: a Go service's queries (database/sql, go-sql-driver/mysql) are CLIENT spans, children of the request whose handler goroutine made them (8 and 32 callers at once); prepared statements named by their statement; every command counted; 9 KB answers and a 300 000-byte value (one read of more than 64 KiB, the answer's end in its last bytes) followed" {
	local MP SP
	require_cmd go
	[ -d /usr/share/gocode/src/github.com/go-sql-driver/mysql ] || {
		[ "${CI:-}" = true ] && { echo "golang-github-go-sql-driver-mysql-dev missing (scripts/deps.sh installs it)" >&2; return 1; }
		skip "golang-github-go-sql-driver-mysql-dev not installed"
	}
	(cd "$TOP/tests/e2e/go" && GOCACHE=$D/gocache GOPATH=/usr/share/gocode GO111MODULE=off \
		go build -o "$D/sql-srv" sql_srv.go)
	MP=$(free_port)
	SP=$(free_port)
	obs_start "$MP" --service go-my --spans-file "$D/spans.jsonl" -- "$D/sql-srv" mysql "$SP" "obs:obs@tcp(127.0.0.1:$MYPORT_)/shop"
	wait_for curl -fsS -o /dev/null "http://127.0.0.1:$SP/item/0"
	grep -q "and its cleartext PostgreSQL, Redis and MySQL operations (db_\* metrics and spans)" "$BATS_TEST_TMPDIR/obs.err"
	db_items "$SP"
	[ "$(curl -fsS "http://127.0.0.1:$SP/bad")" = 1146 ]
	[ "$(curl -fsS "http://127.0.0.1:$SP/list")" = 20 ]
	[ "$(curl -fsS "http://127.0.0.1:$SP/big")" = 300000 ]
	# every command counted (request 0 too): the driver starts a
	# transaction, prepares each parameterized statement, executes and
	# closes it (no answer: no operation)
	# (waiting for the last requests' operations: the rest is counted by then)
	wait_scrape "$MP" "^db_client_operation_duration_seconds_count\{$(lbl SELECT '' go-my)\} 83$"
	scrape "$MP" >"$D/m"
	grep -E '^(db_client_operation_duration_seconds_count|obs_(shim_parse_errors|context_unknown|events_dropped)_total)' "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl START '' go-my)} 81$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl PREPARE '' go-my)} 162$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl INSERT '' go-my)} 81$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl SELECT '' go-my)} 83$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(lbl SELECT 1146 go-my)} 1$" "$D/m"
	[ "$(metric_sum "$D/m" '^obs_shim_parse_errors_total')" = 0 ]
	[ "$(metric_sum "$D/m" '^obs_context_unknown_total\{service="go-my"\}')" = 0 ]
	[ "$(metric_sum "$D/m" '^obs_events_dropped_total\{reason="capture_full"\}')" = 0 ]
	promtool check metrics <"$D/m"
	obs_stop
	"$PY" - "$TOP/tests/e2e" "$D/spans.jsonl" <<-'PYEOF'
		import sys
		sys.path.insert(0, sys.argv[1])
		from db_spans import check
		per, my = check(sys.argv[2], "mariadb")
		for n in range(1, 81):
		    assert per["/item/%d" % n] == ["START shop", "PREPARE shop", "INSERT shop", "PREPARE shop", "SELECT shop", "COMMIT shop"], per["/item/%d" % n]
		assert per["/bad"] == per["/list"] == per["/big"] == ["SELECT shop"], per
	PYEOF
}

@test "mysql: a server whose answer breaks the protocol: the mariadb client prints the same with and without obs; the command ends as a protocol error, counted" {
	local MP FP
	require_cmd mariadb
	MP=$(free_port)
	FP=$(free_port)
	"$DPY" "$TOP/tests/e2e/my_fake.py" "$FP" >"$D/fake.log" 2>&1 &
	FAKE=$!
	wait_for listening "$FP"
	mariadb --no-defaults -h 127.0.0.1 -P "$FP" -ux -py -e 'SELECT 1' >"$D/bare.out" 2>&1 || true
	obs_start "$MP" -- sh -c "mariadb --no-defaults -h 127.0.0.1 -P $FP -ux -py -e 'SELECT 1' >'$D/obs.out' 2>&1; sleep 60"
	wait_for test -s "$D/obs.out"
	sleep 0.5
	cmp "$D/bare.out" "$D/obs.out"
	cat "$D/obs.out"
	wait_scrape "$MP" 'db_system_name="mariadb",db_operation_name="SELECT",.*error_type="protocol_error",service="sh"\} 1$'
	[ "$(metric_sum "$(scrape "$MP" >"$D/m"; echo "$D/m")" '^obs_shim_parse_errors_total')" -ge 1 ]
}

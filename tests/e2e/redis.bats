#!/usr/bin/env bats
# Data stores: a Python service that keeps its data in a real Redis
# (Debian's redis-server, redis-py) under obs-run. Every command is a
# CLIENT span, the child of the request that made it, and a point of
# db_client_operation_duration_seconds; pipelines and MULTI/EXEC are
# matched reply by reply; Redis's errors are said; the app's bytes and
# answers are unchanged.

load helpers

DPY=/usr/bin/python3 # Debian's, with python3-redis

setup() {
	require_bpf
	require_cmd redis-server curl promtool
	"$DPY" -c 'import redis' 2>/dev/null || {
		[ "${CI:-}" = true ] && { echo "python3-redis missing (scripts/deps.sh installs it)" >&2; return 1; }
		skip "python3-redis not installed"
	}
	D=$BATS_TEST_TMPDIR
	RP=$(free_port)
	redis-server --bind 127.0.0.1 --port "$RP" --save '' --appendonly no --dir "$D" \
		>"$D/redis.log" 2>&1 &
	REDIS=$!
	wait_for redis-cli -p "$RP" ping
}

teardown() {
	obs_stop
	bg_stop "${REDIS:-}"
	bg_stop "${FAKE:-}"
	true
}

@test "redis: a Python service's Redis commands are CLIENT spans, children of the request that made them (8 and 32 callers at once); every command counted (pipelines, MULTI/EXEC); errors said; answers unchanged" {
	local MP SP n
	MP=$(free_port)
	SP=$(free_port)
	obs_start "$MP" --spans-file "$D/spans.jsonl" -- "$DPY" "$TOP/tests/e2e/redis_app.py" "$SP" "$RP"
	wait_for curl -fsS -o /dev/null "http://127.0.0.1:$SP/item/0"
	db_items "$SP"
	[ "$(curl -fsS "http://127.0.0.1:$SP/bad")" = "WRONGTYPE Operation against a key holding the wrong kind of value" ]
	# every command counted: 81 SETs and GETs, 8100 INCRs (as INCRBY), of
	# which 4100 in MULTI/EXEC
	wait_scrape "$MP" '^db_client_operation_duration_seconds_count\{db_system_name="redis",db_operation_name="INCRBY",server_address="127.0.0.1",server_port="'"$RP"'",error_type="",service="python3"\} 8100$'
	scrape "$MP" >"$D/m"
	grep -q '^db_client_operation_duration_seconds_count{db_system_name="redis",db_operation_name="GET",.*error_type="",service="python3"} 81$' "$D/m"
	grep -q '^db_client_operation_duration_seconds_count{db_system_name="redis",db_operation_name="SET",.*error_type="",service="python3"} 82$' "$D/m"
	grep -q '^db_client_operation_duration_seconds_count{db_system_name="redis",db_operation_name="MULTI",.*} 41$' "$D/m"
	grep -q '^db_client_operation_duration_seconds_count{db_system_name="redis",db_operation_name="EXEC",.*} 41$' "$D/m"
	grep -q '^db_client_operation_duration_seconds_count{db_system_name="redis",db_operation_name="LPUSH",.*error_type="WRONGTYPE",service="python3"} 1$' "$D/m"
	grep -q '^db_client_operation_duration_seconds_bucket{db_system_name="redis",db_operation_name="GET",.*le="0.001"' "$D/m"
	promtool check metrics <"$D/m"
	obs_stop
	# the exit summary says where the requests' time went, Redis included
	grep -A14 '^requests, calls and commands' "$BATS_TEST_TMPDIR/obs.err"
	grep -Eq "^  db client redis INCRBY 127.0.0.1 $RP +8100 " "$BATS_TEST_TMPDIR/obs.err"
	grep -Eq "^  db client redis GET 127.0.0.1 $RP +81 " "$BATS_TEST_TMPDIR/obs.err"
	grep -Eq "^  db client redis LPUSH 127.0.0.1 $RP WRONGTYPE +1 " "$BATS_TEST_TMPDIR/obs.err"
	grep -Eq "^  http server GET /item/\{id\} 200 +81 " "$BATS_TEST_TMPDIR/obs.err"
	# each request's Redis spans are its own children, within its time
	"$PY" - "$TOP/tests/e2e" "$D/spans.jsonl" <<-'EOF'
		import sys
		sys.path.insert(0, sys.argv[1])
		from db_spans import check
		per, redis = check(sys.argv[2], "redis")
		assert len(redis) > 80 * 3, len(redis)
		for s in redis:
		    a = s["attributes"]
		    assert a["db.operation.name"] == s["name"] and a["db.namespace"] == "0", a
		    assert a["server.address"] == "127.0.0.1" and a["server.port"] > 0, a
		for n in range(1, 81):
		    names = per["/item/%d" % n]
		    # the pipeline's first 64 commands waiting have spans (the
		    # rest are counted only)
		    assert names[:2] == ["SET", "GET"] and names.count("INCRBY") >= 60, names
		bad = [s for s in redis if s["name"] == "LPUSH"][0]
		assert bad["status"] == "error" and bad["attributes"]["db.response.status_code"] == "WRONGTYPE", bad
		assert bad["attributes"]["error.type"] == "WRONGTYPE", bad
	EOF
}

@test "redis from the kernel side: a Go service's commands (redigo) are CLIENT spans, children of the request whose handler goroutine made them (8 and 32 callers at once); every command counted (pipelines, MULTI/EXEC); errors said; a 300 000-byte value followed" {
	local MP SP n lbl
	require_cmd go
	[ -d /usr/share/gocode/src/github.com/gomodule/redigo ] || {
		[ "${CI:-}" = true ] && { echo "golang-github-gomodule-redigo-dev missing (scripts/deps.sh installs it)" >&2; return 1; }
		skip "golang-github-gomodule-redigo-dev not installed"
	}
	(cd "$TOP/tests/e2e/go" && GOCACHE=$D/gocache GOPATH=/usr/share/gocode GO111MODULE=off \
		go build -o "$D/redis-srv" redis_srv.go)
	MP=$(free_port)
	SP=$(free_port)
	obs_start "$MP" --service go-redis --spans-file "$D/spans.jsonl" -- "$D/redis-srv" "$SP" "$RP"
	wait_for curl -fsS -o /dev/null "http://127.0.0.1:$SP/item/0"
	db_items "$SP"
	[ "$(curl -fsS "http://127.0.0.1:$SP/bad")" = "WRONGTYPE Operation against a key holding the wrong kind of value" ]
	[ "$(curl -fsS "http://127.0.0.1:$SP/big")" = 300000 ]
	# every command counted: 81 GETs (and the big one), 8100 INCRs, of
	# which 4100 in MULTI/EXEC
	lbl='db_system_name="redis",db_operation_name="%s",server_address="127.0.0.1",server_port="'"$RP"'",error_type="%s",service="go-redis"'
	# (waiting for the last request's command: the rest is counted by then)
	wait_scrape "$MP" "^db_client_operation_duration_seconds_count\{$(printf "$lbl" GET '')\} 82$"
	scrape "$MP" >"$D/m"
	grep -E '^(db_client_operation_duration_seconds_count|obs_(shim_parse_errors|context_unknown|events_dropped)_total)' "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" GET '')} 82$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" SET '')} 83$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" MULTI '')} 41$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" EXEC '')} 41$" "$D/m"
	grep -q "^db_client_operation_duration_seconds_count{$(printf "$lbl" LPUSH WRONGTYPE)} 1$" "$D/m"
	[ "$(metric_sum "$D/m" '^obs_shim_parse_errors_total')" = 0 ]
	[ "$(metric_sum "$D/m" '^obs_context_unknown_total\{service="go-redis"\}')" = 0 ]
	[ "$(metric_sum "$D/m" '^obs_events_dropped_total\{reason="capture_full"\}')" = 0 ]
	promtool check metrics <"$D/m"
	obs_stop
	"$PY" - "$TOP/tests/e2e" "$D/spans.jsonl" <<-'EOF'
		import sys
		sys.path.insert(0, sys.argv[1])
		from db_spans import check
		per, redis = check(sys.argv[2], "redis")
		for n in range(1, 81):
		    names = per["/item/%d" % n]
		    assert names[:2] == ["SET", "GET"] and names.count("INCR") >= 60, names
		assert per["/big"] == ["SET", "GET"] and per["/bad"] == ["SET", "LPUSH"], (per["/big"], per["/bad"])
	EOF
}

@test "redis: a reply that breaks RESP: the client sees the same bytes and errors as without obs; the command ends as a protocol error, counted, and the connection is no longer followed" {
	local MP FP
	MP=$(free_port)
	FP=$(free_port)
	"$DPY" "$TOP/tests/e2e/redis_fake.py" "$FP" >"$D/fake.log" 2>&1 &
	FAKE=$!
	wait_for redis-cli -p "$FP" ping
	# redis-cli, one connection: PING, a GET whose bulk string runs past
	# its length, then whatever it makes of the rest
	printf 'PING\nSET k v\nGET k\nPING\n' >"$D/cmds"
	redis-cli -p "$FP" <"$D/cmds" >"$D/bare.out" 2>&1 || true
	obs_start "$MP" -- sh -c "redis-cli -p $FP <'$D/cmds' >'$D/obs.out' 2>&1; sleep 30"
	wait_for test -s "$D/obs.out"
	cmp "$D/bare.out" "$D/obs.out"
	cat "$D/obs.out"
	wait_scrape "$MP" 'db_operation_name="GET".*error_type="protocol_error",service="sh"\} 1$'
	scrape "$MP" >"$D/m"
	grep -q 'db_operation_name="PING",.*error_type="",service="sh"} 1$' "$D/m"
	grep -q 'db_operation_name="SET",.*error_type="WRONGTYPE",service="sh"} 1$' "$D/m"
	[ "$(metric_sum "$D/m" '^obs_shim_parse_errors_total')" -ge 1 ]
	bg_stop "$FAKE"
}

@test "redis over TLS (redis-py through the system OpenSSL): every command followed in the plaintext" {
	local MP TP
	MP=$(free_port)
	TP=$(free_port)
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/k.pem" -out "$D/c.pem" -days 1 \
		-subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
	redis-server --port 0 --tls-port "$TP" --bind 127.0.0.1 --tls-cert-file "$D/c.pem" \
		--tls-key-file "$D/k.pem" --tls-ca-cert-file "$D/c.pem" --tls-auth-clients no \
		--save '' --appendonly no --dir "$D" >"$D/tls.log" 2>&1 &
	FAKE=$! # (stopped in teardown)
	wait_for redis-cli --tls --cacert "$D/c.pem" -p "$TP" ping
	cat >"$D/tls.py" <<-EOF
		import redis
		r = redis.Redis(host="127.0.0.1", port=$TP, ssl=True, ssl_ca_certs="$D/c.pem")
		r.set("a", "b" * 5000)
		assert r.get("a") == b"b" * 5000
		r.ping()
		p = r.pipeline()
		for i in range(100):
		    p.incr("n")
		p.execute()
	EOF
	obs_start "$MP" --spans-file "$D/spans.jsonl" -- sh -c "'$DPY' '$D/tls.py' && sleep 30"
	wait_scrape "$MP" 'db_operation_name="INCRBY",server_address="127.0.0.1",server_port="'"$TP"'",error_type="",service="sh"\} 100$'
	scrape "$MP" >"$D/m"
	for op in SET GET PING MULTI EXEC; do
		grep -q "db_operation_name=\"$op\",.*error_type=\"\",service=\"sh\"} 1\$" "$D/m"
	done
}

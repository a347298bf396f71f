#!/usr/bin/env bats
# The operations pack against the real binary: config file, secured
# metrics endpoint (bearer, basic, TLS), SIGHUP reload, JSON logs,
# dropped capabilities, exemplars, and a real Prometheus scraping it all.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	D=$BATS_TEST_TMPDIR
	echo "t0ken-$RANDOM-$RANDOM" >"$D/token"
	TOKEN=$(cat "$D/token")
}

teardown() {
	obs_stop
	bg_stop "${SRV:-}"
	bg_stop "${PROM:-}"
	bg_stop "${AGENT:-}"
	receiver_stop
	if [ -n "${CLEAN_CG:-}" ]; then
		# move anything left back to the root, then remove the test's cgroups
		for p in $(cat "$CLEAN_CG/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		sleep 0.2
		rmdir "$CLEAN_CG" "$(dirname "$CLEAN_CG")" 2>/dev/null || true
	fi
	[ -n "${SHIMD:-}" ] && rm -rf "$SHIMD"
	true
}

# A CA and a server certificate for 127.0.0.1 signed by it.
make_tls() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=obs test CA" \
		-keyout "$D/ca.key" -out "$D/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$D/tls.key" -out "$D/tls.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$D/san.ext"
	openssl x509 -req -in "$D/tls.csr" -CA "$D/ca.crt" -CAkey "$D/ca.key" \
		-CAcreateserial -days 365 -extfile "$D/san.ext" -out "$D/tls.crt" 2>/dev/null
}

# obs_cfg_start CONFIG ARGS...: obs-run --config CONFIG ARGS... in the
# background; waits for /readyz on $MP (plain or TLS), which needs no
# credentials: attached, so what a test asserts next is there (waiting for
# /healthz only, a slow attach once made a later /readyz check see 503).
# Sets OBS_PID.
obs_cfg_start() {
	local conf=$1
	shift
	"$OBS_RUN" --config "$conf" "$@" >"$D/obs.out" 2>"$D/obs.err" &
	OBS_PID=$!
	wait_for cfg_ready
}
cfg_ready() { curl -ksf "${SCHEME:-http}://127.0.0.1:$MP/readyz" | grep -q '"ready"'; }

code() { curl -ks -o /dev/null -w '%{http_code}' "$@"; }


@test "obs config check: a valid file shows the settings; errors name the key and the line" {
	cat >"$D/ok.yaml" <<-EOF
		service: checkout
		metrics:
		  listen: "127.0.0.1:9999"
		  auth:
		    bearer_token_file: $D/token
		tracing:
		  sampling_ratio: 0.25
		  headers:
		    x-api-key: very-secret
		logging: {level: debug, format: json}
	EOF
	run "$OBS" config check "$D/ok.yaml"
	[ "$status" -eq 0 ]
	[[ $output == *"valid"* ]]
	[[ $output == *"metrics.listen"*"127.0.0.1:9999"*"# line 3"* ]]
	[[ $output == *"tracing.sampling_ratio"*"0.25"* ]]
	[[ $output == *"x-api-key: ***"* ]]
	[[ $output != *"very-secret"* ]]
	[[ $output != *"$TOKEN"* ]]

	printf 'metrics:\n  listen: 127.0.0.1:1\n  auth:\n    bearer_tokn_file: /x\n' >"$D/typo.yaml"
	run "$OBS" config check "$D/typo.yaml"
	[ "$status" -eq 1 ]
	[[ $output == *"typo.yaml:4: unknown key 'metrics.auth.bearer_tokn_file'"*"bearer_token_file"* ]]

	printf 'tracing:\n  endpoint: http://c:4318\n  sampling_ratio: 2\n' >"$D/ratio.yaml"
	run "$OBS" config check "$D/ratio.yaml"
	[ "$status" -eq 1 ]
	[[ $output == *"ratio.yaml:3: tracing.sampling_ratio: '2': expected a number from 0 to 1"* ]]

	printf 'metrics:\n  auth:\n    bearer_token_file: %s/missing\n' "$D" >"$D/missing.yaml"
	run "$OBS" config check "$D/missing.yaml"
	[ "$status" -eq 1 ]
	[[ $output == *"missing.yaml:3: metrics.auth.bearer_token_file: cannot read"*"No such file"* ]]

	printf 'metrics: {listen: [1\n' >"$D/syntax.yaml"
	run "$OBS" config check "$D/syntax.yaml"
	[ "$status" -eq 1 ]
	[[ $output == *"syntax.yaml:2: invalid YAML"* ]]

	run "$OBS" config check "$D/nonexistent.yaml"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot read config file"* ]]
	# environment values are judged too
	OBS_LOG_FORMAT=xml run "$OBS" config check "$D/ok.yaml"
	[ "$status" -eq 1 ]
	[[ $output == *"OBS_LOG_FORMAT=xml"* ]]
}

@test "a bad config file stops obs-run (125) and agent (1) before anything starts, naming key and line" {
	require_bpf
	printf 'cardinality:\n  max_series: lots\n' >"$D/bad.yaml"
	run "$OBS_RUN" --config "$D/bad.yaml" -- touch "$D/ran"
	[ "$status" -eq 125 ]
	[[ $output == *"bad.yaml:2: cardinality.max_series: 'lots'"* ]]
	[ ! -e "$D/ran" ]
	run "$OBS" agent --config "$D/bad.yaml"
	[ "$status" -eq 1 ]
	[[ $output == *"bad.yaml:2: cardinality.max_series"* ]]
}

@test "bearer token: 401 without or with a wrong token, 200 with it; health needs none; the token is never logged" {
	require_bpf
	MP=$(free_port)
	cat >"$D/obs.yaml" <<-EOF
		metrics:
		  listen: "127.0.0.1:$MP"
		  path: /prom
		  auth:
		    bearer_token_file: $D/token
	EOF
	obs_cfg_start "$D/obs.yaml" -- sleep 60
	wait_for ready "$MP"
	[ "$(code "http://127.0.0.1:$MP/prom")" = 401 ]
	curl -s -D "$D/h" -o /dev/null "http://127.0.0.1:$MP/prom"
	grep -qi '^WWW-Authenticate: Bearer realm="obs"' "$D/h"
	[ "$(code -H "Authorization: Bearer wrong" "http://127.0.0.1:$MP/prom")" = 401 ]
	[ "$(code -H "Authorization: Bearer ${TOKEN}x" "http://127.0.0.1:$MP/prom")" = 401 ]
	[ "$(code -H "Authorization: Bearer ${TOKEN%?}" "http://127.0.0.1:$MP/prom")" = 401 ]
	[ "$(code -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MP/prom")" = 200 ]
	curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MP/prom" >"$D/scrape"
	grep -q '^obs_build_info' "$D/scrape"
	# the refusals are counted
	grep -Eq '^obs_metrics_unauthorized_requests_total [1-9]' "$D/scrape"
	# /metrics is not there: the path moved
	[ "$(code -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MP/metrics")" = 404 ]
	# health: no credentials, nothing sensitive
	[ "$(code "http://127.0.0.1:$MP/healthz")" = 200 ]
	run curl -s "http://127.0.0.1:$MP/readyz"
	[ "$output" = '{"status":"ready"}' ]
	obs_stop
	grep -q 'metrics at http://127.0.0.1:'"$MP"'/prom (bearer token)' "$D/obs.err"
	grep -q 'metrics_unauthorized\|refused /prom from 127.0.0.1' "$D/obs.err"
	run ! grep -q "$TOKEN" "$D/obs.err" "$D/obs.out"
}

@test "TLS with basic auth and bearer: HTTPS only, either credential opens, curl verifies the certificate" {
	require_bpf
	require_cmd openssl
	make_tls
	MP=$(free_port)
	echo 'pa ss:word' >"$D/pw"
	cat >"$D/obs.yaml" <<-EOF
		metrics:
		  listen: "127.0.0.1:$MP"
		  auth:
		    bearer_token_file: $D/token
		    basic_auth:
		      username: prometheus
		      password_file: $D/pw
		  tls:
		    cert_file: $D/tls.crt
		    key_file: $D/tls.key
	EOF
	SCHEME=https obs_cfg_start "$D/obs.yaml" -- sleep 60
	U=https://127.0.0.1:$MP/metrics
	[ "$(curl -s --cacert "$D/ca.crt" -o /dev/null -w '%{http_code}' "$U")" = 401 ]
	[ "$(curl -s --cacert "$D/ca.crt" -u 'prometheus:pa ss:word' -o /dev/null -w '%{http_code}' "$U")" = 200 ]
	[ "$(curl -s --cacert "$D/ca.crt" -u 'prometheus:wrong' -o /dev/null -w '%{http_code}' "$U")" = 401 ]
	[ "$(curl -s --cacert "$D/ca.crt" -u 'admin:pa ss:word' -o /dev/null -w '%{http_code}' "$U")" = 401 ]
	[ "$(curl -s --cacert "$D/ca.crt" -H "Authorization: Bearer $TOKEN" -o /dev/null -w '%{http_code}' "$U")" = 200 ]
	# the certificate verifies against its CA (no -k)
	curl -fsS --cacert "$D/ca.crt" -H "Authorization: Bearer $TOKEN" "$U" | grep -q '^obs_build_info'
	# plain HTTP on the TLS port gets no metrics
	run curl -s -m 5 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MP/metrics"
	[[ $output != *obs_build_info* ]]
	[ "$(curl -s --cacert "$D/ca.crt" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$MP/readyz")" = 200 ]
	# TLS 1.2 and 1.3 only, whatever GnuTLS's defaults: an older client
	# (one that would settle for TLS 1.1) fails its handshake
	run openssl s_client -connect "127.0.0.1:$MP" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null
	[ "$status" -ne 0 ]
	openssl s_client -connect "127.0.0.1:$MP" -tls1_2 </dev/null 2>&1 | grep -q '^New, TLSv1.2,'
	openssl s_client -connect "127.0.0.1:$MP" -tls1_3 </dev/null 2>&1 | grep -q '^New, TLSv1.3,'
}

@test "metrics endpoint: one address holds at most 8 connections; scrapers from other addresses still get in" {
	require_bpf
	MP=$(free_port)
	obs_start "$MP" -- sleep 60
	# a client without credentials parks 8 idle connections
	"$PY" - "$MP" >"$D/hold.out" 2>&1 <<-'EOF' &
		import socket, sys, time
		held = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(8)]
		print("holding", len(held), flush=True)
		time.sleep(20)
	EOF
	local HOLD=$!
	wait_for grep -q "holding 8" "$D/hold.out"
	sleep 0.5
	# its ninth is turned away; a scraper on another address is served
	run curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MP/metrics"
	echo "from 127.0.0.1: $output"
	[ "$output" != 200 ]
	[ "$(curl -s -m 5 --interface 127.0.0.2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MP/metrics")" = 200 ]
	kill "$HOLD"
	wait "$HOLD" || true
	wait_for curl -fsS -o /dev/null "http://127.0.0.1:$MP/metrics"
}

@test "TLS key that does not match, or a non-PEM file: clear error, exit 125" {
	require_bpf
	make_tls
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=other" \
		-keyout "$D/other.key" -out "$D/other.crt" 2>/dev/null
	printf 'metrics:\n  listen: "127.0.0.1:0"\n  tls:\n    cert_file: %s\n    key_file: %s\n' \
		"$D/tls.crt" "$D/other.key" >"$D/mismatch.yaml"
	run "$OBS_RUN" --config "$D/mismatch.yaml" -- true
	[ "$status" -eq 125 ]
	[[ $output == *"the TLS key does not match the certificate"* ]]
	echo "not a certificate" >"$D/junk.crt"
	printf 'metrics:\n  listen: "127.0.0.1:0"\n  tls:\n    cert_file: %s\n    key_file: %s\n' \
		"$D/junk.crt" "$D/tls.key" >"$D/junk.yaml"
	run "$OBS_RUN" --config "$D/junk.yaml" -- true
	[ "$status" -eq 125 ]
	[[ $output == *"junk.crt is not a PEM file"* ]]
}

@test "layering: the environment overrides the file, flags override both" {
	require_bpf
	local pf pe pflag
	pf=$(free_port)
	pe=$(free_port)
	pflag=$(free_port)
	printf 'metrics:\n  listen: "127.0.0.1:%s"\nlogging:\n  level: error\n' "$pf" >"$D/obs.yaml"
	# file alone
	MP=$pf obs_cfg_start "$D/obs.yaml" -- sleep 30
	wait_for ready "$pf"
	obs_stop
	run ! grep -q 'metrics at' "$D/obs.err" # logging.level: error from the file
	# environment over the file
	OBS_METRICS_ADDR=127.0.0.1:$pe OBS_LOG=info MP=$pe obs_cfg_start "$D/obs.yaml" -- sleep 30
	wait_for ready "$pe"
	run ! listening "$pf"
	obs_stop
	grep -q "metrics at http://127.0.0.1:$pe/metrics" "$D/obs.err"
	# a flag over both
	OBS_METRICS_ADDR=127.0.0.1:$pe MP=$pflag obs_cfg_start "$D/obs.yaml" \
		--metrics-addr "127.0.0.1:$pflag" --log-level info -- sleep 30
	wait_for ready "$pflag"
	run ! listening "$pe"
	grep -q "metrics at http://127.0.0.1:$pflag/metrics" "$D/obs.err"
}

@test "SIGHUP: a rotated token, log level and routes apply at once; listen changes are reported; a bad file changes nothing" {
	require_bpf
	MP=$(free_port)
	SP=$(free_port)
	cat >"$D/obs.yaml" <<-EOF
		metrics:
		  listen: "127.0.0.1:$MP"
		  auth:
		    bearer_token_file: $D/token
		logging:
		  level: warn
		routes:
		  - /old/{id}
	EOF
	obs_cfg_start "$D/obs.yaml" --spans-file "$D/spans.jsonl" -- \
		sh -c 'trap "" HUP; exec "$0" "$@"' "$PY" "$TOP/tests/e2e/echo_server.py" "$SP"
	wait_for listening "$SP"
	curl -fsS "http://127.0.0.1:$SP/new/123" >/dev/null
	[ "$(code -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MP/metrics")" = 200 ]
	# rotate the token, switch routes and log level, move the listener
	echo "rotated-$RANDOM" >"$D/token"
	NEW=$(cat "$D/token")
	sed -i "s/level: warn/level: info/; s|/old/{id}|/new/{id}|; s/127.0.0.1:$MP/127.0.0.1:1/" "$D/obs.yaml"
	kill -HUP "$OBS_PID"
	wait_for grep -q 'reloaded' "$D/obs.err"
	grep -q 'reloaded .*obs.yaml: applied.*logging.*metrics.auth.*routes' "$D/obs.err"
	grep -q 'metrics.listen changed but cannot change while obs runs: restart obs' "$D/obs.err"
	[ "$(code -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$MP/metrics")" = 401 ]
	[ "$(code -H "Authorization: Bearer $NEW" "http://127.0.0.1:$MP/metrics")" = 200 ]
	# the new route pattern names requests from now on
	curl -fsS "http://127.0.0.1:$SP/new/456" >/dev/null
	wait_for sh -c "curl -fsS -H 'Authorization: Bearer $NEW' http://127.0.0.1:$MP/metrics | grep -q 'http_route=\"/new/{id}\"'"
	# a broken file: an error with its line, the running settings stay
	printf 'logging:\n  level: [\n' >"$D/obs.yaml"
	kill -HUP "$OBS_PID"
	wait_for grep -q 'config_invalid\|keeping the running settings' "$D/obs.err"
	grep -q 'obs.yaml:3: invalid YAML.*keeping the running settings' "$D/obs.err"
	[ "$(code -H "Authorization: Bearer $NEW" "http://127.0.0.1:$MP/metrics")" = 200 ]
}

# served_serial: the serial number of the certificate obs serves on $MP
served_serial() {
	openssl s_client -connect "127.0.0.1:$MP" </dev/null 2>/dev/null | openssl x509 -noout -serial
}

# not_after CERT: its expiry in Unix seconds
not_after() { date -d "$(openssl x509 -noout -enddate -in "$1" | cut -d= -f2)" +%s; }
# tls_metrics: the HTTPS endpoint's scrape (no credentials in these tests)
tls_metrics() { curl -fsS --cacert "$D/ca.crt" "https://127.0.0.1:$MP/metrics"; }

# renew_cert NAME: a new key and certificate from the same CA, as NAME.key
# and NAME.crt, each written beside and renamed over (as a Secret update is)
renew_cert() {
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$D/new.key" -out "$D/new.csr" 2>/dev/null
	openssl x509 -req -in "$D/new.csr" -CA "$D/ca.crt" -CAkey "$D/ca.key" \
		-CAcreateserial -days 365 -extfile "$D/san.ext" -out "$D/new.crt" 2>/dev/null
	mv "$D/new.key" "$D/$1.key"
	mv "$D/new.crt" "$D/$1.crt"
}

@test "SIGHUP: a renewed TLS certificate is served at once; new files apply; a pair that does not match changes nothing" {
	require_bpf
	require_cmd openssl
	make_tls
	MP=$(free_port)
	cat >"$D/obs.yaml" <<-EOF
		metrics:
		  listen: "127.0.0.1:$MP"
		  tls:
		    cert_file: $D/tls.crt
		    key_file: $D/tls.key
		logging:
		  level: info
	EOF
	# only SIGHUP reloads here: the periodic file check is the next test's
	OBS_DEBUG_TLS_CHECK_MS=3600000 SCHEME=https obs_cfg_start "$D/obs.yaml" -- \
		sh -c "trap '' HUP; touch $D/trapped; exec sleep 60"
	# CMD ignores the SIGHUPs obs-run passes on from here
	wait_for test -e "$D/trapped"
	grep -q 'TLS certificate: CN=127.0.0.1, expires 20[0-9-]*' "$D/obs.err"
	first=$(served_serial)
	[ -n "$first" ]
	# renewed in place, under the same file names
	renew_cert tls
	kill -HUP "$OBS_PID"
	wait_for grep -q 'now serving' "$D/obs.err"
	cat "$D/obs.err"; grep -q "reloaded .*obs.yaml: applied metrics.tls" "$D/obs.err"
	second=$(served_serial)
	[ -n "$second" ] && [ "$second" != "$first" ]
	[ "$second" = "$(openssl x509 -noout -serial -in "$D/tls.crt")" ]
	curl -fsS --cacert "$D/ca.crt" "https://127.0.0.1:$MP/metrics" | grep -q '^obs_build_info'
	# an unchanged pair is not reloaded
	kill -HUP "$OBS_PID"
	wait_for sh -c "[ \$(grep -c 'reloaded' '$D/obs.err') -eq 2 ]"
	grep 'reloaded' "$D/obs.err" | tail -1 | grep -q 'applied metrics.auth$'
	# a key that is not the certificate's: an error, the running pair stays
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=other" \
		-keyout "$D/other.key" -out "$D/other.crt" 2>/dev/null
	cp "$D/other.key" "$D/tls.key"
	kill -HUP "$OBS_PID"
	wait_for grep -q 'key does not match the certificate' "$D/obs.err"
	grep -q 'key does not match the certificate (.*tls.crt, .*tls.key); keeping the running settings' "$D/obs.err"
	[ "$(served_serial)" = "$second" ]
	curl -fsS --cacert "$D/ca.crt" "https://127.0.0.1:$MP/healthz" >/dev/null
	tls_metrics | grep -qx 'obs_tls_reloads_total{result="failed"} 1'
	tls_metrics | grep -qx "obs_tls_certificate_not_after_timestamp_seconds $(not_after "$D/tls.crt")"
	# other file names in the config apply too
	renew_cert next
	sed -i "s|$D/tls.crt|$D/next.crt|; s|$D/tls.key|$D/next.key|" "$D/obs.yaml"
	kill -HUP "$OBS_PID"
	wait_for sh -c "[ \$(grep -c 'now serving' '$D/obs.err') -eq 2 ]"
	[ "$(served_serial)" = "$(openssl x509 -noout -serial -in "$D/next.crt")" ]
	run ! grep -q 'metrics.tls changed but cannot change' "$D/obs.err"
	# turning TLS off needs a restart, and says so
	sed -i '/tls:/,/key_file/d' "$D/obs.yaml"
	kill -HUP "$OBS_PID"
	wait_for grep -q 'metrics.tls changed but cannot change while obs runs' "$D/obs.err"
	curl -fsS --cacert "$D/ca.crt" "https://127.0.0.1:$MP/healthz" >/dev/null
}

@test "a certificate renewed on disk is served without a signal; a half-written pair is reported once and the running one kept" {
	require_bpf
	require_cmd openssl
	make_tls
	MP=$(free_port)
	printf 'metrics:\n  listen: "127.0.0.1:%s"\n  tls:\n    cert_file: %s\n    key_file: %s\n' \
		"$MP" "$D/live/tls.crt" "$D/live/tls.key" >"$D/obs.yaml"
	# a Kubernetes Secret volume: the files are symlinks into a directory
	# that an update swaps for another
	mkdir -p "$D/v1" "$D/live"
	cp "$D/tls.crt" "$D/tls.key" "$D/v1/"
	ln -s "$D/v1" "$D/data"
	ln -s "$D/data/tls.crt" "$D/live/tls.crt"
	ln -s "$D/data/tls.key" "$D/live/tls.key"
	OBS_DEBUG_TLS_CHECK_MS=200 SCHEME=https obs_cfg_start "$D/obs.yaml" -- sleep 60
	first=$(served_serial)
	[ -n "$first" ]
	renew_cert v2
	mkdir "$D/v2"
	mv "$D/v2.crt" "$D/v2/tls.crt"
	mv "$D/v2.key" "$D/v2/tls.key"
	ln -sfn "$D/v2" "$D/data.new" && mv -T "$D/data.new" "$D/data"
	wait_for grep -q 'the files changed; now serving CN=127.0.0.1' "$D/obs.err"
	[ "$(served_serial)" = "$(openssl x509 -noout -serial -in "$D/v2/tls.crt")" ]
	curl -fsS --cacert "$D/ca.crt" "https://127.0.0.1:$MP/metrics" | grep -q '^obs_build_info'
	# a writer that replaces the certificate first and the key later (each
	# file whole: renamed into place)
	renew_cert v3
	cp "$D/v3.crt" "$D/v2/.new" && mv "$D/v2/.new" "$D/v2/tls.crt"
	wait_for grep -q 'tls_reload_failed\|still serving the running' "$D/obs.err"
	grep -q 'tls.key changed, but the TLS key does not match the certificate; still serving the running certificate' "$D/obs.err"
	sleep 1 # several checks: the same half-written pair is reported once
	[ "$(grep -c 'still serving the running' "$D/obs.err")" = 1 ]
	curl -fsS --cacert "$D/ca.crt" "https://127.0.0.1:$MP/healthz" >/dev/null
	cp "$D/v3.key" "$D/v2/.new" && mv "$D/v2/.new" "$D/v2/tls.key"
	wait_for sh -c "[ \$(grep -c 'the files changed; now serving' '$D/obs.err') -eq 2 ]"
	[ "$(served_serial)" = "$(openssl x509 -noout -serial -in "$D/v3.crt")" ]
	# what an expiry alert reads, and the renewals counted
	tls_metrics >"$D/m"
	grep -qx "obs_tls_certificate_not_after_timestamp_seconds $(not_after "$D/v3.crt")" "$D/m"
	grep -qx 'obs_tls_reloads_total{result="applied"} 2' "$D/m"
	grep -qx 'obs_tls_reloads_total{result="failed"} 1' "$D/m"
}

@test "SIGHUP is also passed on to CMD (obs-run stays a transparent wrapper)" {
	require_bpf
	MP=$(free_port)
	printf 'metrics:\n  listen: "127.0.0.1:%s"\n' "$MP" >"$D/obs.yaml"
	obs_cfg_start "$D/obs.yaml" -- sh -c "trap 'echo got-hup; exit 9' HUP; touch $D/trapped; while :; do sleep 0.1; done"
	wait_for test -e "$D/trapped"
	kill -HUP "$OBS_PID"
	local st=0
	wait "$OBS_PID" || st=$?
	OBS_PID=
	[ "$st" -eq 9 ]
	grep -q got-hup "$D/obs.out"
	grep -q 'reloaded' "$D/obs.err"
}

@test "JSON logs: one object per line with timestamp, level, service, msg; errors carry error_code; lost spans carry trace_id and span_id" {
	require_bpf
	MP=$(free_port)
	SP=$(free_port)
	DEAD=$(free_port) # nothing listens: every export fails
	printf 'metrics:\n  listen: "127.0.0.1:%s"\nlogging:\n  format: json\ntracing:\n  endpoint: http://127.0.0.1:%s\n  timeout: 200ms\n' \
		"$MP" "$DEAD" >"$D/obs.yaml"
	OTEL_BSP_SCHEDULE_DELAY=50 obs_cfg_start "$D/obs.yaml" -- \
		"$PY" "$TOP/tests/e2e/echo_server.py" "$SP"
	wait_for listening "$SP"
	curl -fsS -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
		"http://127.0.0.1:$SP/x" >/dev/null
	# the exporter retries (1 s, 2 s, ...) and then gives up; a stop ends it sooner
	sleep 2
	obs_stop
	"$PY" - "$D/obs.err" <<-'EOF'
		import json, sys
		lines = [l for l in open(sys.argv[1]) if l.strip()]
		summary = [i for i, l in enumerate(lines) if not l.startswith("{")]
		# the exit summary is for humans; every log line before it is JSON
		logs = lines[:summary[0]] if summary else lines
		assert logs, "no log lines"
		for l in logs:
		    o = json.loads(l)
		    for k in ("timestamp", "level", "service", "msg"):
		        assert k in o, (k, l)
		    assert o["service"] == "obs", l
		    assert o["timestamp"].endswith("Z") and "T" in o["timestamp"], l
		    if o["level"] in ("warn", "error"):
		        assert o.get("error_code"), l
		lost = [json.loads(l) for l in logs if '"otlp_' in l]
		assert lost, "no OTLP failure logged"
		assert any(o.get("trace_id") == "4bf92f3577b34da6a3ce929d0e0e4736" and
		           len(o.get("span_id", "")) == 16 for o in lost), lost
	EOF
}

@test "a capability-granting obs binary that any user may run refuses to; one only a trusted group runs works" {
	require_bpf
	require_cmd setcap setpriv
	local T
	T=$(mktemp -d /tmp/obs-caps.XXXXXX)
	chmod 755 "$T"
	cp "$OBS" "$T/obs"
	setcap cap_bpf,cap_perfmon,cap_dac_read_search+ep "$T/obs"
	# world-executable: the kernel sets AT_SECURE for nobody, obs refuses
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/obs" check
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"refusing to run"*"chmod 0750"* ]]
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/obs" run -- true
	[ "$status" -eq 125 ]
	[[ $output == *"refusing to run"* ]]
	# root:nogroup 0750 (setcap again: chown clears file capabilities)
	chown root:nogroup "$T/obs"
	chmod 0750 "$T/obs"
	setcap cap_bpf,cap_perfmon,cap_dac_read_search+ep "$T/obs"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/obs" check
	echo "$output"
	rm -rf "$T"
	[[ $output != *"refusing to run"* ]]
	[[ $output == *"privileges"* ]]
}

@test "least privilege: after attach every obs-run thread is nobody with only CAP_KILL; metrics still flow; CMD keeps its own" {
	require_bpf
	MP=$(free_port)
	SP=$(free_port)
	obs_start "$MP" -- "$PY" "$TOP/tests/e2e/echo_server.py" "$SP"
	wait_for listening "$SP"
	grep -q 'capabilities: dropped all but CAP_KILL (to forward signals to CMD); running as nobody' "$BATS_TEST_TMPDIR/obs.err"
	# the user was asked of getent in a child: no NSS module loaded here
	# (getpwnam("obs"), missing from /etc/passwd, loads libnss_systemd)
	run ! grep -q libnss_ /proc/"$OBS_PID"/maps
	for st in /proc/"$OBS_PID"/task/*/status; do
		[ "$(awk '/^CapEff/ {print $2}' "$st")" = 0000000000000020 ]
		[ "$(awk '/^CapPrm/ {print $2}' "$st")" = 0000000000000020 ]
		[ "$(awk '/^CapBnd/ {print $2}' "$st")" = 0000000000000020 ]
		[ "$(awk '/^NoNewPrivs/ {print $2}' "$st")" = 1 ]
		[ "$(awk '/^Uid/ {print $2, $3, $4, $5}' "$st")" = "65534 65534 65534 65534" ]
		[ "$(awk '/^Gid/ {print $2, $3, $4, $5}' "$st")" = "65534 65534 65534 65534" ]
		[ "$(awk '/^Groups/ {print $2}' "$st")" = "" ]
	done
	[ "$(ls /proc/"$OBS_PID"/task | wc -l)" -ge 3 ] # the HTTP and span threads too
	# the traced service is untouched: it has what it was started with
	child=$(pgrep -P "$OBS_PID" | head -1)
	[ "$(awk '/^CapEff/ {print $2}' /proc/"$child"/status)" = "$(awk '/^CapEff/ {print $2}' /proc/self/status)" ]
	# BPF maps and the span ring still read after the drop
	curl -fsS "http://127.0.0.1:$SP/after-drop" >/dev/null
	wait_scrape "$MP" 'http_server_request_duration_seconds_count\{.*http_route="/after-drop".* 1$'
	wait_scrape "$MP" 'obs_syscall_duration_seconds_count\{syscall="accept4"'
	# signals still reach CMD: python dies of the SIGTERM, and obs-run
	# exits as a shell would (128 + 15)
	kill -TERM "$OBS_PID"
	local st=0
	wait "$OBS_PID" || st=$?
	OBS_PID=
	[ "$st" -eq 143 ]
}

@test "least privilege: the agent keeps no capability and runs as nobody, and still labels another user's new process by its OTEL_SERVICE_NAME" {
	require_bpf
	MP=$(free_port)
	"$OBS" agent --metrics-addr "127.0.0.1:$MP" --no-preload >"$D/agent.out" 2>"$D/agent.err" &
	AGENT=$!
	wait_for ready "$MP"
	grep -q 'capabilities: all dropped; running as nobody' "$D/agent.err"
	for st in /proc/"$AGENT"/task/*/status; do
		[ "$(awk '/^CapEff/ {print $2}' "$st")" = 0000000000000000 ]
		[ "$(awk '/^CapPrm/ {print $2}' "$st")" = 0000000000000000 ]
		[ "$(awk '/^Uid/ {print $2, $3, $4, $5}' "$st")" = "65534 65534 65534 65534" ]
	done
	# started after the drop by a user the agent is not (uid 12345: its
	# /proc/PID/environ and exe are closed to the agent), the variable
	# last behind 60 others, long ones among them (up to 300 bytes): the
	# name is read in the kernel at exec, from the new image's environment
	local i fill=()
	for i in $(seq 60); do
		fill+=("OBS_TEST_FILL_$i=$(printf '%*s' $((i * 5)) '' | tr ' ' x)")
	done
	env -i PATH=/usr/bin:/bin "${fill[@]}" OTEL_SERVICE_NAME=after-drop-svc \
		setpriv --reuid=12345 --regid=12345 --clear-groups /usr/bin/python3 -c 'import os, time
for _ in range(200): os.getppid()
time.sleep(3)'
	wait_scrape "$MP" 'obs_syscall_duration_seconds_count\{syscall="getppid",service="after-drop-svc"'
	# without the variable: named by the executable file exec ran (the
	# kernel's word, as /proc/PID/exe would say: python3 is a link), once
	# it has lived services.short_lived (until then it is its shell's)
	env -i PATH=/usr/bin:/bin "${fill[@]}" \
		setpriv --reuid=12345 --regid=12345 --clear-groups /usr/bin/python3 -c 'import os, time
t = time.time() + 12
while time.time() < t: os.getpgrp(); time.sleep(0.01)' &
	local lived=$!
	wait_scrape "$MP" "obs_syscall_duration_seconds_count\\{syscall=\"getpgrp\",service=\"$(basename "$(readlink -f /usr/bin/python3)")\""
	kill "$lived" 2>/dev/null || true
}

@test "sampling: tracing.sampling_ratio from the file, then changed by SIGHUP, reaches the traced process" {
	require_bpf
	MP=$(free_port)
	SP=$(free_port)
	printf 'metrics:\n  listen: "127.0.0.1:%s"\ntracing:\n  sampling_ratio: 0\n' "$MP" >"$D/obs.yaml"
	OTEL_BSP_SCHEDULE_DELAY=50 obs_cfg_start "$D/obs.yaml" --spans-file "$D/spans.jsonl" -- \
		sh -c 'trap "" HUP; exec "$0" "$@"' "$PY" "$TOP/tests/e2e/echo_server.py" "$SP"
	wait_for listening "$SP"
	for i in 1 2 3 4 5; do curl -fsS "http://127.0.0.1:$SP/zero" >/dev/null; done
	wait_scrape "$MP" '^obs_spans_unsampled_total 5$'
	sleep 0.3
	run ! grep -q '"/zero"' "$D/spans.jsonl" 2>/dev/null
	sed -i 's/sampling_ratio: 0/sampling_ratio: 1/' "$D/obs.yaml"
	kill -HUP "$OBS_PID"
	wait_for grep -q 'applied.*tracing.sampling_ratio' "$D/obs.err"
	for i in 1 2 3; do curl -fsS "http://127.0.0.1:$SP/one" >/dev/null; done
	wait_for sh -c "[ \$(grep -c '\"url.path\":\"/one\"' '$D/spans.jsonl') -eq 3 ]"
	# the process's own OTEL_TRACES_SAMPLER wins over the file (environment over file)
	obs_stop
	OTEL_TRACES_SAMPLER=always_off OTEL_BSP_SCHEDULE_DELAY=50 obs_cfg_start "$D/obs.yaml" \
		--spans-file "$D/spans2.jsonl" -- "$PY" "$TOP/tests/e2e/echo_server.py" "$SP"
	wait_for listening "$SP"
	curl -fsS "http://127.0.0.1:$SP/env" >/dev/null
	wait_scrape "$MP" '^obs_spans_unsampled_total 1$'
}

@test "exemplars: a real Prometheus scrapes obs over HTTPS with a bearer token (the shipped config), loads the shipped rules, and stores exemplars linking to our spans" {
	require_bpf
	require_cmd prometheus openssl
	make_tls
	MP=$(free_port)
	SP=$(free_port)
	PP=$(free_port)
	cat >"$D/obs.yaml" <<-EOF
		metrics:
		  listen: "127.0.0.1:$MP"
		  auth:
		    bearer_token_file: $D/token
		  tls:
		    cert_file: $D/tls.crt
		    key_file: $D/tls.key
	EOF
	SCHEME=https OTEL_BSP_SCHEDULE_DELAY=50 obs_cfg_start "$D/obs.yaml" --service shop \
		--spans-file "$D/spans.jsonl" -- "$PY" "$TOP/tests/e2e/echo_server.py" "$SP"
	wait_for listening "$SP"
	for i in $(seq 20); do curl -fsS "http://127.0.0.1:$SP/items/$i" >/dev/null; done
	# the shipped files, with this test's target and credential paths
	mkdir -p "$D/prom"
	cp "$TOP"/deploy/prometheus/*.rules.yml "$D/prom/"
	sed -e "s|/etc/prometheus/obs-token|$D/token|" -e "s|/etc/prometheus/obs-ca.crt|$D/ca.crt|" \
		-e "s|obs.example:9464|127.0.0.1:$MP|" -e 's/scrape_interval: 15s/scrape_interval: 1s/' \
		"$TOP/deploy/prometheus/prometheus.yml" >"$D/prom/prometheus.yml"
	promtool check config "$D/prom/prometheus.yml"
	prometheus --config.file="$D/prom/prometheus.yml" --storage.tsdb.path="$D/prom/data" \
		--web.listen-address="127.0.0.1:$PP" --enable-feature=exemplar-storage \
		>"$D/prom.log" 2>&1 &
	PROM=$!
	api() { curl -fsS "http://127.0.0.1:$PP/api/v1/$1"; }
	up_is_1() { api 'query?query=up%7Bjob%3D%22obs%22%7D' | grep -q '"value":\[[0-9.]*,"1"\]'; }
	wait_for up_is_1
	api 'query?query=http_server_request_duration_seconds_count' | grep -q '"service":"shop"'
	# all shipped rule groups loaded and healthy
	api rules >"$D/rules.json"
	"$PY" - "$D/rules.json" <<-'EOF'
		import json, sys
		groups = json.load(open(sys.argv[1]))["data"]["groups"]
		names = {g["name"] for g in groups}
		assert {"obs-red-http", "obs-red-rpc", "obs-slo", "obs-self"} <= names, names
		bad = [r for g in groups for r in g["rules"] if r.get("health") not in ("ok", "unknown")]
		assert not bad, bad
	EOF
	# a healthy obs trips none of its own alerts: each expression is empty
	sleep 3 # rates need a few samples
	"$PY" - "$TOP/deploy/prometheus/obs-alerts.rules.yml" "$PP" <<-'EOF'
		import json, sys, urllib.parse, urllib.request, yaml
		for g in yaml.safe_load(open(sys.argv[1]))["groups"]:
		    for r in g["rules"]:
		        q = urllib.parse.quote(r["expr"])
		        res = json.load(urllib.request.urlopen(
		            f"http://127.0.0.1:{sys.argv[2]}/api/v1/query?query={q}"))["data"]["result"]
		        assert not res, (r["alert"], res)
		        # the certificate (a year) is healthy; under a 400-day bar the
		        # same expression finds it: the series reaches the rule
		        if r["alert"] == "ObsTLSCertificateExpiringSoon":
		            q = urllib.parse.quote(r["expr"].replace("14 * 86400", "400 * 86400"))
		            res = json.load(urllib.request.urlopen(
		                f"http://127.0.0.1:{sys.argv[2]}/api/v1/query?query={q}"))["data"]["result"]
		            assert len(res) == 1, res
	EOF
	# exemplars: trace ids Prometheus stored are spans obs exported
	local now start
	now=$(date +%s)
	start=$((now - 600))
	ex_ok() {
		api "query_exemplars?query=http_server_request_duration_seconds_bucket&start=$start&end=$(($(date +%s) + 60))" >"$D/ex.json"
		"$PY" - "$D/ex.json" "$D/spans.jsonl" <<-'EOF'
			import json, sys
			data = json.load(open(sys.argv[1]))["data"]
			tids = {e["labels"]["trace_id"] for s in data for e in s["exemplars"]}
			spans = {json.loads(l)["trace_id"] for l in open(sys.argv[2])}
			assert tids and tids <= spans, (tids, len(spans))
		EOF
	}
	wait_for ex_ok
}

@test "agent spans: a workload that preloads the published shim, in its own pid namespace and a container's cgroup, gets metrics and spans under its service, container and pod; a restarted agent gets the region back" {
	require_bpf
	require_cmd unshare findmnt
	local MP SP CG2 CID PODUID CG
	MP=$(free_port)
	SP=$(free_port)
	CG2=$(findmnt -t cgroup2 -n -o TARGET | head -1)
	[ -n "$CG2" ]
	CID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	PODUID=$(cat /proc/sys/kernel/random/uuid)
	CG=$CG2/kubepods.slice/kubepods-pod${PODUID//-/_}.slice/cri-containerd-$CID.scope
	mkdir -p "$CG"
	CLEAN_CG=$CG
	agent_shim_start
	grep -q "LD_PRELOAD=$SHIMD/run-obs/libobs_preload.so (regions handed to $SHIMD/run-obs/obs.sock)" "$D/agent.err"
	# the socket is open to every user (the kernel names each caller, and a
	# caller only ever gets its own region); nothing else there is
	# writable by anyone but root, nor readable spans
	[ "$(stat -c %a "$SHIMD/run-obs/obs.sock")" = 666 ]
	[ "$(stat -c %F "$SHIMD/run-obs/obs.sock")" = socket ]
	[ -z "$(find "$SHIMD/run-obs" -perm /022 ! -type s)" ]
	[ "$(stat -c %a "$D/spans.jsonl")" = 600 ]
	# the runtime helpers are published beside the shim, and a node
	# workload that preloads it loads its helper with no other setting
	[ -f "$SHIMD/run-obs/obs-helpers/node/obs-context.js" ]
	[ -f "$SHIMD/run-obs/obs-helpers/python/sitecustomize.py" ]
	[ -f "$SHIMD/run-obs/obs-helpers/python/_obs_context.py" ]
	run env LD_PRELOAD="$SHIMD/run-obs/libobs_preload.so" node -e 'console.log(process.env.NODE_OPTIONS)'
	[[ "$output" == *"--require \"$SHIMD/run-obs/obs-helpers/node/obs-context.js\""* ]]
	# the "container": its cgroup, its own pid namespace, its own user
	sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$CG" \
		env OTEL_SERVICE_NAME=checkout LD_PRELOAD="$SHIMD/run-obs/libobs_preload.so" \
		unshare --pid --fork --mount-proc setpriv --reuid=65534 --regid=65534 --clear-groups \
		/usr/bin/python3 "$TOP/tests/e2e/echo_server.py" "$SP" >"$D/svc.out" 2>&1 &
	SRV=$!
	wait_for listening "$SP"
	curl -fsS "http://127.0.0.1:$SP/orders/42" >/dev/null
	wait_scrape "$MP" "^http_server_request_duration_seconds_count\{http_request_method=\"GET\",http_route=\"/orders/\{id\}\",http_response_status_code=\"200\",service=\"checkout\",container_id=\"$CID\",pod_uid=\"$PODUID\"\} 1$" || {
		scrape "$MP" | grep '^http_server_request_duration_seconds_count'
		cat "$D/agent.err" "$D/svc.out"
		return 1
	}
	host_pid=$(pgrep -f "echo_server.py $SP" | while read -r p; do
		[ "$(awk '/^NSpid/ {print NF}' /proc/$p/status)" = 3 ] && echo "$p"; done | head -1)
	[ -n "$host_pid" ]
	check_span() { # PATH
		"$PY" - "$D/spans.jsonl" "$1" "$CID" "$PODUID" "$host_pid" <<-'EOF'
			import json, sys
			path, cid, pod, pid = sys.argv[2:6]
			spans = [json.loads(l) for l in open(sys.argv[1])]
			s = [s for s in spans if s["attributes"].get("url.path") == path]
			assert len(s) == 1, spans
			r = s[0]["resource"]
			assert r["service.name"] == "checkout", r
			assert r["container.id"] == cid and r["k8s.pod.uid"] == pod, r
			assert r["process.pid"] == int(pid), (r, pid)   # the node's pid, not 1
		EOF
	}
	wait_for check_span /orders/42
	# restart the agent: the workload is not restarted; its shim hands the
	# same region to the new agent, which counts on from where it was
	bg_stop "$AGENT"
	OTEL_BSP_SCHEDULE_DELAY=50 "$OBS" agent --config "$D/agent.yaml" >"$D/agent.out" 2>"$D/agent2.err" &
	AGENT=$!
	wait_for ready "$MP"
	# while the workload is idle: its event loop wakes, the shim hands over
	wait_scrape "$MP" "^http_server_request_duration_seconds_count\{http_request_method=\"GET\",http_route=\"/orders/\{id\}\",http_response_status_code=\"200\",service=\"checkout\",container_id=\"$CID\",pod_uid=\"$PODUID\"\} 1$"
	curl -fsS "http://127.0.0.1:$SP/orders/43" >/dev/null
	wait_for check_span /orders/43
	wait_scrape "$MP" "^http_server_request_duration_seconds_count\{http_request_method=\"GET\",http_route=\"/orders/\{id\}\",http_response_status_code=\"200\",service=\"checkout\",container_id=\"$CID\",pod_uid=\"$PODUID\"\} 2$"
}

@test "agent: a process writes only its own data: a region claiming another pid is labelled with its writer; unsealed, short, foreign and empty handovers are refused and said" {
	require_bpf
	local MP SP SOCK victim forger
	MP=$(free_port)
	SP=$(free_port)
	agent_shim_start
	SOCK=$SHIMD/run-obs/obs.sock
	# the victim: a real service with the shim, one request
	OTEL_SERVICE_NAME=victim LD_PRELOAD="$SHIMD/run-obs/libobs_preload.so" \
		"$PY" "$TOP/tests/e2e/echo_server.py" "$SP" >"$D/svc.out" 2>&1 &
	SRV=$!
	wait_for listening "$SP"
	curl -fsS "http://127.0.0.1:$SP/mine" >/dev/null
	wait_scrape "$MP" '^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="/mine",http_response_status_code="200",service="victim",container_id="",pod_uid=""\} 1$'
	victim=$(pgrep -f "echo_server.py $SP" | head -1)
	# the forger, another user, claims the victim's pid in its region's
	# header and records; the kernel says who it is
	mkfifo "$D/hold"
	OTEL_SERVICE_NAME=forger setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$TOP/build/tests/forge_region" "$SOCK" claim "$victim" <"$D/hold" >"$D/forge.out" 2>&1 &
	local FORGE=$!
	exec 9>"$D/hold"
	wait_for grep -q "handed over (claim) as pid" "$D/forge.out"
	forger=$(sed -n 's/.* as pid \([0-9]*\) .*/\1/p' "$D/forge.out")
	stolen_span() {
		"$PY" - "$D/spans.jsonl" "$forger" "$victim" <<-'EOF'
			import json, sys
			spans = [json.loads(l) for l in open(sys.argv[1])]
			s = [s for s in spans if s["attributes"].get("url.path") == "/stolen"]
			assert len(s) == 1, spans
			r = s[0]["resource"]
			assert r["process.pid"] == int(sys.argv[2]), (r, sys.argv[2:])
			assert r["service.name"] == "forger", r
		EOF
	}
	wait_for stolen_span
	scrape "$MP" >"$D/m"
	grep -q '^http_server_request_duration_seconds_count{http_request_method="GET",http_route="/stolen",http_response_status_code="200",service="forger",container_id="",pod_uid=""} 1$' "$D/m"
	# the victim's series is its own, untouched
	[ "$(grep -c 'service="victim"' "$D/m" | tr -d ' ')" -ge 1 ]
	run ! grep -q 'http_route="/stolen".*service="victim"' "$D/m"
	exec 9>&-
	wait "$FORGE"
	# regions that break the rules: refused, each said with its reason
	for mode in unsealed short hello nofd; do
		run "$TOP/build/tests/forge_region" "$SOCK" "$mode" "$victim" </dev/null
		[ "$status" = 0 ]
	done
	wait_scrape "$MP" '^obs_shim_regions_refused_total 4$'
	grep -q 'refused the region of pid [0-9]*: region not sealed, or malformed' "$D/agent.err"
	grep -q 'refused the region of pid [0-9]*: no region sent (not an obs shim?)' "$D/agent.err"
	[ "$(grep -c 'refused the region of pid' "$D/agent.err")" = 4 ]
	# and the victim still counts, its own requests only
	curl -fsS "http://127.0.0.1:$SP/mine" >/dev/null
	wait_scrape "$MP" '^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="/mine",http_response_status_code="200",service="victim",container_id="",pod_uid=""\} 2$'
}

@test "agent: regions handed over while /metrics is scraped without pause never stall it (a lock-order deadlock, seen once in CI)" {
	require_bpf
	local MP SP SOCK i p
	MP=$(free_port)
	SP=$(free_port)
	agent_shim_start
	SOCK=$SHIMD/run-obs/obs.sock
	# three scrapers without pause, each scrape bounded: one that takes
	# longer than 5 s is a stall, and is written down
	: >"$D/stalls"
	for i in 1 2 3; do
		(while [ ! -e "$D/stop" ]; do
			curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$MP/metrics" ||
				echo "scrape failed" >>"$D/stalls"
		done) &
		echo $! >>"$D/scrapers"
	done
	# meanwhile 300 processes hand a region over, 4 at a time, and go
	local batch=()
	for i in $(seq 300); do
		"$TOP/build/tests/forge_region" "$SOCK" claim 1 </dev/null >/dev/null &
		batch+=($!)
		if [ ${#batch[@]} = 4 ]; then
			wait "${batch[@]}"
			batch=()
		fi
	done
	[ ${#batch[@]} = 0 ] || wait "${batch[@]}" # (wait alone would wait for the scrapers)
	touch "$D/stop"
	while read -r p; do wait "$p" 2>/dev/null || true; done <"$D/scrapers"
	[ ! -s "$D/stalls" ] || { cat "$D/stalls"; return 1; }
	# every handover was taken (none refused), and let go when its
	# process left
	scrape "$MP" >"$D/m"
	grep -q '^obs_shim_regions_refused_total 0$' "$D/m"
	wait_scrape "$MP" '^obs_shim_regions_held 0$'
	# and the agent still follows a real service
	OTEL_SERVICE_NAME=after LD_PRELOAD="$SHIMD/run-obs/libobs_preload.so" \
		"$PY" "$TOP/tests/e2e/echo_server.py" "$SP" >"$D/svc.out" 2>&1 &
	SRV=$!
	wait_for listening "$SP"
	curl -fsS "http://127.0.0.1:$SP/ok" >/dev/null
	wait_scrape "$MP" '^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="/ok",http_response_status_code="200",service="after",container_id="",pod_uid=""\} 1$'
	wait_scrape "$MP" '^obs_shim_regions_held 1$'
}

@test "the agent refuses a shim directory that others can write, or a symlink in its place" {
	require_bpf
	MP=$(free_port)
	SHIMD=$(mktemp -d /run/obs-test.XXXXXX)
	chmod 755 "$SHIMD"
	mkdir -m 777 "$SHIMD/open"
	ln -s "$SHIMD/open" "$SHIMD/link"
	for d in open link; do
		printf 'metrics:\n  listen: "127.0.0.1:%s"\ntracing:\n  shim_dir: %s\n' "$MP" "$SHIMD/$d" >"$D/agent.yaml"
		run timeout 30 "$OBS" agent --config "$D/agent.yaml"
		echo "$output"
		[ "$status" -eq 1 ]
		[[ $output == *"$SHIMD/$d is not a directory of uid 0 writable only by it"* ]]
		[ ! -e "$SHIMD/open/libobs_preload.so" ]
	done
	[[ $output == *"found a symlink"* ]]
}

@test "agent SIGHUP: basic auth rotated, then removed (the bearer token alone opens), sampling changed; a bad file changes nothing" {
	require_bpf
	MP=$(free_port)
	echo 'first-pass' >"$D/pw"
	cat >"$D/agent.yaml" <<-EOF
		metrics:
		  listen: "127.0.0.1:$MP"
		  auth:
		    bearer_token_file: $D/token
		    basic_auth:
		      username: prom
		      password_file: $D/pw
		tracing:
		  sampling_ratio: 0.5
	EOF
	"$OBS" agent --no-preload --config "$D/agent.yaml" >"$D/agent.out" 2>"$D/agent.err" &
	AGENT=$!
	wait_for curl -fsS "http://127.0.0.1:$MP/readyz"
	U=http://127.0.0.1:$MP/metrics
	[ "$(code -u prom:first-pass "$U")" = 200 ]
	# rotate the password: the old one is refused, the new one opens
	echo 'second-pass' >"$D/pw"
	kill -HUP "$AGENT"
	wait_for grep -q 'reloaded' "$D/agent.err"
	[ "$(code -u prom:first-pass "$U")" = 401 ]
	[ "$(code -u prom:second-pass "$U")" = 200 ]
	[ "$(code -H "Authorization: Bearer $TOKEN" "$U")" = 200 ]
	# remove basic auth from the file: no password opens any more
	sed -i '/basic_auth:/,$d' "$D/agent.yaml"
	printf 'tracing:\n  sampling_ratio: 0.25\n' >>"$D/agent.yaml"
	kill -HUP "$AGENT"
	wait_for sh -c "[ \$(grep -c reloaded '$D/agent.err') -ge 2 ]"
	grep 'reloaded' "$D/agent.err" | tail -1 | grep -q 'applied metrics.auth tracing.sampling_ratio$'
	[ "$(code -u prom:second-pass "$U")" = 401 ]
	[ "$(code -H "Authorization: Bearer $TOKEN" "$U")" = 200 ]
	# a broken file: said, and the running settings stay
	printf 'metrics:\n  auth: [\n' >"$D/agent.yaml"
	kill -HUP "$AGENT"
	wait_for grep -q 'keeping the running settings' "$D/agent.err"
	[ "$(code -H "Authorization: Bearer $TOKEN" "$U")" = 200 ]
	kill -0 "$AGENT"
}

@test "routes from the config file name a service's very first requests (before its region is held)" {
	require_bpf
	local round
	for round in 1 2 3 4 5; do
		MP=$(free_port)
		SP=$(free_port)
		printf 'metrics:\n  listen: "127.0.0.1:%s"\nroutes:\n  - /users/{name}\n' "$MP" >"$D/obs.yaml"
		obs_cfg_start "$D/obs.yaml" -- "$PY" "$TOP/tests/e2e/echo_server.py" "$SP"
		wait_for listening "$SP"
		# at once, as a client that was waiting for the port would
		for u in alice bob carol; do curl -fsS -o /dev/null "http://127.0.0.1:$SP/users/$u"; done
		wait_for scrape_sum_ge "$MP" '^http_server_request_duration_seconds_count' 3
		scrape "$MP" >"$D/m"
		grep '^http_server_request_duration_seconds_count' "$D/m"
		[ "$(metric_sum "$D/m" '^http_server_request_duration_seconds_count\{.*http_route="/users/\{name\}"')" = 3 ]
		obs_stop
	done
}

@test "agent: its route patterns name a workload's very first requests (a routes file beside the shim), and a SIGHUP's new ones too" {
	require_bpf
	local round SP
	MP=$(free_port)
	agent_shim_start 'routes:' '  - /users/{name}'
	[ "$(cat "$SHIMD/run-obs/routes")" = "/users/{name}" ]
	[ "$(stat -c %a "$SHIMD/run-obs/routes")" = 644 ]
	for round in 1 2 3; do
		SP=$(free_port)
		LD_PRELOAD="$SHIMD/run-obs/libobs_preload.so" OTEL_SERVICE_NAME="first-$round" \
			"$PY" "$TOP/tests/e2e/echo_server.py" "$SP" >/dev/null 2>&1 &
		SRV=$!
		wait_for listening "$SP"
		for u in alice bob carol; do curl -fsS -o /dev/null "http://127.0.0.1:$SP/users/$u"; done
		wait_for scrape_sum_ge "$MP" "^http_server_request_duration_seconds_count\\{.*service=\"first-$round\"" 3
		scrape "$MP" >"$D/m"
		[ "$(metric_sum "$D/m" "^http_server_request_duration_seconds_count\\{.*http_route=\"/users/\\{name\\}\".*service=\"first-$round\"")" = 3 ]
		bg_stop "$SRV"
		SRV=
	done
	# a new pattern by SIGHUP: rewritten in place (the agent is no longer root)
	sed -i 's|/users/{name}|/u/{who}|' "$D/agent.yaml"
	kill -HUP "$AGENT"
	wait_for grep -q 'applied.*routes' "$D/agent.err"
	wait_for sh -c "[ \"\$(cat '$SHIMD/run-obs/routes')\" = '/u/{who}' ]"
	run ! grep -q routes_unpublished "$D/agent.err"
}

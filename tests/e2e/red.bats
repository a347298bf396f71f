#!/usr/bin/env bats
# RED counted where the request happens: nginx under obs-run, loaded by
# wrk. Every request nginx logged is in http_server_request_duration_seconds,
# whatever the sampling ratio and even while the collector is stopped; only
# sampled spans cross to the collector, and every span is accounted for.

load helpers

setup() {
	require_bpf
	require_cmd nginx wrk curl
}

teardown() {
	obs_stop
}

# red_start ARGS...: nginx (two workers) under obs-run ARGS, spans to a file.
red_start() {
	NGX=$BATS_TEST_TMPDIR/ngx
	NP=$(free_port)
	MP=$(free_port)
	SPANS=$BATS_TEST_TMPDIR/spans.jsonl
	sh "$TOP/scripts/nginx-conf.sh" "$NGX" "$NP"
	obs_start "$MP" --service web --spans-file "$SPANS" "$@" -- nginx -c "$NGX/nginx.conf" -p "$NGX"
	wait_for curl -fsS "http://127.0.0.1:$NP/"
}

served() { wc -l <"$NGX/logs/access.log"; }

m() { # the sum of a metric's series in a fresh scrape
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	metric_sum "$BATS_TEST_TMPDIR/m" "$1"
}

red_equals_served() { [ "$(m '^http_server_request_duration_seconds_count')" = "$(served)" ]; }

# every request's span: sampled and drained, not sampled, or lost (counted)
spans_accounted() {
	local n
	n=$(served)
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	[ $(($(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_received_total') +
		$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_unsampled_total') +
		$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_dropped_total\{reason="(ring_full|producer_stalled)"'))) = "$n" ]
}

# what was drained is exported or counted as dropped on the way out
spans_delivered() {
	scrape "$MP" >"$BATS_TEST_TMPDIR/m"
	[ $(($(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_exported_total') +
		$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_dropped_total\{reason="(queue_full|export_rejected|export_failed|partial_success)"'))) = \
		"$(metric_sum "$BATS_TEST_TMPDIR/m" '^obs_spans_received_total')" ]
}

# sampling RATIO: counts exact; the sampled share within 5 sigma of RATIO
sampling() {
	local ratio=$1 n s
	red_start --sample-ratio "$ratio"
	wrk -t1 -c8 -d2s "http://127.0.0.1:$NP/" >"$BATS_TEST_TMPDIR/wrk.out"
	wait_for red_equals_served
	wait_for spans_accounted
	wait_for spans_delivered
	n=$(served)
	[ "$n" -ge 1000 ] # enough load for the ratio to mean something
	s=$(m '^obs_spans_received_total')
	echo "served $n, sampled $s at $ratio"
	"$PY" -c "import math, sys; n, s, p = $n, $s, $ratio
sd = math.sqrt(n * p * (1 - p))
sys.exit(0 if abs(s - n * p) <= 5 * sd + 1 else 1)"
	# the sampled spans are the ones in the file (none lost here)
	grep '^obs_spans_dropped_total' "$BATS_TEST_TMPDIR/m" || true
	[ "$(m '^obs_spans_dropped_total')" = 0 ]
	wait_for eval '[ "$(wc -l <"$SPANS")" = "$s" ]'
}

@test "RED counts every request at 1% sampling; about 1% of spans reach the collector" {
	sampling 0.01
}

@test "RED counts every request at 10% sampling; about 10% of spans reach the collector" {
	sampling 0.1
}

@test "RED counts every request at 100% sampling; every span reaches the file" {
	sampling 1
	[ "$(m '^obs_spans_unsampled_total')" = 0 ]
}

@test "collector stopped (SIGSTOP) under load: nginx keeps serving, RED still counts every request, lost spans are counted" {
	red_start --sample-ratio 1
	wrk -t1 -c8 -d5s "http://127.0.0.1:$NP/" >"$BATS_TEST_TMPDIR/wrk.out" &
	local WRK=$! before during
	sleep 1
	kill -STOP "$OBS_PID"
	before=$(served)
	sleep 2
	during=$(($(served) - before))
	kill -CONT "$OBS_PID"
	wait "$WRK"
	echo "served while obs was stopped: $during"
	[ "$during" -ge 1000 ]
	wait_for red_equals_served
	wait_for spans_accounted
	# the rings filled while no one drained them: said, not silent
	[ "$(m '^obs_spans_dropped_total\{reason="ring_full"')" -gt 0 ]
}

# the pace thread's time slices so far (schedstat: one a wake-up, for a
# thread that sleeps between looks)
pace_slices() {
	local t
	for t in /proc/"$OBS_PID"/task/*; do
		[ "$(cat "$t/comm")" = obs-pace ] && awk '{print $3}' "$t/schedstat" && return
	done
	return 1
}

@test "the pace thread waits to be told while every ring is armed: a few looks a second, not one every 20 ms" {
	red_start --sample-ratio 1
	for _ in $(seq 20); do curl -fsS -o /dev/null "http://127.0.0.1:$NP/"; done
	wait_for spans_accounted
	sleep 1 # the drain's pace grows while nothing comes
	local a b
	a=$(pace_slices)
	sleep 3
	b=$(pace_slices)
	echo "obs-pace: $((b - a)) time slices in 3 s"
	# looks every 20 ms (an empty ring, before) would be 150; waits of
	# half the drain's pace (at most 100 ms) about 30
	[ $((b - a)) -le 60 ]
	# and load still finds it: at 100%, nothing dropped
	wrk -t1 -c8 -d2s "http://127.0.0.1:$NP/" >"$BATS_TEST_TMPDIR/wrk.out"
	wait_for red_equals_served
	wait_for spans_accounted
	[ "$(m '^obs_spans_dropped_total')" = 0 ]
}

#!/usr/bin/env bats
# --go-inject (inject.bpf.c, docs/design.md): the kernel inserts a
# traceparent into a followed Go program's outgoing net/http requests.
# Held to the app's bytes (a leaf hashes what arrives), to what OBI's users
# saw break (large bodies, an app's own traceparent, long heads, FIONREAD,
# TLS), and to the spans obs exports: the field names the exported client
# span, which is the child of the exported server span.

load helpers

setup() {
	require_bpf
	require_cmd go curl
	T=$BATS_TEST_TMPDIR
	(cd "$TOP/tests/e2e/go" && GOCACHE=$T/gocache GOPATH=$T/gopath GO111MODULE=off \
		go build -o "$T/inject-srv" inject_srv.go)
	GP=$(free_port) LP=$(free_port) MP=$(free_port)
	"$PY" "$TOP/tests/e2e/go/inject_leaf.py" "$LP" &
	LEAF=$!
	wait_for listening "$LP"
}

teardown() {
	obs_stop
	bg_stop "${SRV:-}"
	bg_stop "${LEAF:-}"
	true
}

# calls: one call per case through the middle; "sent" and "leaf" lines
# into $T/calls.NAME
calls() {
	local name=$1 q
	for q in size=0 size=1024 size=4096 size=65536 size=1048576 "size=10&pad=300"; do
		curl -fsS "http://127.0.0.1:$GP/call?$q" >>"$T/calls.$name"
	done
}

# same_bytes FILE N: every one of N calls' bodies arrived as sent
same_bytes() {
	"$PY" - "$1" "$2" <<'PYEOF'
import sys
lines = [l.split() for l in open(sys.argv[1]) if l.startswith(("sent ", "leaf "))]
pairs = list(zip(lines[0::2], lines[1::2]))
assert len(pairs) == int(sys.argv[2]), lines
for s, l in pairs:
    assert s[0] == "sent" and l[0] == "leaf", (s, l)
    assert (s[1], s[2]) == (l[1], l[2]), "body changed: sent %s, arrived %s" % (s, l)
print("%d bodies (0 B to 1 MiB) arrived byte for byte" % len(pairs))
PYEOF
}

@test "inject: without --go-inject, a Go program's calls arrive as sent, with no traceparent" {
	obs_start "$MP" --service mid -- "$T/inject-srv" "$GP" "http://127.0.0.1:$LP"
	wait_for listening "$GP"
	calls plain
	same_bytes "$T/calls.plain" 6
	[ "$(grep -c ' tp=0 ' "$T/calls.plain")" = 6 ]
	scrape "$MP" >"$T/m"
	run grep -c obs_go_inject_total "$T/m"
	[ "$output" = 0 ]
}

@test "inject: --go-inject: each call carries one traceparent naming the exported client span, the child of the exported server span; bodies of 0 B to 1 MiB byte-exact" {
	local spans=$T/spans.json
	obs_start "$MP" --service mid --go-inject --spans-file "$spans" -- \
		"$T/inject-srv" "$GP" "http://127.0.0.1:$LP"
	wait_for listening "$GP"
	grep -q -- "--go-inject: a followed Go program's net/http requests carry" "$T/obs.err"
	calls inj
	# the middle's requests: one without a parent, one with
	curl -fsS -H "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" \
		"http://127.0.0.1:$GP/call?size=7" >>"$T/calls.inj"
	scrape "$MP" >"$T/m"
	obs_stop
	same_bytes "$T/calls.inj" 7
	[ "$(metric_sum "$T/m" '^obs_go_inject_total\{result="injected"\}')" = 7 ]
	[ "$(metric_sum "$T/m" '^obs_go_inject_total\{result="(failed|not_head|not_whole|no_request)"\}')" = 0 ]
	"$PY" - "$T/calls.inj" "$spans" <<'PYEOF'
import json, sys
leaf = [l.split() for l in open(sys.argv[1]) if l.startswith("leaf ")]
spans = [json.loads(l) for l in open(sys.argv[2])]
by_id = {s["span_id"]: s for s in spans}
assert len(leaf) == 7, leaf
for i, l in enumerate(leaf):
    assert l[3] == "tp=1", l
    _, trace, parent, flags = l[4].split("-")
    client = by_id[parent]                  # the field names an exported span ...
    assert client["kind"] == "client" and client["trace_id"] == trace, client
    server = by_id[client["parent_span_id"]]  # ... the child of the server span
    assert server["kind"] == "server" and server["trace_id"] == trace, server
    assert flags in ("01", "03"), flags
    if i == 6:  # the request that came with a parent keeps its trace
        assert trace == "4bf92f3577b34da6a3ce929d0e0e4736", trace
        assert server["parent_span_id"] == "00f067aa0ba902b7", server
    else:
        assert "parent_span_id" not in server or not server["parent_span_id"], server
print("7 calls: each field names its client span, the child of its server span")
PYEOF
}

@test "inject: --go-inject: a call with its own traceparent keeps it alone; a head over 512 bytes gets none; both counted; the server's answers unchanged" {
	obs_start "$MP" --service mid --go-inject -- "$T/inject-srv" "$GP" "http://127.0.0.1:$LP"
	wait_for listening "$GP"
	run curl -fsS "http://127.0.0.1:$GP/call?size=10&own=1"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q ' tp=1 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01$'
	run curl -fsS "http://127.0.0.1:$GP/call?size=10&pad=700"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q ' tp=0 '
	scrape "$MP" >"$T/m"
	[ "$(metric_sum "$T/m" '^obs_go_inject_total\{result="app_context"\}')" = 1 ]
	[ "$(metric_sum "$T/m" '^obs_go_inject_total\{result="not_head"\}')" = 1 ]
	[ "$(metric_sum "$T/m" '^obs_go_inject_total\{result="injected"\}')" = 0 ]
}

@test "inject: --go-inject: a program's own TCP connection is left alone: FIONREAD still says what is there" {
	obs_start "$MP" --service mid --go-inject -- "$T/inject-srv" "$GP" "http://127.0.0.1:$LP"
	wait_for listening "$GP"
	# net/http's connection first, so injection is at work in the process
	curl -fsS "http://127.0.0.1:$GP/call?size=3" | grep -q ' tp=1 '
	run curl -fsS "http://127.0.0.1:$GP/fionread"
	echo "$output"
	[ "$output" = "fionread 135 read 135" ]
}

@test "inject: --go-inject: two requests pipelined in one read: the first's call carries its context, the second's none (never the first's), counted" {
	local spans=$T/spans.json
	obs_start "$MP" --service mid --go-inject --spans-file "$spans" -- \
		"$T/inject-srv" "$GP" "http://127.0.0.1:$LP"
	wait_for listening "$GP"
	"$PY" - "$GP" >"$T/pipelined" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /call?size=1 HTTP/1.1\r\nHost: mid\r\n\r\n"
          b"GET /call?size=2 HTTP/1.1\r\nHost: mid\r\nConnection: close\r\n\r\n")
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
print(out.decode())
PYEOF
	cat "$T/pipelined"
	scrape "$MP" >"$T/m"
	obs_stop
	[ "$(grep -c ' tp=1 ' "$T/pipelined")" = 1 ]
	[ "$(grep -c ' tp=0 ' "$T/pipelined")" = 1 ]
	[ "$(metric_sum "$T/m" '^obs_go_inject_total\{result="no_request"\}')" = 1 ]
	"$PY" - "$T/pipelined" "$spans" <<'PYEOF'
import json, sys
leaf = [l.split() for l in open(sys.argv[1]) if l.startswith("leaf ")]
spans = [json.loads(l) for l in open(sys.argv[2])]
by_id = {s["span_id"]: s for s in spans}
servers = sorted((s for s in spans if s["kind"] == "server"), key=lambda s: s["start_time_unix_nano"])
assert leaf[0][1:4] == [leaf[0][1], "1", "tp=1"], leaf
_, trace, parent, _ = leaf[0][4].split("-")
assert by_id[parent]["parent_span_id"] == servers[0]["span_id"], (by_id[parent], servers)
print("the first request's call names its own server span; the second's carries nothing")
PYEOF
}

@test "inject: --go-inject: a call over TLS is left alone (ciphertext never touched), its body byte-exact, counted" {
	local TP
	TP=$(free_port)
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 \
		-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
	"$PY" "$TOP/tests/e2e/go/inject_leaf.py" "$TP" "$T/cert.pem" "$T/key.pem" &
	SRV=$!
	wait_for listening "$TP"
	obs_start "$MP" --service mid --go-inject -- "$T/inject-srv" "$GP" "https://127.0.0.1:$TP"
	wait_for listening "$GP"
	curl -fsS "http://127.0.0.1:$GP/call?size=65536" >"$T/calls.tls"
	curl -fsS "http://127.0.0.1:$GP/call?size=100" >>"$T/calls.tls"
	cat "$T/calls.tls"
	"$PY" - "$T/calls.tls" <<'PYEOF'
import sys
lines = [l.split() for l in open(sys.argv[1]) if l.startswith(("sent ", "leaf "))]
assert len(lines) == 4, lines
for s, l in zip(lines[0::2], lines[1::2]):
    assert (s[1], s[2]) == (l[1], l[2]) and l[3] == "tp=0", (s, l)
PYEOF
	scrape "$MP" >"$T/m"
	[ "$(metric_sum "$T/m" '^obs_go_inject_total\{result="not_head"\}')" = 2 ]
	[ "$(metric_sum "$T/m" '^obs_go_inject_total\{result="injected"\}')" = 0 ]
}

@test "inject: --go-inject on a kernel without bpf_loop (OBS_DEBUG_NO_BPF_LOOP=1): said, and the calls go out as without it, still followed" {
	OBS_DEBUG_NO_BPF_LOOP=1 obs_start "$MP" --service mid --go-inject -- \
		"$T/inject-srv" "$GP" "http://127.0.0.1:$LP"
	wait_for listening "$GP"
	calls nobpfloop
	same_bytes "$T/calls.nobpfloop" 6
	[ "$(grep -c ' tp=0 ' "$T/calls.nobpfloop")" = 6 ]
	grep -q -- "--go-inject: the kernel has no bpf_loop (Linux 5.17+); nothing is injected" "$T/obs.err"
	scrape "$MP" >"$T/m"
	[ "$(metric_sum "$T/m" '^http_client_request_duration_seconds_count\{')" = 6 ]
}

@test "inject: --go-inject on a program that is not Go: said, and it runs as without it" {
	run "$OBS_RUN" --go-inject --no-summary --metrics-addr "127.0.0.1:$MP" -- /bin/true
	[ "$status" -eq 0 ]
	echo "$output" | grep -q -- "--go-inject: CMD is not a Go program: nothing to inject into"
}

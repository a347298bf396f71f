#!/usr/bin/env bats
# What obs ships for operations, checked offline and against the real
# binary: Prometheus rules (promtool), Alertmanager routing (amtool),
# Grafana dashboards (every PromQL parses and reads only metrics obs
# exports), Kubernetes manifests, runbooks.

bats_require_minimum_version 1.5.0
load helpers

PROMDIR=$TOP/deploy/prometheus

teardown() {
	obs_stop
	bg_stop "${TLS_PID:-}"
	bg_stop "${WL_PID:-}"
	bg_stop "${POD_PID:-}"
	receiver_stop
	[ -n "${POD_DIR:-}" ] && rm -rf "$POD_DIR"
	true
}

alert_names() {
	"$PY" -c '
import sys, yaml
for f in sys.argv[1:]:
    for g in yaml.safe_load(open(f))["groups"]:
        for r in g["rules"] or []:
            if "alert" in r:
                print(r["alert"], r["annotations"]["runbook_url"])
' "$PROMDIR"/*.rules.yml | sort -u
}

@test "rules: promtool check rules passes for every shipped rule file; the SLO rules are what their generator writes" {
	require_cmd promtool
	run promtool check rules "$PROMDIR"/*.rules.yml
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output != *FAILED* ]]
	"$PY" "$PROMDIR/gen-slo-rules.py" --check
	# recording rules follow level:metric:operations
	"$PY" -c '
import re, sys, yaml
for f in sys.argv[1:]:
    for g in yaml.safe_load(open(f))["groups"]:
        for r in g["rules"] or []:
            name = r.get("record")
            if name and not re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", name):
                sys.exit(f"{f}: {name} is not level:metric:operations")
' "$PROMDIR"/*.rules.yml
}

@test "rules: promtool test rules - each alert fires on its synthetic incident and stays quiet on healthy series" {
	require_cmd promtool
	run promtool test rules "$PROMDIR"/tests/*.test.yml
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output != *FAILED* ]]
	# every shipped alert is exercised by a test
	for a in $(alert_names | awk '{print $1}'); do
		grep -q "alertname: $a\$" "$PROMDIR"/tests/*.test.yml || {
			echo "alert $a has no promtool test"
			return 1
		}
	done
}

@test "alerts: each has a runbook in docs/runbooks that names it; Alertmanager routing is valid" {
	require_cmd amtool
	[ "$(alert_names | wc -l)" -ge 10 ]
	alert_names | while read -r name url; do
		[ -f "$TOP/$url" ] || { echo "$name: runbook $url missing"; return 1; }
		grep -q "$name" "$TOP/$url" || { echo "$url does not name $name"; return 1; }
		for section in "## What it means" "## First queries" "## Likely causes" "## Remediation"; do
			grep -q "^$section" "$TOP/$url" || { echo "$url: no '$section'"; return 1; }
		done
	done
	[ -f "$TOP/docs/runbooks/triage-a-slow-service.md" ]
	run amtool check-config "$PROMDIR/alertmanager.yml"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "dashboards: valid Grafana JSON with a datasource variable, generated, unique ids" {
	"$PY" "$TOP/deploy/grafana/gen-dashboards.py" --check
	"$PY" - "$TOP"/deploy/grafana/*.json <<-'EOF'
		import json, sys
		uids = set()
		for path in sys.argv[1:]:
		    d = json.load(open(path))
		    assert d["uid"] not in uids, path
		    uids.add(d["uid"])
		    vars_ = {v["name"]: v for v in d["templating"]["list"]}
		    assert vars_["datasource"]["type"] == "datasource", path
		    assert vars_["datasource"]["query"] == "prometheus", path
		    ids = set()
		    for p in d["panels"]:
		        assert p["id"] not in ids, (path, p["id"])
		        ids.add(p["id"])
		        g = p["gridPos"]
		        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, (path, p["title"])
		        if p["type"] == "row":
		            continue
		        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
		        assert p["targets"], p["title"]
		        for t in p["targets"]:
		            assert t["datasource"]["uid"] == "${datasource}", p["title"]
		    kinds = {p["type"] for p in d["panels"]}
		    print(path, len(d["panels"]), "panels", sorted(kinds))
		EOF
	grep -q '"type": "heatmap"' "$TOP/deploy/grafana/obs-service.json"
	grep -q '"type": "table"' "$TOP/deploy/grafana/obs-service.json"
	[ "$(grep -c '"type": "heatmap"' "$TOP/deploy/grafana/obs-node.json")" -ge 4 ]
}

@test "dashboards and rules: every PromQL expression parses (promtool) and reads only metrics a live obs exports; every obs_ family it exports is in docs/metrics.md" {
	require_bpf
	require_cmd promtool python3
	local files=("$TOP"/deploy/grafana/*.json "$PROMDIR"/*.rules.yml "$PROMDIR/tests/slo-overrides.rules.yml")
	"$PY" "$TOP/tests/e2e/promql_refs.py" rules "$BATS_TEST_TMPDIR/exprs.yml" "${files[@]}"
	run promtool check rules "$BATS_TEST_TMPDIR/exprs.yml"
	echo "$output"
	[ "$status" -eq 0 ]

	# A live obs with every kind of traffic: HTTP served and made, gRPC
	# served and made, disk I/O, TCP; a small series limit so that the
	# overflow counter exists too.
	local MP HP GP
	MP=$(free_port)
	HP=$(free_port)
	GP=$(free_port)
	cat >"$BATS_TEST_TMPDIR/load.sh" <<-EOF
		"$PY" "$TOP/tests/e2e/echo_server.py" $HP >/dev/null 2>&1 & e=\$!
		/usr/bin/python3 "$TOP/tests/e2e/grpc_demo.py" serve $GP >/dev/null 2>&1 & g=\$!
		trap 'kill \$e \$g; exit 0' TERM INT
		for i in \$(seq 300); do curl -fsS -o /dev/null http://127.0.0.1:$HP/ && break; sleep 0.1; done
		# the gRPC server too (a call before it listens fails at once, no span)
		for i in \$(seq 300); do ss -Hltn "sport = :$GP" | grep -q . && break; sleep 0.1; done
		for i in 1 2 3; do curl -fsS -o /dev/null http://127.0.0.1:$HP/items/\$i; done
		/usr/bin/python3 "$TOP/tests/e2e/grpc_demo.py" call $GP unary not_found >/dev/null
		dd if=/dev/zero of="$BATS_TEST_TMPDIR/dd.out" bs=64k count=16 oflag=direct 2>/dev/null
		dd if="$BATS_TEST_TMPDIR/dd.out" of=/dev/null bs=64k iflag=direct 2>/dev/null
		touch "$BATS_TEST_TMPDIR/loaded"
		sleep 60 & wait \$!
		kill \$e \$g
	EOF
	obs_start "$MP" --max-series 400 --spans-file "$BATS_TEST_TMPDIR/spans.jsonl" -- sh "$BATS_TEST_TMPDIR/load.sh"
	wait_for test -e "$BATS_TEST_TMPDIR/loaded"
	wait_scrape "$MP" '^rpc_client_call_duration_seconds_count'
	wait_scrape "$MP" '^obs_disk_io_bytes_total'
	scrape "$MP" >"$BATS_TEST_TMPDIR/scrape.txt"
	curl -fsS -H 'Accept: application/openmetrics-text; version=1.0.0' \
		"http://127.0.0.1:$MP/metrics" >>"$BATS_TEST_TMPDIR/scrape.txt"
	# and an HTTPS endpoint, for the certificate's own series
	local TP
	TP=$(free_port)
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
		-keyout "$BATS_TEST_TMPDIR/tls.key" -out "$BATS_TEST_TMPDIR/tls.crt" 2>/dev/null
	printf 'metrics:\n  listen: "127.0.0.1:%s"\n  tls:\n    cert_file: %s\n    key_file: %s\n' "$TP" \
		"$BATS_TEST_TMPDIR/tls.crt" "$BATS_TEST_TMPDIR/tls.key" >"$BATS_TEST_TMPDIR/tls.yaml"
	"$OBS_RUN" --config "$BATS_TEST_TMPDIR/tls.yaml" -- sleep 30 2>"$BATS_TEST_TMPDIR/tls.err" &
	TLS_PID=$!
	wait_for curl -fsk "https://127.0.0.1:$TP/readyz"
	curl -fsS --cacert "$BATS_TEST_TMPDIR/tls.crt" "https://127.0.0.1:$TP/metrics" >>"$BATS_TEST_TMPDIR/scrape.txt"
	grep -v '^#' "$BATS_TEST_TMPDIR/scrape.txt" | sed -E 's/[{ ].*//' | sort -u >"$BATS_TEST_TMPDIR/names"
	# the traffic reached every family the dashboards read
	for n in http_server_request_duration_seconds_bucket http_client_request_duration_seconds_count \
		rpc_server_call_duration_seconds_bucket obs_series_overflow_total obs_tcp_connect_duration_seconds_bucket \
		obs_spans_exported_total obs_ready obs_tls_certificate_not_after_timestamp_seconds; do
		grep -qx "$n" "$BATS_TEST_TMPDIR/names" || { echo "live scrape lacks $n"; return 1; }
	done
	# and every family of obs's own a live scrape shows is documented
	for n in $(grep '^obs_' "$BATS_TEST_TMPDIR/names" | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
		grep -q "\`$n[\`{]" "$TOP/docs/metrics.md" || { echo "docs/metrics.md lacks $n"; return 1; }
	done
	run "$PY" "$TOP/tests/e2e/promql_refs.py" missing "$BATS_TEST_TMPDIR/names" "${files[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	# and the checker can fail: a dashboard reading a metric obs does not export
	sed 's/obs_runqueue_latency_seconds_sum/obs_runqueue_wait_seconds_sum/' \
		"$TOP/deploy/grafana/obs-node.json" >"$BATS_TEST_TMPDIR/broken.json"
	run "$PY" "$TOP/tests/e2e/promql_refs.py" missing "$BATS_TEST_TMPDIR/names" "$BATS_TEST_TMPDIR/broken.json"
	[ "$status" -eq 1 ]
	[[ $output == *"obs_runqueue_wait_seconds_sum"* ]]
}

K8S=$TOP/deploy/kubernetes

# The ConfigMap's obs config, with the Secret mount paths pointing at test
# files (a token and a CA-signed certificate) and loopback instead of :9464.
k8s_config() { # PORT
	mkdir -p "$BATS_TEST_TMPDIR/k"
	"$PY" "$TOP/tests/e2e/k8s_check.py" "$K8S" "$BATS_TEST_TMPDIR/k" >/dev/null
	echo "k8s-token-$RANDOM" >"$BATS_TEST_TMPDIR/k/token"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$BATS_TEST_TMPDIR/k/tls.key" \
		-out "$BATS_TEST_TMPDIR/k/tls.crt" 2>/dev/null
	sed -e "s|/etc/obs/secrets/token|$BATS_TEST_TMPDIR/k/token|" \
		-e "s|/etc/obs/tls/|$BATS_TEST_TMPDIR/k/|" \
		-e "s|listen: \":9464\"|listen: \"127.0.0.1:$1\"|" \
		"$BATS_TEST_TMPDIR/k/obs.yaml" >"$BATS_TEST_TMPDIR/k/local.yaml"
}

@test "kubernetes: the manifests pass the offline structure checks, and a broken copy is caught" {
	run "$PY" "$TOP/tests/e2e/k8s_check.py" "$K8S" "$BATS_TEST_TMPDIR"
	echo "$output"
	[ "$status" -eq 0 ]
	# the checks can fail: each mutation is one mistake a cluster would not catch
	local mut
	for mut in 's/hostPID: true/hostPID: false/' \
		's/add: \["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "SETUID", "SETGID"\]/add: ["SYS_ADMIN"]/' \
		's|path: /readyz|path: /ready|' \
		's/scheme: HTTPS/scheme: HTTP/' \
		's|mountPath: /sys/kernel/btf|mountPath: /btf|' \
		's/component: agent/component: agnt/' \
		's/type: Localhost/type: Unconfined/' \
		's|mountPath: /run/obs|mountPath: /run/obs2|'; do
		rm -rf "$BATS_TEST_TMPDIR/broken"
		cp -r "$K8S" "$BATS_TEST_TMPDIR/broken"
		sed -i "$mut" "$BATS_TEST_TMPDIR/broken/daemonset.yaml"
		run ! cmp -s "$K8S/daemonset.yaml" "$BATS_TEST_TMPDIR/broken/daemonset.yaml" # it did change
		run "$PY" "$TOP/tests/e2e/k8s_check.py" "$BATS_TEST_TMPDIR/broken" "$BATS_TEST_TMPDIR"
		[ "$status" -eq 1 ] || { echo "not caught: $mut"; return 1; }
	done
	sed -i 's|http://otel-collector.obs.svc:4318|http://otel-collectr.obs.svc:4318|' "$BATS_TEST_TMPDIR/broken/configmap.yaml"
	run "$PY" "$TOP/tests/e2e/k8s_check.py" "$BATS_TEST_TMPDIR/broken" "$BATS_TEST_TMPDIR"
	[ "$status" -eq 1 ]
	[[ $output == *"otel-collectr"* ]]
}

# The Debian package of every library the shipped binaries link: what the
# image's Dockerfile must install (there is no container engine here to
# build it). libc6 comes with the base image.
image_packages() {
	local f l
	for f in "$TOP/build/obs" "$TOP/build/libobs_preload.so"; do
		readelf -d "$f" | awk '/NEEDED/ {gsub(/[][]/, "", $5); print $5}'
	done | sort -u | while read -r l; do
		dpkg -S "*/$l" | grep -v i386 | head -1 | cut -d: -f1
	done | sort -u | grep -vx libc6
}

# The packages of image_packages a Dockerfile does not install.
dockerfile_missing() {
	local p
	for p in $(image_packages); do
		grep -Eq "(^|[[:space:]])$p([[:space:]]|$)" "$1" || echo "$p"
	done
}

@test "kubernetes: the image's Dockerfile installs the package of every library obs links, and a missing one is caught" {
	image_packages
	[ -n "$(image_packages)" ]
	run dockerfile_missing "$TOP/deploy/kubernetes/Dockerfile"
	echo "missing: $output"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	# the check can fail: one package taken out is found missing
	sed 's/ libisal2 / /' "$TOP/deploy/kubernetes/Dockerfile" >"$BATS_TEST_TMPDIR/Dockerfile"
	run dockerfile_missing "$BATS_TEST_TMPDIR/Dockerfile"
	[ "$output" = libisal2 ]
}

@test "kubernetes: the ConfigMap's obs config passes 'obs config check'; the scrape config passes promtool" {
	require_cmd openssl promtool
	k8s_config 9464
	run "$OBS" config check "$BATS_TEST_TMPDIR/k/local.yaml"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"tracing.sampling_ratio"*"0.1"* ]]
	[[ $output == *"logging.format"*"json"* ]]
	mkdir -p "$BATS_TEST_TMPDIR/p"
	cp "$BATS_TEST_TMPDIR/k/token" "$BATS_TEST_TMPDIR/p/token"
	cp "$BATS_TEST_TMPDIR/k/tls.crt" "$BATS_TEST_TMPDIR/p/ca.crt"
	# Debian's Prometheus is built without Kubernetes discovery: promtool
	# checks everything else (auth, TLS, relabelling) with the discovery
	# swapped for a static target; k8s_check.py checks the discovery block
	"$PY" - "$PROMDIR/kubernetes-scrape-config.yml" "$BATS_TEST_TMPDIR/p" <<-'PYEOF' >"$BATS_TEST_TMPDIR/p/prometheus.yml"
		import sys, yaml
		cfg = yaml.safe_load(open(sys.argv[1]))
		job = cfg["scrape_configs"][0]
		sd = job.pop("kubernetes_sd_configs")
		assert sd[0]["role"] == "pod" and sd[0]["namespaces"]["names"] == ["obs"], sd
		job["static_configs"] = [{"targets": ["127.0.0.1:9464"]}]
		job["authorization"]["credentials_file"] = sys.argv[2] + "/token"
		job["tls_config"]["ca_file"] = sys.argv[2] + "/ca.crt"
		print(yaml.safe_dump(cfg))
	PYEOF
	run promtool check config "$BATS_TEST_TMPDIR/p/prometheus.yml"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "kubernetes: the agent runs with only the DaemonSet's capabilities and its config, and answers its probes over HTTPS" {
	require_bpf
	require_cmd setpriv openssl
	local MP caps
	MP=$(free_port)
	k8s_config "$MP"
	caps=$(tr 'A-Z' 'a-z' <"$BATS_TEST_TMPDIR/k/caps" | sed 's/^/+/' | paste -sd, -)
	# root, with exactly the capabilities the DaemonSet adds (drop: ALL)
	setpriv --bounding-set "-all,$caps" --inh-caps -all \
		"$OBS" agent --config "$BATS_TEST_TMPDIR/k/local.yaml" \
		>"$BATS_TEST_TMPDIR/agent.out" 2>"$BATS_TEST_TMPDIR/agent.err" &
	OBS_PID=$!
	wait_for curl -fsk "https://127.0.0.1:$MP/healthz" || { cat "$BATS_TEST_TMPDIR/agent.err"; return 1; }
	wait_for curl -fsk "https://127.0.0.1:$MP/readyz"
	[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$MP/metrics")" = 401 ]
	curl -fsS --cacert "$BATS_TEST_TMPDIR/k/tls.crt" \
		-H "Authorization: Bearer $(cat "$BATS_TEST_TMPDIR/k/token")" \
		"https://127.0.0.1:$MP/metrics" >"$BATS_TEST_TMPDIR/m"
	grep -q '^obs_syscall_duration_seconds_count{' "$BATS_TEST_TMPDIR/m"
	grep -q 'container_id=' "$BATS_TEST_TMPDIR/m"
	# JSON logs, as the ConfigMap asks
	"$PY" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' \
		"$BATS_TEST_TMPDIR/agent.err"
	grep -q '"msg":"capabilities: dropped all but CAP_DAC_READ_SEARCH (to read the config and secret files on SIGHUP); running as nobody"' "$BATS_TEST_TMPDIR/agent.err"
}

@test "kubernetes: the pod as the manifests build it (read-only root, their mounts, capabilities, seccomp profile): the agent answers its HTTPS probes, publishes the shim, and a workload mounting it gets metrics and spans" {
	require_bpf
	require_cmd setpriv openssl unshare
	require_node_modules
	local MP RP SP W
	MP=$(free_port) RP=$(free_port) SP=$(free_port)
	receiver_start "$RP"
	k8s_config "$MP"
	POD_DIR=$(mktemp -d /tmp/obs-pod.XXXXXX)
	W=$POD_DIR
	# the volumes' content: the ConfigMap's obs.yaml with the test's three
	# substitutions (loopback listener, the local OTLP receiver, every
	# span sampled), and the Secrets
	mkdir -p "$W/volumes/config" "$W/volumes/token" "$W/volumes/tls"
	sed -e "s|listen: \":9464\"|listen: \"127.0.0.1:$MP\"|" \
		-e "s|http://otel-collector.obs.svc:4318|http://127.0.0.1:$RP|" \
		-e "s|sampling_ratio: .*|sampling_ratio: 1|" \
		"$BATS_TEST_TMPDIR/k/obs.yaml" >"$W/volumes/config/obs.yaml"
	install -m 0400 "$BATS_TEST_TMPDIR/k/token" "$W/volumes/token/token"
	install -m 0400 "$BATS_TEST_TMPDIR/k/tls.crt" "$BATS_TEST_TMPDIR/k/tls.key" "$W/volumes/tls/"
	"$PY" "$TOP/tests/e2e/k8s_pod.py" "$K8S" "$TOP" "$W" >"$W/pod.sh"
	cat "$W/pod.sh"
	OTEL_BSP_SCHEDULE_DELAY=100 unshare -m --propagation private sh "$W/pod.sh" \
		>"$W/agent.out" 2>"$W/agent.err" &
	POD_PID=$!
	wait_for curl -fsk "https://127.0.0.1:$MP/healthz" || { cat "$W/agent.err"; return 1; }
	wait_for curl -fsk "https://127.0.0.1:$MP/readyz"
	cat "$W/agent.err"
	# it runs as the manifest says: the profile's filter, no_new_privs,
	# only the added capabilities (then obs's own drop), a read-only root
	grep -q '^Seccomp:[[:space:]]*2$' "/proc/$POD_PID/status"
	grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$POD_PID/status"
	grep -q '"msg":"capabilities: dropped all but CAP_DAC_READ_SEARCH (to read the config and secret files on SIGHUP); running as nobody"' "$W/agent.err"
	[ "$(awk '/^Uid/ {print $2, $3, $4, $5}' "/proc/$POD_PID/status")" = "65534 65534 65534 65534" ]
	# its Go helper started under the profile, with what uprobes take
	run grep -q go_helper_failed "$W/agent.err"
	[ "$status" -ne 0 ]
	local helper
	helper=$(pgrep -P "$POD_PID" obs-gohelper)
	[ "$(awk '/^CapEff/ {print $2}' /proc/"$helper"/status)" = 000000c000080004 ]
	grep -q '^Seccomp:[[:space:]]*2$' "/proc/$helper/status"
	run nsenter -t "$POD_PID" -m -r touch /usr/local/bin/x
	[ "$status" -ne 0 ]
	[[ $output == *"Read-only file system"* ]]
	# the shim and its helpers, published on the host for workloads
	[ -f "$W/host/run/obs/libobs_preload.so" ]
	[ -S "$W/host/run/obs/obs.sock" ]
	[ -f "$W/host/run/obs/obs-helpers/node/obs-context.js" ]
	# a workload in a mount namespace of its own mounts the hostPath at
	# /run/obs, as deploy/README.md tells workloads to
	unshare -m --propagation private sh -c '
		mount -t tmpfs tmpfs /run && mkdir /run/obs &&
		mount --bind -o ro "$1" /run/obs && mount -o remount,bind,ro /run/obs &&
		shift && exec env OTEL_SERVICE_NAME=podapp LD_PRELOAD=/run/obs/libobs_preload.so "$@"' \
		sh "$W/host/run/obs" "$PY" "$TOP/tests/e2e/echo_server.py" "$SP" >"$W/wl.out" 2>&1 &
	WL_PID=$!
	wait_for listening "$SP"
	for i in 1 2 3 4 5; do curl -fsS "http://127.0.0.1:$SP/pod/$i" >/dev/null; done
	wait_for k8s_scrape_has '^http_server_request_duration_seconds_count\{.*service="podapp".*\} 5$'
	wait_for spans_ge "len([s for s in spans if s['service'] == 'podapp'])" 5
}

spans_ge() { [ "$(span_q "$1")" -ge "$2" ]; }

# k8s_scrape_has PATTERN: the agent's /metrics, over HTTPS with its token
k8s_scrape_has() {
	curl -fsS --cacert "$BATS_TEST_TMPDIR/k/tls.crt" \
		-H "Authorization: Bearer $(cat "$BATS_TEST_TMPDIR/k/token")" \
		"https://127.0.0.1:$MP/metrics" | grep -Eq "$1"
}

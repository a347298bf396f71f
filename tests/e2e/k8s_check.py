#!/usr/bin/env python3
"""Offline structure checks of deploy/kubernetes/*.yaml: what a cluster
would reject or silently get wrong (selectors that match nothing, ports by
a name that does not exist, missing probes or limits, more privilege than
obs needs).

  k8s_check.py DIR OUT_DIR
      checks DIR's manifests; writes OUT_DIR/obs.yaml (the ConfigMap's obs
      config) and OUT_DIR/caps (the DaemonSet's added capabilities, one per
      line) for the caller to run the real binary with. Exit 1 on a problem.
"""
import os
import sys

import yaml

NAMESPACED = {"ConfigMap", "Secret", "ServiceAccount", "DaemonSet", "Deployment", "Service",
              "ServiceMonitor"}
API = {"Namespace": "v1", "ConfigMap": "v1", "Secret": "v1", "ServiceAccount": "v1",
       "Service": "v1", "DaemonSet": "apps/v1", "Deployment": "apps/v1",
       "ServiceMonitor": "monitoring.coreos.com/v1",
       "Kustomization": "kustomize.config.k8s.io/v1beta1"}
# what obs's agent needs, and may have
NEEDED_CAPS = {"BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "SETUID", "SETGID"}

problems = []


def check(cond, msg):
    if not cond:
        problems.append(msg)
    return cond


def load(d):
    docs = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(d, name)) as f:
            for doc in yaml.safe_load_all(f):
                if doc is None:
                    continue
                doc["_file"] = name
                docs.append(doc)
    return docs


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_common(doc):
    where = f"{doc['_file']}: {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
    kind = doc.get("kind")
    check(kind in API, f"{where}: unexpected kind")
    check(doc.get("apiVersion") == API.get(kind), f"{where}: apiVersion {doc.get('apiVersion')}")
    md = doc.get("metadata") or {}
    check(md.get("name") or kind == "Kustomization", f"{where}: no metadata.name")
    if kind in NAMESPACED:
        check(md.get("namespace") == "obs", f"{where}: namespace {md.get('namespace')!r}, not obs")
    return where


def check_pod(where, spec, volumes_needed=()):
    names = {v["name"]: v for v in spec.get("volumes", [])}
    for c in spec["containers"]:
        cw = f"{where} container {c['name']}"
        res = c.get("resources", {})
        for k in ("requests", "limits"):
            check(res.get(k, {}).get("cpu") and res.get(k, {}).get("memory"),
                  f"{cw}: resources.{k} needs cpu and memory")
        for m in c.get("volumeMounts", []):
            check(m["name"] in names, f"{cw}: mounts unknown volume {m['name']}")
        sc = c.get("securityContext", {})
        check(sc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation")
        check(sc.get("readOnlyRootFilesystem") is True, f"{cw}: readOnlyRootFilesystem")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{cw}: must drop ALL capabilities")
    for v in volumes_needed:
        check(v in names, f"{where}: no volume {v}")
    return names


def main():
    d, out = sys.argv[1], sys.argv[2]
    docs = load(d)
    by_kind = {}
    for doc in docs:
        check_common(doc)
        by_kind.setdefault(doc["kind"], []).append(doc)

    # --- kustomization: every manifest but the examples --------------------
    kz = by_kind.get("Kustomization", [])
    if check(len(kz) == 1, "expected a kustomization.yaml"):
        listed = set(kz[0].get("resources", []))
        files = {d_["_file"] for d_ in docs if d_["kind"] != "Kustomization"}
        want = {f for f in files if ".example." not in f}
        check(listed == want, f"kustomization lists {sorted(listed)}, manifests are {sorted(want)}")

    # --- the agent DaemonSet ------------------------------------------------
    ds = by_kind.get("DaemonSet", [])
    if not check(len(ds) == 1, "expected one DaemonSet"):
        return report()
    ds = ds[0]
    where = check_common(ds)
    spec = ds["spec"]
    tmpl = spec["template"]
    labels = tmpl["metadata"]["labels"]
    check(matches(spec["selector"]["matchLabels"], labels), f"{where}: selector does not match its pods")
    pod = tmpl["spec"]
    check(pod.get("hostPID") is True, f"{where}: hostPID must be true (obs sees every process)")
    check(not pod.get("hostNetwork"), f"{where}: hostNetwork is not needed")
    check(pod.get("automountServiceAccountToken") is False, f"{where}: obs needs no API token")
    vols = check_pod(where, pod, ("btf", "tracefs", "cgroup", "config"))
    host_paths = {v["hostPath"]["path"]: v["name"] for v in vols.values() if "hostPath" in v}
    # /var/log/containers: the kubelet's log links name each container
    ro_paths = ("/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/cgroup", "/var/log/containers")
    for path in ro_paths:
        check(path in host_paths, f"{where}: no hostPath volume for {path}")
    c = pod["containers"][0]
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    for path in ro_paths:
        m = mounts.get(path)
        check(m and m.get("readOnly") is True and m["name"] == host_paths.get(path),
              f"{where}: {path} must be mounted read-only from the host")
    # the shim published for workloads: the agent writes it (the root is
    # read-only), workloads mount the same hostPath
    m = mounts.get("/run/obs")
    check(m and not m.get("readOnly") and vols.get(m["name"], {}).get("hostPath", {}).get("path")
          == "/run/obs", f"{where}: /run/obs must be a writable mount of hostPath /run/obs")
    sc = c["securityContext"]
    check(sc.get("privileged") is False, f"{where}: must not be privileged")
    prof = sc.get("seccompProfile", {})
    check(prof.get("type") in ("RuntimeDefault", "Localhost"),
          f"{where}: seccompProfile {prof.get('type')}: RuntimeDefault or the shipped Localhost profile")
    if prof.get("type") == "Localhost":
        check(os.path.exists(os.path.join(sys.argv[1], "seccomp", prof.get("localhostProfile", ""))),
              f"{where}: seccomp profile {prof.get('localhostProfile')} is not shipped in seccomp/")
    caps = set(sc["capabilities"].get("add", []))
    check(caps == NEEDED_CAPS, f"{where}: capabilities {sorted(caps)}, want exactly {sorted(NEEDED_CAPS)}")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check(ports.get("metrics") == 9464, f"{where}: container port 'metrics' must be 9464")
    args = c.get("args", [])
    check(args[:1] == ["agent"] and "--config" in args, f"{where}: args must run 'agent --config FILE'")
    conf_path = args[args.index("--config") + 1] if "--config" in args else ""
    conf_dir = os.path.dirname(conf_path)
    cm_mount = mounts.get(conf_dir)
    check(cm_mount and "configMap" in vols.get(cm_mount["name"], {}),
          f"{where}: {conf_dir} is not a mounted ConfigMap")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        p = c.get(probe, {}).get("httpGet", {})
        check(p.get("path") == path and p.get("port") in ("metrics", 9464),
              f"{where}: {probe} must GET {path} on the metrics port")

    # --- its ConfigMap: the obs config the agent reads -----------------------
    cm_name = vols.get(cm_mount["name"], {}).get("configMap", {}).get("name") if cm_mount else None
    cms = {m["metadata"]["name"]: m for m in by_kind.get("ConfigMap", [])}
    conf_file = os.path.basename(conf_path)
    obs_yaml = cms.get(cm_name, {}).get("data", {}).get(conf_file)
    if check(obs_yaml, f"ConfigMap {cm_name} has no {conf_file}"):
        conf = yaml.safe_load(obs_yaml)
        tls = conf.get("metrics", {}).get("tls")
        scheme = "HTTPS" if tls else "HTTP"
        for probe in ("livenessProbe", "readinessProbe"):
            check(c[probe]["httpGet"].get("scheme", "HTTP") == scheme,
                  f"{where}: {probe} scheme must be {scheme} (metrics.tls is {'set' if tls else 'unset'})")
        listen = conf.get("metrics", {}).get("listen", "")
        check(listen.endswith(":9464") and not listen.startswith("127."),
              "the agent's metrics.listen must be reachable from Prometheus on 9464")
        # every file the config names is mounted from a Secret or ConfigMap
        files = [conf["metrics"].get("auth", {}).get("bearer_token_file")] + \
                ([tls.get("cert_file"), tls.get("key_file")] if tls else [])
        for f in filter(None, files):
            m = mounts.get(os.path.dirname(f))
            check(m and ("secret" in vols.get(m["name"], {})),
                  f"config file {f} is not in a mounted Secret")
        with open(os.path.join(out, "obs.yaml"), "w") as fo:
            fo.write(obs_yaml)
        endpoint = conf.get("tracing", {}).get("endpoint", "")
    with open(os.path.join(out, "caps"), "w") as fo:
        fo.write("\n".join(sorted(caps)) + "\n")

    # --- the Service, the ServiceMonitor ------------------------------------
    svcs = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    agent_svc = [s for s in svcs.values() if matches(s["spec"].get("selector"), labels)]
    if check(len(agent_svc) == 1, "one Service must select the agent pods"):
        svc = agent_svc[0]
        sp = {p["name"]: p for p in svc["spec"]["ports"]}
        check(sp.get("metrics", {}).get("targetPort") in ("metrics", 9464),
              "the agent Service's 'metrics' port must target the container's metrics port")
        for sm in by_kind.get("ServiceMonitor", []):
            w = check_common(sm)
            check(matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]),
                  f"{w}: selector matches no Service")
            for ep in sm["spec"]["endpoints"]:
                check(ep.get("port") in sp, f"{w}: endpoint port {ep.get('port')} not on the Service")
                check(ep.get("scheme") == ("https" if tls else "http"), f"{w}: scheme")
                check(ep.get("bearerTokenSecret", {}).get("name") ==
                      vols[mounts[os.path.dirname(files[0])]["name"]]["secret"]["secretName"],
                      f"{w}: bearer token Secret is not the one obs reads")

    # --- the collector: receives what obs sends --------------------------------
    col_cm = cms.get("otel-collector-config")
    if check(col_cm, "no otel-collector-config ConfigMap"):
        col = yaml.safe_load(col_cm["data"]["config.yaml"])
        http = col["receivers"]["otlp"]["protocols"].get("http", {})
        port = http.get("endpoint", "").rsplit(":", 1)[-1]
        check(port == "4318", "the collector must receive OTLP/HTTP on 4318")
        pipe = col["service"]["pipelines"]["traces"]
        check("otlp" in pipe["receivers"], "the traces pipeline must read the otlp receiver")
        for kind in ("processors", "exporters"):
            for name in pipe.get(kind, []):
                check(name in col.get(kind, {}), f"pipeline uses undefined {kind[:-1]} {name}")
        host, _, eport = endpoint.split("//")[-1].partition(":")
        check(eport == port, f"obs's tracing.endpoint port {eport} is not the collector's {port}")
        name = host.split(".")[0]
        check(name in svcs and any(str(p["port"]) == port for p in svcs[name]["spec"]["ports"]),
              f"obs's tracing.endpoint names Service {name}:{port}, which is not defined")
        dep = [x for x in by_kind.get("Deployment", []) if x["metadata"]["name"] == name]
        if check(dep, f"no Deployment {name}"):
            check(matches(svcs[name]["spec"]["selector"], dep[0]["spec"]["template"]["metadata"]["labels"]),
                  f"Service {name} selects no collector pod")
            check_pod(f"Deployment {name}", dep[0]["spec"]["template"]["spec"])
    return report()


def report():
    for p in problems:
        print("problem:", p)
    print(f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The obs DaemonSet's pod, as a container runtime would set it up, written
as a shell script from the manifests themselves (no cluster here; nothing
in the script is typed by hand):

  k8s_pod.py K8S_DIR TOP WORK > pod.sh

  K8S_DIR  deploy/kubernetes (daemonset.yaml, Dockerfile, seccomp/)
  TOP      the checkout (the Dockerfile's COPY sources)
  WORK     the test's directory: WORK/volumes/NAME holds the content of
           each configMap/secret volume; WORK/host/PATH stands in for each
           hostPath the pod writes to (a test must not write the host's
           /run/obs); read-only hostPaths are the host's own (an empty
           stand-in for a DirectoryOrCreate one the host lacks).

pod.sh, run as root inside `unshare -m --propagation private`:
  - the image: an overlay over the host's root (Debian 12, as the
    Dockerfile's base) with the Dockerfile's COPY and RUN ln lines applied;
  - hostPID: the host's /proc; /dev; /sys read-only, as runtimes mount it;
  - every volumeMount of the container, with its readOnly flag; emptyDir
    with medium Memory is a tmpfs of its sizeLimit;
  - readOnlyRootFilesystem: the root remounted read-only;
  - then, in the new root: runAsUser, capabilities (drop ALL + add),
    allowPrivilegeEscalation false (no_new_privs), the Localhost seccomp
    profile, and the image's ENTRYPOINT with the container's args.
Also writes WORK/seccomp.list (the profile, for seccomp_exec).
"""
import json
import os
import re
import shlex
import sys

import yaml

k8s, top, work = sys.argv[1:4]
q = shlex.quote


def fail(msg):
    sys.exit("k8s_pod.py: " + msg)


ds = next(d for d in yaml.safe_load_all(open(os.path.join(k8s, "daemonset.yaml")))
          if d and d.get("kind") == "DaemonSet")
pod = ds["spec"]["template"]["spec"]
[c] = pod["containers"]
sc = c.get("securityContext", {})
vols = {v["name"]: v for v in pod.get("volumes", [])}

root = os.path.join(work, "root")
out = ["set -eu", "R=" + q(root), "S=" + q(os.path.join(work, "sandbox")),
       'mkdir -p "$R" "$S"', 'mount -t tmpfs tmpfs "$S"', 'mkdir "$S/up" "$S/work"',
       'mount -t overlay overlay -o lowerdir=/,upperdir="$S/up",workdir="$S/work" "$R"']

# the image
entry = None
for line in open(os.path.join(k8s, "Dockerfile")):
    line = line.strip()
    m = re.match(r"COPY\s+(\S+)\s+(\S+)$", line)
    if m:
        src, dst = m.groups()
        src = os.path.join(top, src.rstrip("/"))
        if os.path.isdir(src):
            out.append("mkdir -p %s && cp -a %s/. %s" % (q(root + dst), q(src), q(root + dst)))
        else:
            out.append("mkdir -p %s && cp %s %s" % (q(os.path.dirname(root + dst)), q(src), q(root + dst)))
    m = re.match(r"RUN ln -s (\S+) (\S+)$", line)
    if m:
        out.append("ln -sf %s %s" % (q(m.group(1)), q(root + m.group(2))))
    m = re.match(r"ENTRYPOINT\s+(\[.*\])$", line)
    if m:
        entry = json.loads(m.group(1))
if not entry:
    fail("no ENTRYPOINT in the Dockerfile")

# the runtime's own mounts
if not pod.get("hostPID"):
    fail("the pod is not hostPID: obs cannot see the node's processes")
out += ['mount --rbind /proc "$R/proc"', 'mount --rbind /dev "$R/dev"',
        'mount --rbind /sys "$R/sys"', 'mount -o remount,bind,ro "$R/sys"']

# the container's volumes
for vm in c.get("volumeMounts", []):
    v = vols.get(vm["name"]) or fail("volumeMount %s has no volume" % vm["name"])
    dst = root + vm["mountPath"]
    ro = vm.get("readOnly", False)
    if "hostPath" in v:
        hp = v["hostPath"]
        src = hp["path"]
        made = hp.get("type") == "DirectoryOrCreate" and not os.path.exists(src)
        # written by the pod, or one the kubelet would make on this host
        # (no kubelet here: /var/log/containers): the test's stand-in
        if not ro or made:
            src = os.path.join(work, "host", hp["path"].lstrip("/"))
            if hp.get("type") == "DirectoryOrCreate":
                out.append("mkdir -p -m 0755 %s" % q(src))
        out.append("[ -e %s ] || { echo 'hostPath %s missing' >&2; exit 1; }" % (q(src), hp["path"]))
    elif "emptyDir" in v:
        ed = v["emptyDir"] or {}
        if ed.get("medium") != "Memory":
            fail("emptyDir %s: only medium Memory is simulated" % vm["name"])
        size = str(ed.get("sizeLimit", "64Mi")).replace("Mi", "m")
        out.append("mkdir -p %s && mount -t tmpfs -o size=%s tmpfs %s" % (q(dst), size, q(dst)))
        continue
    elif "configMap" in v or "secret" in v:
        src = os.path.join(work, "volumes", vm["name"])
    else:
        fail("volume %s: kind not simulated" % vm["name"])
    out.append("mkdir -p %s && mount --rbind %s %s" % (q(dst), q(src), q(dst)))
    if ro:
        out.append("mount -o remount,bind,ro %s" % q(dst))

if sc.get("readOnlyRootFilesystem"):
    out.append('mount -o remount,bind,ro "$R"')

# the process
uid = sc.get("runAsUser", 0)
caps = sc.get("capabilities", {})
if caps.get("drop") != ["ALL"]:
    fail("capabilities are not drop: [ALL]")
keep = ",".join("+" + x.lower() for x in caps.get("add", []))
cmd = ["chroot", root, "setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
       "--bounding-set", "-all" + ("," + keep if keep else ""), "--inh-caps", "-all"]
if sc.get("allowPrivilegeEscalation") is False:
    cmd.append("--no-new-privs")
prof = sc.get("seccompProfile", {})
if prof.get("type") == "Localhost":
    p = json.load(open(os.path.join(k8s, "seccomp", os.path.basename(prof["localhostProfile"]))))
    if p["defaultAction"] != "SCMP_ACT_ERRNO" or len(p["syscalls"]) != 1 or \
            p["syscalls"][0]["action"] != "SCMP_ACT_ALLOW":
        fail("the seccomp profile is not one allowlist (default SCMP_ACT_ERRNO)")
    with open(os.path.join(work, "seccomp.list"), "w") as f:
        f.write("default %d\n" % p.get("defaultErrnoRet", 1))
        f.write("".join(n + "\n" for n in p["syscalls"][0]["names"]))
    # the runtime's part, reachable in the new root (before it turns read-only)
    out.insert(out.index('mount -o remount,bind,ro "$R"') if sc.get("readOnlyRootFilesystem")
               else len(out),
               'mkdir -p "$R/.pod" && cp %s %s "$R/.pod/"' % (
                   q(os.path.join(top, "build/tests/seccomp_exec")), q(os.path.join(work, "seccomp.list"))))
    cmd += ["/.pod/seccomp_exec", "/.pod/seccomp.list"]
elif prof.get("type") != "RuntimeDefault":
    fail("seccompProfile %r: neither Localhost nor RuntimeDefault" % prof)
cmd += entry + c.get("args", [])
out.append("exec " + " ".join(q(x) for x in cmd))
print("\n".join(out))

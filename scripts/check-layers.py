#!/usr/bin/env python3
"""check-layers - every #include points down the layers, never up or sideways.

The layers, lowest first (docs/design.md, "Layout"):
  bpf/                      record formats shared with the kernel
  userspace/base/           strings, buffers, logging
  userspace/model/          span record and ring, traceparent, routes, metrics
  userspace/proto/          the protocol interface and connection driver
  userspace/proto/<name>/   one protocol each (may use another: http2 -> http)
  userspace/proto/registry.c  the table of protocols
  exporters/, userspace/conf/  Prometheus and OTLP encoding; configuration
  preload/                  the LD_PRELOAD shim
  userspace/collector/      the collector
  userspace/cmd/            the subcommands

A file may include headers of its own folder and of lower layers. Prints
each violation and exits 1 if there is one.
"""
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RANK = {
    "bpf": 0,
    "userspace/base": 1,
    "userspace/model": 2,
    "userspace/proto": 3,
    "exporters": 6,
    "userspace/conf": 6,
    "preload": 7,
    "userspace/collector": 8,
    "userspace/cmd": 9,
}
PROTOCOL_RANK = 4  # userspace/proto/<name>
REGISTRY_RANK = 5  # userspace/proto/registry.c
USES = {("userspace/proto/http2", "userspace/proto/http")}


def folder_rank(d):
    if d in RANK:
        return RANK[d]
    if d.startswith("userspace/proto/"):
        return PROTOCOL_RANK
    return None


def main():
    dirs = [d for d in RANK if os.path.isdir(os.path.join(TOP, d))]
    pdir = os.path.join(TOP, "userspace/proto")
    dirs += ["userspace/proto/" + p for p in sorted(os.listdir(pdir))
             if os.path.isdir(os.path.join(pdir, p))]
    where = {}
    for d in dirs:
        for f in os.listdir(os.path.join(TOP, d)):
            if f.endswith(".h"):
                where.setdefault(f, d)
    bad = 0
    for d in dirs:
        for f in sorted(os.listdir(os.path.join(TOP, d))):
            if not f.endswith((".c", ".h")):
                continue
            path = d + "/" + f
            rank = REGISTRY_RANK if path == "userspace/proto/registry.c" else folder_rank(d)
            with open(os.path.join(TOP, path), encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                    if not m:
                        continue
                    inc = os.path.basename(m.group(1))
                    if os.path.exists(os.path.join(TOP, d, inc)):
                        continue  # its own folder
                    t = where.get(inc)
                    if t is None:
                        continue  # generated (build/) or a system header
                    tr = folder_rank(t)
                    up = tr > rank or (tr == rank and t != d and (d, t) not in USES)
                    if tr == PROTOCOL_RANK and rank == PROTOCOL_RANK and (d, t) in USES:
                        up = False
                    if up:
                        print(f"{path}:{n}: includes {m.group(1)} from {t}/, "
                              f"which is not below {d}/")
                        bad += 1
    if bad:
        print(f"check-layers: {bad} include(s) point up or sideways")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/sh
# One benchmark run of a server and its load client, both started here so
# that a single obs-run (as a node's agent would) sees the two:
#   pair.sh grpc PORT SECONDS THREADS   grpc_demo.py server + load.py
#   pair.sh h2 PORT SECONDS DIR         nghttpd + h2load -c4 -m32
# Prints the client's result line(s).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kind=$1 port=$2 secs=$3 arg=$4
py=/usr/bin/python3
if [ "$kind" = grpc ]; then
	"$py" "$top/tests/e2e/grpc_demo.py" serve "$port" >/dev/null 2>&1 &
else
	nghttpd --no-tls -d "$arg" "$port" >/dev/null 2>&1 &
fi
srv=$!
i=0
until ss -Hltn "sport = :$port" | grep -q .; do
	i=$((i + 1))
	[ $i -lt 200 ] || { kill "$srv"; echo "pair.sh: server did not start" >&2; exit 1; }
	sleep 0.05
done
if [ "$kind" = grpc ]; then
	"$py" "$here/load.py" "$port" "$secs" "$arg"
else
	h2load -D "$secs" -c 4 -m 32 "http://127.0.0.1:$port/index.html" |
		grep -E '^(finished in|requests:)'
fi
kill "$srv"
wait "$srv" 2>/dev/null || true

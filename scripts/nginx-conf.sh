#!/bin/sh
# Write a self-contained nginx config (foreground, own pid/log/temp paths,
# loopback only) for the demo and the end-to-end tests.
#   scripts/nginx-conf.sh DIR PORT   -> DIR/nginx.conf, DIR/html/index.html
set -eu
dir=${1:?usage: nginx-conf.sh DIR PORT}
port=${2:?usage: nginx-conf.sh DIR PORT}
mkdir -p "$dir/html" "$dir/logs" "$dir/tmp"
[ -e "$dir/html/index.html" ] || echo "hello from nginx under obs" >"$dir/html/index.html"
cat >"$dir/nginx.conf" <<CONF
daemon off;
# Workers must read DIR, which may be a private temporary directory.
user root;
worker_processes 2;
error_log $dir/logs/error.log;
pid $dir/nginx.pid;
events { worker_connections 256; }
http {
	access_log $dir/logs/access.log;
	client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
	server { listen 127.0.0.1:$port; root $dir/html; }
}
CONF

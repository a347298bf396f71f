#!/bin/sh
# Write a self-contained nginx config (foreground, own pid/log/temp paths,
# loopback only) for the demo and the end-to-end tests.
#   scripts/nginx-conf.sh DIR PORT [TLS_PORT]  -> DIR/nginx.conf, DIR/html/index.html
# With TLS_PORT, a self-signed certificate for 127.0.0.1 is made in DIR and
# nginx also serves HTTPS there. The access log records each request's
# traceparent header (what obs injected on the client side).
set -eu
dir=${1:?usage: nginx-conf.sh DIR PORT}
port=${2:?usage: nginx-conf.sh DIR PORT}
mkdir -p "$dir/html" "$dir/logs" "$dir/tmp"
tls_port=${3:-}
tls=""
if [ -n "$tls_port" ]; then
	[ -e "$dir/cert.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
	tls="server { listen 127.0.0.1:$tls_port ssl; root $dir/html;
		ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem; }"
fi
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
	log_format obs '\$remote_addr "\$request" \$status tp=\$http_traceparent';
	access_log $dir/logs/access.log obs;
	client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
	server { listen 127.0.0.1:$port; root $dir/html; }
	$tls
}
CONF

#!/bin/sh
# A throwaway PostgreSQL cluster on 127.0.0.1 for the tests (Debian's
# postgresql, run as the postgres user), with TLS on and a database
# "shop" holding tables items(id, v) and log(x).
#   pg_cluster.sh start DIR PORT    initdb in DIR (made, owned by postgres), start
#   pg_cluster.sh stop DIR          stop it and remove DIR
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "pg_cluster.sh: postgresql is not installed (scripts/deps.sh)" >&2; exit 1; }
dir=$2
case $1 in
start)
	port=$3
	mkdir -p "$dir"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/k.pem" -out "$dir/c.pem" \
		-days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1
	chown -R postgres "$dir"
	runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1
	runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
		"-c listen_addresses=127.0.0.1 -p $port -k $dir -c ssl=on -c ssl_cert_file=$dir/c.pem -c ssl_key_file=$dir/k.pem" \
		start >/dev/null
	psql -qX -h 127.0.0.1 -p "$port" -U postgres -c 'CREATE DATABASE shop' >/dev/null
	psql -qX -h 127.0.0.1 -p "$port" -U postgres -d shop \
		-c 'CREATE TABLE items (id int PRIMARY KEY, v text); CREATE TABLE log (x int)' >/dev/null
	;;
stop)
	[ -d "$dir/data" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$dir"
	;;
*)
	echo "usage: pg_cluster.sh start DIR PORT | stop DIR" >&2
	exit 2
	;;
esac

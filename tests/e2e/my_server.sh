#!/bin/sh
# A throwaway MariaDB server on 127.0.0.1 for the tests (Debian's
# mariadb-server, run as the mysql user), with a database "shop" holding
# tables items(id, v) and log(x), and a user obs (password obs) that may
# use it over TCP.
#   my_server.sh start DIR PORT    install a data directory in DIR, start
#   my_server.sh stop DIR          stop it and remove DIR
set -eu
command -v mariadbd >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
command -v mariadb-install-db >/dev/null 2>&1 ||
	{ echo "my_server.sh: mariadb-server is not installed (scripts/deps.sh)" >&2; exit 1; }
dir=$2
case $1 in
start)
	port=$3
	mkdir -p "$dir"
	chown mysql "$dir"
	mariadb-install-db --no-defaults --datadir="$dir/data" --user=mysql \
		--auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
	mariadbd --no-defaults --datadir="$dir/data" --user=mysql --bind-address=127.0.0.1 \
		--port="$port" --socket="$dir/sock" --pid-file="$dir/pid" --skip-name-resolve \
		--log-error="$dir/log" --innodb-buffer-pool-size=16M --skip-log-bin &
	for _ in $(seq 100); do
		mariadb --no-defaults -uroot --socket="$dir/sock" -e 'SELECT 1' >/dev/null 2>&1 && break
		sleep 0.1
	done
	mariadb --no-defaults -uroot --socket="$dir/sock" -e "
		CREATE DATABASE shop;
		CREATE TABLE shop.items (id int PRIMARY KEY, v text);
		CREATE TABLE shop.log (x int);
		CREATE USER 'obs'@'%' IDENTIFIED BY 'obs';
		GRANT ALL ON shop.* TO 'obs'@'%';"
	;;
stop)
	[ -s "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null &&
		for _ in $(seq 100); do [ -e "$dir/pid" ] || break; sleep 0.1; done
	rm -rf "$dir"
	;;
*)
	echo "usage: my_server.sh start DIR PORT | stop DIR" >&2
	exit 2
	;;
esac

#!/bin/sh
# Install every build and test dependency of obs from Debian packages.
# Idempotent; safe to run on every build. Needs root (apt-get).
set -eu

PKGS="make gcc clang llvm libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev libisal-dev pkg-config
      libmicrohttpd-dev libcmocka-dev libyaml-dev libclang-rt-14-dev
      libcurl4-gnutls-dev libprotobuf-c-dev protobuf-c-compiler openssl
      clang-format cppcheck
      bats curl nginx-light wrk prometheus prometheus-alertmanager python3-yaml bpftrace util-linux mount e2fsprogs iproute2 procps libcap2-bin libseccomp-dev strace golang-go golang-google-grpc-dev python3 nodejs
      python3-grpcio python3-h2 python3-aiohttp nghttp2-client nghttp2-server redis-server python3-redis postgresql python3-psycopg2 golang-github-lib-pq-dev
      golang-github-gomodule-redigo-dev mariadb-server python3-pymysql golang-github-go-sql-driver-mysql-dev
      openjdk-17-jdk-headless cargo librust-tokio-dev librust-tokio-macros-dev librust-hyper-dev"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# npm ships inside nodesource's nodejs; Debian's nodejs needs the npm package
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages:$missing" >&2
	echo "deps.sh: run as root (sudo scripts/deps.sh) to install them" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian's nginx and prometheus packages start services on install; obs's
# tests start their own instances on their own ports, so keep these off.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends $missing >/dev/null

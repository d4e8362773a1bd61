#!/usr/bin/env bash
# Makes sure MariaDB (127.0.0.1:3306) and Redis (127.0.0.1:6379) answer
# (and, with ENSURE_BROWSER=1, that chromium and chromedriver are installed):
# starts the installed servers when they are down, installs them with apt
# on a Debian/Ubuntu machine where we are root and they are missing, and
# otherwise says exactly what to install. Only the default local URLs are
# managed; with MYSQL_URL/REDIS_URL pointing elsewhere, nothing is touched.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do
    port_open "$port" && return 0
    sleep 0.5
  done
  echo "error: $name did not start listening on 127.0.0.1:$port" >&2
  exit 1
}

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

apt_install() {
  echo "installing $* with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_mariadb() {
  if [ -n "${MYSQL_URL:-}" ] && [ "${MYSQL_URL}" != "mysql://root@127.0.0.1:3306" ]; then return 0; fi
  port_open 3306 && return 0
  local fresh=0
  if [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ]; then
    if can_apt; then apt_install mariadb-server; fresh=1
    else
      echo "error: MariaDB is not installed. Install MariaDB 10.11 (Debian: apt-get install mariadb-server) and start it on 127.0.0.1:3306 with root and an empty password, or set MYSQL_URL." >&2
      exit 1
    fi
  fi
  echo "starting MariaDB" >&2
  local daemon=/usr/sbin/mariadbd
  [ -x "$daemon" ] || daemon=/usr/sbin/mysqld
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec "$daemon"
  wait_port 3306 MariaDB
  if [ "$fresh" = 1 ]; then
    # A fresh Debian install lets root in only over the socket; the
    # fleet's development default is root with an empty password over TCP.
    mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" || true
  fi
}

ensure_redis() {
  if [ -n "${REDIS_URL:-}" ] && [ "${REDIS_URL}" != "redis://127.0.0.1:6379" ]; then return 0; fi
  port_open 6379 && return 0
  if ! command -v redis-server >/dev/null; then
    if can_apt; then apt_install redis-server
    else
      echo "error: Redis is not installed. Install Redis 7 (Debian: apt-get install redis-server) and start it on 127.0.0.1:6379, or set REDIS_URL." >&2
      exit 1
    fi
  fi
  echo "starting Redis" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_port 6379 Redis
}

# The console's browser tests drive Debian's headless chromium through
# chromedriver (no browser download at build or test time).
ensure_browser() {
  command -v chromium >/dev/null && command -v chromedriver >/dev/null && return 0
  if can_apt; then apt_install chromium chromium-driver
  else
    echo "error: the console's browser tests need chromium and chromedriver (Debian: apt-get install chromium chromium-driver)." >&2
    exit 1
  fi
}

ensure_mariadb
ensure_redis
if [ "${ENSURE_BROWSER:-0}" = 1 ]; then ensure_browser; fi

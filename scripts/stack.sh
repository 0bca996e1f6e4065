#!/usr/bin/env bash
# Starts and stops a private stack in one folder: MariaDB, Redis, the queue
# writer, the FastCGI pool and nginx, each on unix sockets or loopback ports
# inside DIR. `make run` uses DIR=run; the integration tests and benchmarks
# use temporary folders. Nothing system-wide is touched.
#
#   scripts/stack.sh start DIR     start (a running stack is left as it is)
#   scripts/stack.sh stop DIR      stop every process of DIR's stack
#   scripts/stack.sh status DIR    which pieces run
#
# Settings (environment): HTTP_ADDR=127.0.0.1 HTTP_PORT=8080 POOL=supervisor
# (or spawn-fcgi) WORKERS=4 THREADS=32 NGINX_WORKERS=2
# NGINX_KEEPALIVE=WORKERS*THREADS/(2*NGINX_WORKERS)
# MAX_REQUESTS=0 TEST_CLOCK=off DEMO=1 WRITER=1 BATCH_SIZE=500 BATCH_MS=50
# BUILD=build
# POOL_TCP_PORT=N   pool listens on 127.0.0.1:N and nginx uses the TCP
#                   upstream variant (how a pool on another host is reached)
# UPSTREAM_KEEPALIVE=on|off   off drops `keepalive` and `fastcgi_keep_conn`
#                   (only for the TIME_WAIT comparison in bench/)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
dir_arg=${2:-}
[ -n "$cmd" ] && [ -n "$dir_arg" ] || { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }
mkdir -p "$dir_arg"
dir=$(cd "$dir_arg" && pwd)

HTTP_ADDR=${HTTP_ADDR:-127.0.0.1}
HTTP_PORT=${HTTP_PORT:-8080}
POOL=${POOL:-supervisor}
WORKERS=${WORKERS:-4}
THREADS=${THREADS:-32}
NGINX_WORKERS=${NGINX_WORKERS:-2}
# The sizing rule (nginx/README.md): keepalive caches may pin at most half
# the pool's connections, so the default keepalive is derived from the pool.
NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-$(( WORKERS * THREADS / (2 * NGINX_WORKERS) ))}
MAX_REQUESTS=${MAX_REQUESTS:-0}
TEST_CLOCK=${TEST_CLOCK:-off}
DEMO=${DEMO:-1}
WRITER=${WRITER:-1}
BATCH_SIZE=${BATCH_SIZE:-500}
BATCH_MS=${BATCH_MS:-50}
BUILD=${BUILD:-build}
POOL_TCP_PORT=${POOL_TCP_PORT:-}
UPSTREAM_KEEPALIVE=${UPSTREAM_KEEPALIVE:-on}
case "$BUILD" in /*) bin=$BUILD ;; *) bin=$top/$BUILD ;; esac

admin=$(id -un)
log() { echo "stack: $*"; }

alive() {  # alive PIDFILE -> 0 when every pid in it runs
  [ -s "$1" ] || return 1
  local p
  for p in $(cat "$1"); do kill -0 "$p" 2>/dev/null || return 1; done
}

wait_gone() {  # wait_gone SECONDS PID...
  local limit=$(( $1 * 10 )) i=0; shift
  while [ $i -lt $limit ]; do
    local any=0 p
    for p in "$@"; do
      if kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' /proc/$p/status 2>/dev/null; then any=1; fi
    done
    [ $any -eq 0 ] && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

stop_pidfile() {  # stop_pidfile NAME PIDFILE SIGNAL SECONDS
  local name=$1 file=$2 sig=$3 secs=$4
  [ -s "$file" ] || { rm -f "$file"; return 0; }
  local pids
  pids=$(cat "$file")
  kill -"$sig" $pids 2>/dev/null || true
  if ! wait_gone "$secs" $pids; then
    log "$name did not stop in ${secs}s; killing it"
    kill -KILL $pids 2>/dev/null || true
    wait_gone 5 $pids || true
  fi
  rm -f "$file"
}

fail() {
  echo "stack: $1" >&2
  [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 30 "$2" >&2
  "$0" stop "$dir" >/dev/null 2>&1 || true
  exit 1
}

wait_for() {  # wait_for SECONDS CMD... -> 0 once CMD succeeds
  local limit=$(( $1 * 10 )) i=0; shift
  while [ $i -lt $limit ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

sql_admin() { mariadb --no-defaults -S "$dir/mysql.sock" -u "$admin" "$@"; }

write_conf() {
  local listen=""
  [ "$POOL" = supervisor ] && listen="unix:$dir/popup.sock"
  [ "$POOL" = supervisor ] && [ -n "$POOL_TCP_PORT" ] && listen="127.0.0.1:$POOL_TCP_PORT"
  cat > "$dir/popup.conf" <<CONF
# Written by scripts/stack.sh for the stack in $dir.
listen = $listen
backlog = 4096
workers = $WORKERS
threads = $THREADS
max_requests = $MAX_REQUESTS
state_dir = $dir/state
nginx_workers = $NGINX_WORKERS
nginx_keepalive = $NGINX_KEEPALIVE
redis = unix:$dir/redis.sock
mysql_socket = $dir/mysql.sock
mysql_user = popup
mysql_password = popup
mysql_db = popup
batch_size = $BATCH_SIZE
batch_ms = $BATCH_MS
writer_id = w1
test_clock = $TEST_CLOCK
CONF
}

start_mariadb() {
  alive "$dir/mysql.pid" && return 0
  if [ ! -d "$dir/mysql/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$dir/mysql" --user="$admin" \
      --auth-root-authentication-method=socket --skip-test-db > "$dir/log/mariadb-install.log" 2>&1 ||
      fail "mariadb-install-db failed" "$dir/log/mariadb-install.log"
  fi
  local user_opt=()
  [ "$(id -u)" -eq 0 ] && user_opt=(--user=root)
  nohup mariadbd --no-defaults --datadir="$dir/mysql" --socket="$dir/mysql.sock" \
    --skip-networking --pid-file="$dir/mysql.pid" --log-error="$dir/log/mariadb.log" \
    --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 --innodb-log-file-size=128M \
    --max-connections=1000 --skip-name-resolve "${user_opt[@]}" \
    < /dev/null > /dev/null 2>&1 &
  wait_for 60 mariadb-admin --no-defaults -S "$dir/mysql.sock" -u "$admin" ping ||
    fail "MariaDB did not start" "$dir/log/mariadb.log"
  sql_admin -e "CREATE DATABASE IF NOT EXISTS popup CHARACTER SET utf8mb4;
    CREATE USER IF NOT EXISTS 'popup'@'localhost' IDENTIFIED BY 'popup';
    GRANT ALL ON popup.* TO 'popup'@'localhost';"
  MYSQL_ADMIN=$admin "$top/scripts/migrate.sh" "$dir/mysql.sock" popup
}

start_redis() {
  alive "$dir/redis.pid" && return 0
  cat > "$dir/redis.conf" <<CONF
port 0
unixsocket $dir/redis.sock
unixsocketperm 700
dir $dir/redis
pidfile $dir/redis.pid
logfile $dir/log/redis.log
daemonize yes
appendonly yes
appendfsync everysec
save ""
maxmemory 512mb
# User state keys carry a TTL; the queue and configuration keys do not, so
# they are never evicted.
maxmemory-policy volatile-lru
CONF
  redis-server "$dir/redis.conf" || fail "redis-server failed" "$dir/log/redis.log"
  wait_for 20 redis-cli -s "$dir/redis.sock" ping || fail "Redis did not start" "$dir/log/redis.log"
}

start_writer() {
  [ "$WRITER" = 1 ] || return 0
  alive "$dir/writer.pid" && return 0
  nohup "$bin/popup-writer" --config "$dir/popup.conf" < /dev/null >> "$dir/log/writer.log" 2>&1 &
  echo $! > "$dir/writer.pid"
}

start_pool() {
  alive "$dir/popupd.pid" && return 0
  "$bin/popupd" --check --config "$dir/popup.conf" > /dev/null || fail "popupd --check refused $dir/popup.conf"
  rm -f "$dir/popup.sock"
  local where=(-s "$dir/popup.sock" -M 0660)
  [ -n "$POOL_TCP_PORT" ] && where=(-a 127.0.0.1 -p "$POOL_TCP_PORT")
  if [ "$POOL" = spawn-fcgi ]; then
    spawn-fcgi "${where[@]}" -F "$WORKERS" -P "$dir/popupd.pid" \
      -- "$bin/popupd" --config "$dir/popup.conf" >> "$dir/log/popupd.log" 2>&1 ||
      fail "spawn-fcgi failed" "$dir/log/popupd.log"
  else
    nohup "$bin/popupd" --config "$dir/popup.conf" < /dev/null >> "$dir/log/popupd.log" 2>&1 &
    echo $! > "$dir/popupd.pid"
  fi
  if [ -n "$POOL_TCP_PORT" ]; then
    wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$POOL_TCP_PORT" ||
      fail "the pool does not listen on 127.0.0.1:$POOL_TCP_PORT" "$dir/log/popupd.log"
  else
    wait_for 20 test -S "$dir/popup.sock" || fail "the pool did not open $dir/popup.sock" "$dir/log/popupd.log"
  fi
}

start_nginx() {
  alive "$dir/nginx/nginx.pid" && return 0
  local user_line=""
  [ "$(id -u)" -eq 0 ] && user_line="user root;"
  mkdir -p "$dir/nginx"
  local server="unix:$dir/popup.sock" keepalive="keepalive $NGINX_KEEPALIVE;" keep_conn=on
  [ -n "$POOL_TCP_PORT" ] && server="127.0.0.1:$POOL_TCP_PORT"
  if [ "$UPSTREAM_KEEPALIVE" = off ]; then keepalive=""; keep_conn=off; fi
  sed -e "s|@USER_LINE@|$user_line|" -e "s|@NGINX_WORKERS@|$NGINX_WORKERS|" \
      -e "s|@UPSTREAM_KEEPALIVE@|$keepalive|" -e "s|@KEEP_CONN@|$keep_conn|" \
      -e "s|@NGINX_KEEPALIVE@|$NGINX_KEEPALIVE|" -e "s|@RUN_DIR@|$dir|g" \
      -e "s|@POOL_SERVER@|$server|" -e "s|@HTTP_ADDR@|$HTTP_ADDR|" \
      -e "s|@HTTP_PORT@|$HTTP_PORT|" -e "s|@TOP@|$top|" \
      "$top/nginx/nginx.conf.in" > "$dir/nginx/nginx.conf"
  nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/log/nginx-error.log" \
    2>> "$dir/log/nginx-error.log" || fail "nginx did not start" "$dir/log/nginx-error.log"
  wait_for 20 curl -sf "http://$HTTP_ADDR:$HTTP_PORT/static-ok" ||
    fail "nginx does not answer on $HTTP_ADDR:$HTTP_PORT" "$dir/log/nginx-error.log"
}

start() {
  [ ${#dir} -le 80 ] || fail "$dir is too long for unix socket paths; use a shorter folder"
  for f in popupd popup-writer popupctl; do
    [ -x "$bin/$f" ] || fail "$bin/$f is missing: run make first"
  done
  mkdir -p "$dir"/{mysql,redis,log,state,nginx}
  write_conf
  start_mariadb
  start_redis
  if [ "$DEMO" = 1 ]; then
    mariadb --no-defaults -S "$dir/mysql.sock" -u popup -ppopup popup < "$top/sql/demo.sql"
  fi
  "$bin/popupctl" --config "$dir/popup.conf" publish > /dev/null ||
    fail "popupctl publish failed"
  start_writer
  start_pool
  start_nginx
  local url="http://$HTTP_ADDR:$HTTP_PORT"
  cat <<MSG
stack: running in $dir ($POOL pool: $WORKERS workers x $THREADS threads; logs in $dir/log)
  $url/api/popup?uid=alice
  curl '$url/api/popup?uid=alice'
  curl -X POST -d 'uid=alice&popup_id=1&action=click' $url/api/popup/action
  curl '$url/api/healthz'
  curl '$url/api/metrics'
MSG
}

stop() {
  stop_pidfile nginx "$dir/nginx/nginx.pid" QUIT 15
  stop_pidfile popupd "$dir/popupd.pid" TERM 15
  stop_pidfile floor "$dir/floor.pid" TERM 10
  stop_pidfile writer "$dir/writer.pid" TERM 15
  stop_pidfile redis "$dir/redis.pid" TERM 15
  stop_pidfile mariadb "$dir/mysql.pid" TERM 60
  # Anything of this stack that escaped its pid file (a respawned worker,
  # a process restarted by a test) is found by its command line.
  local stray
  stray=$(pgrep -f -- "$dir/" || true)
  if [ -n "$stray" ]; then
    kill -TERM $stray 2>/dev/null || true
    wait_gone 10 $stray || kill -KILL $stray 2>/dev/null || true
  fi
  rm -f "$dir/popup.sock" "$dir/floor.sock"
}

status() {
  local name file
  for name in mysql redis writer popupd floor nginx/nginx; do
    file="$dir/$name.pid"
    if alive "$file"; then echo "$name: running ($(tr '\n' ' ' < "$file"))"; else echo "$name: stopped"; fi
  done
}

case "$cmd" in
  start)
    if alive "$dir/nginx/nginx.pid" && alive "$dir/popupd.pid" && alive "$dir/mysql.pid"; then
      echo "stack: already running in $dir"; exit 0
    fi
    start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status DIR" >&2; exit 2 ;;
esac

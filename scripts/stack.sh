#!/usr/bin/env bash
# Starts and stops a private stack in one folder: MariaDB, Redis, the queue
# writer, the FastCGI pool and nginx, on unix sockets inside DIR and one
# loopback HTTP port. `make run` uses DIR=run; the integration tests and the
# benchmarks use temporary folders. Nothing system-wide is touched, and it
# works as root (CI) and as a normal user.
#
#   scripts/stack.sh start DIR     start what is not running yet
#   scripts/stack.sh stop DIR      stop every process of DIR's stack
#   scripts/stack.sh status DIR    which pieces run and whether the pool's
#                                  socket answers (exit 3 when not all)
#   scripts/stack.sh reload DIR    after an edit of DIR/popup.local.conf (or
#                                  popup.conf): reload the pool (SIGHUP) and
#                                  point nginx at its worker sockets (their
#                                  number may change)
#
# A relative DIR is taken relative to the checkout, so `make run` and
# `scripts/stack.sh stop run` name the same folder from anywhere.
#
# Settings (environment, with defaults):
#   HTTP_ADDR=127.0.0.1 HTTP_PORT=8080   where nginx listens
#   POOL=supervisor|spawn-fcgi           who runs the popupd processes
#   WORKERS=nproc THREADS=2 MAX_REQUESTS=0   pool size, recycling (0 =
#                                        never)
#   NGINX_WORKERS=2
#   NGINX_KEEPALIVE=1024                 kept pool connections per nginx
#                                        worker (nginx/README.md)
#   TEST_CLOCK=off DEMO=1 WRITER=1 BATCH_SIZE=1000 BATCH_MS=50
#   FLUSH_MS=5 FLUSH_EVENTS=200          the workers' write-behind
#   REDIS_MAXMEMORY=512mb BUILD=build
#   MYSQL_BUFFER_POOL=256M  MariaDB's innodb_buffer_pool_size (a number with
#                     K, M or G): size it to hold the data; `make bench`
#                     sets 2G, its users and events outgrow 256M and the
#                     page flushing then loads the whole box (bench/README.md)
#   POOL_TCP_PORT=N   the pool listens on 127.0.0.1:N and nginx reaches it
#                     over TCP (how a pool on another host is reached), with
#                     the same pool shape and keepalive as over unix sockets
#                     (kept connections cost no thread: nginx/README.md)
#   UPSTREAM_KEEPALIVE=on|off   off drops `keepalive` and `fastcgi_keep_conn`
#                     (only for the TIME_WAIT comparison in bench/)
#   CORS_ORIGINS=     popup.conf's cors_origins: origins whose pages may
#                     call the API from the browser ("*", or
#                     "http://127.0.0.1:8081,https://shop.example"); empty: none
#   ADMIN_LISTEN=     popup.conf's admin_listen: the operator endpoints'
#                     own socket (unix:/path or host:port); empty: none.
#                     nginx reaches it only through what NGINX_INCLUDE adds
#                     (popupd --check prints the pieces; nginx/README.md)
#   STORES_BIND=ADDR  Redis and MariaDB also on ADDR:6379 and ADDR:3306, with
#                     the accounts for STORES_CLIENTS (host pattern, %)
#   STORES_ONLY=1     only MariaDB and Redis (migrated, published): a store host
#   REDIS_AUTH=0|1    Redis with a password (DIR/redis.password, made once;
#                     `requirepass`, and `redis_password` in popup.conf);
#                     default 1 with STORES_BIND, else 0 (the unix socket in
#                     the closed DIR is enough)
#   EXTERNAL_STORES=ADDR  no stores of its own: those on ADDR (6379, 3306),
#                     with the store host's DIR/mysql.password and
#                     DIR/popupctl.password (and DIR/redis.password, if it
#                     has one) copied here first: a pool host
#   WRITE_BEHIND_SCHED=batch|other  the CPU policy of MariaDB and the writer:
#                     batch (default) starts both under SCHED_BATCH (`chrt
#                     --batch 0`): a fair share of the CPU as before, but a
#                     batch that wakes never preempts the request path
#                     (nginx, the pool, Redis) on a shared box; other: the
#                     default policy (README, Performance)
#   ACCESS_LOG=on|private|off  nginx's access log in DIR/log/nginx-access.log
#                     (private: log_format popup_private, no query string, so
#                     no uid; the benchmarks turn it off)
#   NGINX_INCLUDE=DIR  bench/ and tests: nginx.conf includes DIR/main.conf,
#                     DIR/http.conf and DIR/server.conf (each that exists)
#                     at the main, http and server level; `make bench` loads
#                     lua-nginx-module this way (bench/lua/), whose code
#                     reads Redis: as root, nginx's workers then run as the
#                     service account, not www-data. Empty: none
#
# Access: DIR is closed to other users and everything in it is made with
# umask 077, so no other local user reaches its sockets, configuration,
# logs or data. The service's MariaDB account `popup` has a password
# generated at the first start (DIR/mysql.password, 0600; it reaches
# MariaDB on stdin, never on a command line) and only the row privileges
# that popupd and the writer use (sql/grants.sql). popupctl has its own
# account `popupctl` (DIR/popupctl.password, DIR/popupctl.conf, both 0600)
# with the authoring privileges: `popupctl --config DIR/popupctl.conf`.
# Migrations, the demo data and the tests' own queries use the datadir's
# superuser, which MariaDB authenticates by the OS user on its socket.
# Started as root, each daemon runs as its own account: MariaDB as mysql,
# Redis as redis, the writer and the pool as the service account (SUDO_USER,
# else the system user popup, made on first use), nginx's workers as
# www-data; only nginx's master stays root. Each reaches only the sockets
# it needs (scripts/stack/accounts.sh). Started as another user,
# everything runs as that user in a 0700 DIR.
#
# Configuration: DIR/popup.conf is the stack's, written again on a start
# that starts the pool, with only the keys the stack sets
# (scripts/stack/popup.conf.in). It includes DIR/popup.local.conf at its
# end: the operator's file, made once and never rewritten, whose keys win;
# `reload` applies an edit of it. redis.conf, mariadb.cnf and nginx.conf
# come from templates too (scripts/stack/*.in, nginx/nginx.conf.in).
#
# The pieces, one concern per file, sourced below: scripts/stack/common.sh
# (logging, templates, processes), accounts.sh, checks.sh, config.sh,
# mariadb.sh, redis.sh, writer.sh, pool.sh, nginx.sh.
#
# Every long-running process is started in a session of its own (setsid), so
# it outlives the shell that ran `make run`, and `stop` can signal its whole
# process group: workers of a supervisor that had to be killed go with it.
# Pid files are trusted only for processes that still run one of the stack's
# programs on DIR, so a stale pid file never gets a stranger signalled. The
# supervisor pool's popupd holds an flock on popupd.pid while it runs
# (pid_file in popup.conf), so pid files are written in place, never
# removed or renamed while their process may run: a second pool then finds
# the lock and refuses to start.
#
# Demo data (DEMO=1) goes into MySQL once, on the start that creates the
# database; later starts leave the popups alone and publish a configuration
# only when Redis holds none, so a restart changes neither what an operator
# set nor the configuration version.
set -euo pipefail
umask 077

top=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: $0 start|stop|status|reload DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
case "$2" in /*) dir=$2 ;; *) dir=$top/$2 ;; esac
dir=$(realpath -m -- "$dir")

HTTP_ADDR=${HTTP_ADDR:-127.0.0.1}
HTTP_PORT=${HTTP_PORT:-8080}
POOL=${POOL:-supervisor}
WORKERS=${WORKERS:-}
THREADS=${THREADS:-}
NGINX_WORKERS=${NGINX_WORKERS:-2}
NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-}
MAX_REQUESTS=${MAX_REQUESTS:-0}
BACKLOG=4096   # the pool's listen backlog, whoever opens the socket
TEST_CLOCK=${TEST_CLOCK:-off}
DEMO=${DEMO:-1}
WRITER=${WRITER:-1}
BATCH_SIZE=${BATCH_SIZE:-1000}
BATCH_MS=${BATCH_MS:-50}
FLUSH_MS=${FLUSH_MS:-5}
FLUSH_EVENTS=${FLUSH_EVENTS:-200}
REDIS_MAXMEMORY=${REDIS_MAXMEMORY:-512mb}
MYSQL_BUFFER_POOL=${MYSQL_BUFFER_POOL:-256M}
BUILD=${BUILD:-build}
KEY_PREFIX=popup   # popupd's default key_prefix; load_config reads its version key
POOL_TCP_PORT=${POOL_TCP_PORT:-}
UPSTREAM_KEEPALIVE=${UPSTREAM_KEEPALIVE:-on}
NGINX_INCLUDE=${NGINX_INCLUDE:-}
CORS_ORIGINS=${CORS_ORIGINS:-}
ADMIN_LISTEN=${ADMIN_LISTEN:-}
ACCESS_LOG=${ACCESS_LOG:-on}
WRITE_BEHIND_SCHED=${WRITE_BEHIND_SCHED:-batch}
STORES_BIND=${STORES_BIND:-}
REDIS_AUTH=${REDIS_AUTH:-$([ -n "$STORES_BIND" ] && echo 1 || echo 0)}
STORES_CLIENTS=${STORES_CLIENTS:-%}
STORES_ONLY=${STORES_ONLY:-0}
EXTERNAL_STORES=${EXTERNAL_STORES:-}
case "$BUILD" in /*) bin=$BUILD ;; *) bin=$top/$BUILD ;; esac

admin=$(id -un)   # the socket-authenticated MariaDB superuser of the datadir
case "$HTTP_ADDR" in *:*) http_host="[$HTTP_ADDR]" ;; *) http_host=$HTTP_ADDR ;; esac
url="http://$http_host:$HTTP_PORT"

here=$top/scripts/stack   # the pieces and the templates
for piece in common accounts checks config mariadb redis writer pool nginx; do
  # shellcheck source=/dev/null
  . "$top/scripts/stack/$piece.sh"
done

# The URL of a stack that is already running: its nginx.conf knows the port
# it was started with, which need not be this call's HTTP_PORT.
running_url() {
  local listen
  listen=$(sed -n 's/^ *listen \([^ ;]*\).*/\1/p' "$dir/nginx/nginx.conf" 2>/dev/null | head -n 1)
  if [ -n "$listen" ]; then echo "http://$listen"; else echo "$url"; fi
}

# name:pid file, in start order; stop goes the other way.
pieces=(mariadb:mysql.pid redis:redis.pid writer:writer.pid pool:popupd.pid
        floor:floor.pid floor-redis:floor-redis.pid floor-pinned:floor-pinned.pid
        nginx:nginx/nginx.pid)

stop_stack() {
  stopped=()
  stop_piece nginx nginx/nginx.pid QUIT 15
  stop_piece pool popupd.pid TERM 15
  stop_piece floor floor.pid TERM 10
  stop_piece floor-redis floor-redis.pid TERM 10
  stop_piece floor-pinned floor-pinned.pid TERM 10
  stop_piece writer writer.pid TERM 15
  stop_piece redis redis.pid TERM 30
  stop_piece mariadb mysql.pid TERM 60
  sweep_strays
  rm -f "$dir"/{popup,floor,floor-redis,floor-pinned,redis,mysql}.sock \
    "$dir"/{mysql,redis}.run/{mysql,redis}.{sock,pid}
  if [ ${#stopped[@]} -gt 0 ]; then log "stopped ${stopped[*]} in $dir"
  else log "nothing was running in $dir"; fi
}

print_usage_lines() {
  cat <<MSG
stack: running in $dir ($POOL pool: $WORKERS workers x $THREADS threads; nginx: $NGINX_WORKERS workers x keepalive $NGINX_KEEPALIVE; logs in $dir/log)
  open $url/ for the demo shop (web/), or:
  curl '$url/api/popup?uid=alice'
  curl '$url/api/popup?uid=alice&platform=ios&version=2.1&lang=de'
  curl -X POST -d 'uid=alice&popup_id=1&action=click' '$url/api/popup/action'
  curl -X POST -H 'Content-Type: application/json' -d '{"uid":"bob","popup_id":1,"action":"ignore"}' '$url/api/popup/action'
  curl '$url/api/healthz'
  curl '$url/api/metrics'
  your settings: $dir/popup.local.conf (kept; \`$0 reload $dir\` applies an edit)
  $0 stop $dir
MSG
}

start() {
  check_settings
  check_dir
  check_programs
  service_account
  prepare_dir
  exec 9> "$dir/.stack.lock"
  flock -w 120 9 || fail "another stack.sh is busy with $dir"
  ensure_password

  local name file up=() down=()
  for name in "${pieces[@]}"; do
    file=${name#*:}; name=${name%%:*}
    wanted "$name" || continue
    if running "$file"; then up+=("$name"); else down+=("$name"); fi
  done
  if [ ${#down[@]} -eq 0 ]; then
    log "already running in $dir ($(running_url))"
    exit 0
  fi
  [ "$STORES_ONLY" = 1 ] || check_ports
  ensure_local_conf
  if [ ${#up[@]} -gt 0 ] && [ -f "$dir/popup.conf" ]; then
    log "${up[*]} already running; starting ${down[*]} with the existing $dir/popup.conf"
  else
    write_conf
  fi
  # The sizing rule and every value's check are popupd's.
  "$bin/popupd" --check --config "$dir/popup.conf" > "$dir/log/popupd-check.log" 2>&1 ||
    fail "popupd --check refused $dir/popup.conf (with $dir/popup.local.conf)" "$dir/log/popupd-check.log"
  write_ctl_conf

  starting=1
  trap 'fail "interrupted"' INT TERM
  set -E
  trap 'fail "a step failed at line $LINENO of $BASH_SOURCE"' ERR
  if [ -z "$EXTERNAL_STORES" ]; then start_mariadb; migrate; start_redis; load_config; fi
  if [ "$STORES_ONLY" = 1 ]; then
    trap - ERR INT TERM; log "stores running in $dir${STORES_BIND:+ and on $STORES_BIND}"; return 0
  fi
  start_writer
  start_pool
  start_nginx
  wait_up 30 popupd.pid pool_answers ||
    fail "nginx runs but the pool does not answer /api/healthz" "$dir/log/popupd.log"
  if [ "$WRITER" = 1 ] && ! running writer.pid; then
    fail "popup-writer exited" "$dir/log/writer.log"
  fi
  trap - ERR INT TERM
  print_usage_lines
}

stop() {
  if [ ! -d "$dir" ]; then log "nothing was running in $dir"; return 0; fi
  exec 9> "$dir/.stack.lock"
  flock -w 120 9 || { echo "stack: another stack.sh is busy with $dir" >&2; exit 1; }
  stop_stack
}

status() {
  local name file pids missing=0
  for name in "${pieces[@]}"; do
    file=${name#*:}; name=${name%%:*}
    case $name in floor*) ;; *) wanted "$name" || continue ;; esac
    mapfile -t pids < <(live_pids "$dir/$file")
    if [ ${#pids[@]} -gt 0 ] && [ "$name" = pool ] && ! pool_socket_answers; then
      printf '%-8s NOT ANSWERING on %s (pid %s)\n' "$name" "$(pool_address)" "${pids[*]}"
      missing=1
    elif [ ${#pids[@]} -gt 0 ]; then
      printf '%-8s running (pid %s)\n' "$name" "${pids[*]}"
    else
      printf '%-8s stopped\n' "$name"
      case $name in mariadb|redis|pool|nginx) missing=1 ;; esac
    fi
  done
  [ $missing -eq 0 ] && [ "$STORES_ONLY" = 1 ] && return 0
  [ $missing -eq 0 ] && echo "url      $(running_url)" && return 0
  return 3
}

# reload: after an edit of popup.local.conf (or popup.conf), which popupd
# --check must accept first; the files are not rewritten.
reload() {
  [ -f "$dir/popup.conf" ] && [ -f "$dir/nginx/nginx.conf" ] || fail "no stack in $dir"
  exec 9> "$dir/.stack.lock"
  flock -w 120 9 || fail "another stack.sh is busy with $dir"
  grep -q '^listen = ..*' "$dir/popup.conf" || POOL=spawn-fcgi
  "$bin/popupd" --check --config "$dir/popup.conf" > "$dir/log/popupd-check.log" 2>&1 ||
    fail "popupd --check refused $dir/popup.conf" "$dir/log/popupd-check.log"
  running popupd.pid && running nginx/nginx.pid || fail "the pool or nginx is not running in $dir"
  reload_pool
  reload_nginx
}

# redis-cli (here, and in the tests' harness) finds the password here.
[ ! -s "$dir/redis.password" ] || export REDISCLI_AUTH="$(cat "$dir/redis.password")"

case "$cmd" in
  start) start ;;
  reload) reload ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac

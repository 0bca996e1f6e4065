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
#   scripts/stack.sh reload DIR    after an edit of DIR/popup.conf: reload
#                                  the pool (SIGHUP) and point nginx at its
#                                  worker sockets (their number may change)
#
# A relative DIR is taken relative to the checkout, so `make run` and
# `scripts/stack.sh stop run` name the same folder from anywhere.
#
# Settings (environment, with defaults):
#   HTTP_ADDR=127.0.0.1 HTTP_PORT=8080   where nginx listens
#   POOL=supervisor|spawn-fcgi           who runs the popupd processes
#   WORKERS=nproc THREADS=8 MAX_REQUESTS=0   pool size, recycling (0 =
#                                        never)
#   NGINX_WORKERS=2
#   NGINX_KEEPALIVE=1024                 kept pool connections per nginx
#                                        worker (nginx/README.md)
#   TEST_CLOCK=off DEMO=1 WRITER=1 BATCH_SIZE=1000 BATCH_MS=50
#   FLUSH_MS=5 FLUSH_EVENTS=200          the workers' write-behind
#   REDIS_MAXMEMORY=512mb BUILD=build
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
#   ACCESS_LOG=on|off nginx's access log in DIR/log/nginx-access.log (the
#                     benchmarks turn it off)
#   NGINX_INCLUDE=DIR  bench/ and tests: nginx.conf includes DIR/main.conf,
#                     DIR/http.conf and DIR/server.conf (each that exists)
#                     at the main, http and server level; `make bench` loads
#                     lua-nginx-module this way (bench/lua/). Empty: none
#
# Access (issue 12): DIR is 0700 and everything in it is made with umask
# 077, so no other local user reaches its sockets, configuration, logs or
# data. The service's MariaDB account `popup` has a password generated at
# the first start (DIR/mysql.password, 0600; it reaches MariaDB on stdin,
# never on a command line) and only the row privileges that popupd and the
# writer use, table by table (grant_service): no DDL, no triggers, no
# schema_migrations, no mysql.*, no write to popups. popupctl has its own
# account `popupctl` (DIR/popupctl.password, DIR/popupctl.conf, both 0600)
# with the authoring privileges: `popupctl --config DIR/popupctl.conf`.
# Migrations, the demo data and the tests' own queries use the datadir's
# superuser, which MariaDB authenticates by the OS user on its socket.
# Started as root, MariaDB, Redis, the writer, the pool and nginx's workers
# run as an unprivileged account (SUDO_USER, else the system user popup,
# made on first use) and its group, which alone reaches the 0660 sockets;
# only nginx's master stays root (service_account, prepare_dir). Started
# as another user, everything runs as that user in a 0700 DIR.
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
BUILD=${BUILD:-build}
KEY_PREFIX=popup   # popup.conf's key_prefix; load_config reads its version key
POOL_TCP_PORT=${POOL_TCP_PORT:-}
UPSTREAM_KEEPALIVE=${UPSTREAM_KEEPALIVE:-on}
NGINX_INCLUDE=${NGINX_INCLUDE:-}
CORS_ORIGINS=${CORS_ORIGINS:-}
ADMIN_LISTEN=${ADMIN_LISTEN:-}
ACCESS_LOG=${ACCESS_LOG:-on}
case "$BUILD" in /*) bin=$BUILD ;; *) bin=$top/$BUILD ;; esac

admin=$(id -un)   # the socket-authenticated MariaDB superuser of the datadir
case "$HTTP_ADDR" in *:*) http_host="[$HTTP_ADDR]" ;; *) http_host=$HTTP_ADDR ;; esac
url="http://$http_host:$HTTP_PORT"

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

log() { echo "stack: $*"; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# ------------------------------------------------------- the service account

# svc_user/svc_group: who runs MariaDB, Redis, the writer, the pool and
# nginx's workers. As root: SUDO_USER when sudo started us (and it is not
# root), else the system user `popup` (made on first use); svc_group is that
# user's primary group, the only group the stack's sockets are shared with.
# Otherwise the invoking user, as before. as_svc: the command prefix that
# drops to that account (empty when not root).
svc_user=$(id -un)
svc_group=$(id -gn)
as_svc=()
service_account() {
  is_root || return 0
  if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && id -u "$SUDO_USER" > /dev/null 2>&1; then
    svc_user=$SUDO_USER
  else
    svc_user=popup
    if ! id -u popup > /dev/null 2>&1; then
      command -v useradd > /dev/null || fail "useradd is missing: cannot create the system user popup"
      # Two stacks starting at once may both try: the loser finds the user.
      useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin popup 2> /dev/null || id -u popup > /dev/null 2>&1 ||
        fail "could not create the system user popup (useradd --system popup)"
      log "created the system user popup for the stack's services"
    fi
  fi
  [ "$(id -u "$svc_user")" -ne 0 ] || fail "the service account $svc_user is root"
  svc_group=$(id -gn "$svc_user")
  command -v setpriv > /dev/null || fail "setpriv (util-linux) is not installed"
  # No supplementary groups: the account's own group is the only one.
  as_svc=(setpriv --reuid="$svc_user" --regid="$svc_group" --clear-groups --)
}

# give_svc FILE...: as root, FILE belongs to the service account (its data,
# logs it opens by name); no-op otherwise.
give_svc() { if is_root; then chown "$svc_user:$svc_group" "$@"; fi; }

# share_svc FILE...: as root, root-owned, readable by the service's group
# (0640, 0750 for folders): what the services read but must not change,
# because root reads it too (popup.conf goes through popupd --check into
# nginx.conf, which nginx's root master loads). No-op otherwise.
share_svc() {
  is_root || return 0
  chown "root:$svc_group" "$@"
  local f
  for f in "$@"; do if [ -d "$f" ]; then chmod 750 "$f"; else chmod 640 "$f"; fi; done
}

# new_log NAME: DIR/log/NAME exists, owned by the service account, for a
# service that opens its log by name (Redis, MariaDB) or whose output the
# dropped shell appends to it. log/ is root's (0750), so the service can
# write its logs but not swap one for a link that root would follow.
new_log() {
  local f=$dir/log/$1
  [ -f "$f" ] && [ ! -L "$f" ] || { rm -f "$f"; : > "$f"; }
  give_svc "$f"
}

# The run folder when started as root: DIR and log/ and nginx/ are root's,
# shared with the service's group; DIR is 1770 (sticky), so the services
# make their sockets and pid files in it but cannot rename or remove what
# root made (nginx/, log/, popup.conf). Their data folders are theirs (0700).
prepare_dir() {
  mkdir -p "$dir"/{mysql,redis,nginx,log,state,tmp}
  if ! is_root; then chmod 700 "$dir"; return 0; fi
  chown "root:$svc_group" "$dir" && chmod 1770 "$dir"
  share_svc "$dir/log" "$dir/nginx"
  # A folder of an earlier stack that ran everything as root: its data and
  # the service logs go to the account (chown -R does not follow links).
  chown -R "$svc_user:$svc_group" "$dir"/{mysql,redis,state,tmp}
  chmod 700 "$dir"/{mysql,redis,state,tmp}
  local f
  for f in "$dir"/*.pid; do [ ! -e "$f" ] || give_svc "$f"; done
  # What an earlier start wrote as root's 0600 (it may be kept when some
  # pieces still run).
  for f in "$dir/popup.conf" "$dir/redis.conf"; do [ ! -e "$f" ] || share_svc "$f"; done
  # The account must reach DIR (every folder above it), the programs and
  # the demo page.
  "${as_svc[@]}" test -w "$dir" -a -x "$dir" ||
    fail "the service account $svc_user cannot reach $dir: a folder above it is closed to it; use a DIR it can reach"
  "${as_svc[@]}" test -x "$bin/popupd" -a -r "$top/web" -a -x "$top/web" ||
    fail "the service account $svc_user cannot run $bin/popupd or read $top/web; put the checkout where $svc_user can read it (or sudo from a user who can)"
}

# ---------------------------------------------------------------- processes

# ours PID: 0 when PID runs one of the stack's programs with DIR on its
# command line (fcgi-floor, started by bench/ with no arguments naming DIR,
# is recognised by name). A zombie has an empty command line: not ours.
ours() {
  local comm cmdline
  comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
  case $comm in
    fcgi-floor) return 0 ;;
    mariadbd|redis-server|popupd|popup-writer|nginx|spawn-fcgi) ;;
    *) return 1 ;;
  esac
  cmdline=$(tr '\0' ' ' 2> /dev/null < "/proc/$1/cmdline") || return 1
  [[ $cmdline == *"$dir/"* ]]
}

# live_pids PIDFILE: the pids listed in it (spawn-fcgi -F writes one a line)
# that are still ours.
live_pids() {
  local p
  [ -s "$1" ] || return 0
  for p in $(grep -o '[0-9]\+' "$1"); do
    if ours "$p"; then echo "$p"; fi
  done
  return 0
}

running() { [ -n "$(live_pids "$dir/$1")" ]; }

wait_gone() {  # wait_gone SECONDS PID...: 0 once none of them is ours
  local deadline=$((SECONDS + $1)) p any; shift
  while :; do
    any=0
    for p in "$@"; do if ours "$p"; then any=1; fi; done
    [ $any -eq 1 ] || return 0
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# kill_groups SIGNAL PID...: each PID's process group, if PID leads one. A
# group id stays reserved while the group has members, so -PID can only be
# the group that PID made (its session from setsid or nginx's daemon()).
kill_groups() {
  local sig=$1 p; shift
  for p in "$@"; do kill -s "$sig" -- "-$p" 2>/dev/null || true; done
}

# stop_piece NAME PIDFILE SIGNAL SECONDS: signal, wait, then SIGKILL the
# process groups; also kill what a dead leader left in its group.
stop_piece() {
  local name=$1 file=$dir/$2 sig=$3 secs=$4 pids
  mapfile -t pids < <(live_pids "$file")
  if [ ${#pids[@]} -gt 0 ]; then
    kill -s "$sig" "${pids[@]}" 2>/dev/null || true
    if ! wait_gone "$secs" "${pids[@]}"; then
      log "$name did not stop within ${secs}s; sending SIGKILL"
      kill_groups KILL "${pids[@]}"
      kill -s KILL "${pids[@]}" 2>/dev/null || true
      wait_gone 10 "${pids[@]}" || log "$name: ${pids[*]} still running after SIGKILL"
    fi
    kill_groups KILL "${pids[@]}"
    stopped+=("$name")
  fi
  rm -f "$file"
}

# Processes of this stack that no pid file names (a supervisor's orphaned
# worker, a process a test restarted): found by their command line.
sweep_strays() {
  local p pattern strays=()
  pattern=$(printf '%s/' "$dir" | sed 's/[][\.*^$+?(){}|]/\\&/g')
  for p in $(pgrep -f -- "$pattern" || true); do
    if [ "$p" != $$ ] && ours "$p"; then strays+=("$p"); fi
  done
  [ ${#strays[@]} -gt 0 ] || return 0
  log "stopping strays: ${strays[*]}"
  kill -s TERM "${strays[@]}" 2>/dev/null || true
  wait_gone 10 "${strays[@]}" || kill -s KILL "${strays[@]}" 2>/dev/null || true
  kill_groups KILL "${strays[@]}"
  wait_gone 5 "${strays[@]}" || true
  stopped+=(strays)
}

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
  rm -f "$dir"/{popup,floor,floor-redis,floor-pinned,redis,mysql}.sock
  if [ ${#stopped[@]} -gt 0 ]; then log "stopped ${stopped[*]} in $dir"
  else log "nothing was running in $dir"; fi
}

# launch PIDFILE LOG CMD...: CMD in a session of its own with stdin from
# /dev/null and output appended to LOG; its pid goes to PIDFILE before the
# exec (so it is right whether or not setsid has to fork). Returns once the
# program runs, 1 when it did not start.
# The pid is written in place, under the file's flock, which is let go just
# before the exec: a popupd that locks the file itself (pid_file) then takes
# the same file and writes the same pid, and a file that a running popupd
# holds is neither overwritten nor replaced (renaming a new file over it
# would leave that popupd's lock on a file nobody can find).
launch() {
  local pidfile=$1 logfile=$2 i pid; shift 2
  # As root the shell itself runs as the service account (as_svc), so the
  # pid file and the log are the account's and the program never is root.
  new_log "${logfile##*/}"
  [ ! -e "$pidfile" ] || give_svc "$pidfile"
  setsid "${as_svc[@]}" bash -c 'exec >> "$1" 2>&1 || exit 1
    exec 8>> "$0" || exit 1
    flock -n 8 || { echo "stack: $0 is locked by a running process" >&2; exit 1; }
    echo $$ > "$0" && shift && exec "$@" 8>&-' "$pidfile" "$logfile" "$@" \
    < /dev/null 9>&- &
  for ((i = 0; i < 50; i++)); do
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && ours "$pid"; then return 0; fi
    sleep 0.1
  done
  return 1
}

# wait_up SECONDS PIDFILE CMD...: 0 once CMD succeeds; 1 when time is up or
# the processes of PIDFILE are gone (no point waiting for a dead server).
wait_up() {
  local deadline=$((SECONDS + $1)) pidfile=$2; shift 2
  while :; do
    "$@" > /dev/null 2>&1 && return 0
    if ! running "$pidfile"; then
      sleep 0.3
      "$@" > /dev/null 2>&1 && return 0
      return 1
    fi
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# fail MESSAGE [LOG]: report, show the end of LOG and exit 1; once start has
# begun to start processes, stop the stack first (a failed start leaves
# nothing running; a refused setting leaves a running stack alone).
starting=0
fail() {
  trap - ERR INT TERM
  echo "stack: $1" >&2
  if [ -n "${2:-}" ] && [ -s "$2" ]; then
    echo "stack: last lines of $2:" >&2
    tail -n 30 "$2" >&2
  fi
  if [ $starting -eq 1 ]; then
    echo "stack: stopping what runs in $dir" >&2
    stop_stack >&2 || true
  fi
  exit 1
}

# ------------------------------------------------------------------- checks

check_settings() {
  local v
  # The pool is sized for the CPU (nginx/README.md, pool size): a process
  # per core with 8 threads each. Kept connections cost no thread, so a
  # TCP pool needs no more.
  WORKERS=${WORKERS:-$(nproc)}
  THREADS=${THREADS:-8}
  for v in HTTP_PORT WORKERS THREADS NGINX_WORKERS MAX_REQUESTS BATCH_SIZE BATCH_MS FLUSH_MS \
           FLUSH_EVENTS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || fail "$v must be a number, not '${!v}'"
  done
  [ -z "$NGINX_KEEPALIVE" ] || [[ $NGINX_KEEPALIVE =~ ^[0-9]+$ ]] ||
    fail "NGINX_KEEPALIVE must be a number, not '$NGINX_KEEPALIVE'"
  [ -z "$POOL_TCP_PORT" ] || [[ $POOL_TCP_PORT =~ ^[0-9]+$ ]] ||
    fail "POOL_TCP_PORT must be a number, not '$POOL_TCP_PORT'"
  if [ "$WORKERS" -lt 1 ] || [ "$THREADS" -lt 1 ] || [ "$NGINX_WORKERS" -lt 1 ]; then
    fail "WORKERS, THREADS and NGINX_WORKERS must be at least 1"
  fi
  case $POOL in supervisor|spawn-fcgi) ;; *) fail "POOL must be supervisor or spawn-fcgi, not '$POOL'" ;; esac
  case $TEST_CLOCK in on|off) ;; *) fail "TEST_CLOCK must be on or off, not '$TEST_CLOCK'" ;; esac
  case $UPSTREAM_KEEPALIVE in on|off) ;; *) fail "UPSTREAM_KEEPALIVE must be on or off" ;; esac
  # It goes into nginx.conf through sed: an absolute path of plain characters.
  [ -z "$NGINX_INCLUDE" ] || { [[ $NGINX_INCLUDE =~ ^/[A-Za-z0-9._/+-]+$ ]] && [ -d "$NGINX_INCLUDE" ]; } ||
    fail "NGINX_INCLUDE must be an existing folder given as an absolute path of [A-Za-z0-9._/+-]"
  # The sizing rule (nginx/README.md): kept connections cost the pool file
  # descriptors, not threads, so each nginx worker keeps every connection
  # it may have open at once: one per request in flight, at most
  # worker_connections (16,384) client connections, far fewer in practice.
  # 1,024 per nginx worker covers the benchmarks' 256 client connections
  # many times over; popupd --check refuses a value the workers' file
  # limit cannot hold.
  NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-1024}
}

check_dir() {
  # DIR goes into nginx, Redis and MariaDB configuration and command lines.
  [[ $dir =~ ^[A-Za-z0-9._/+-]+$ ]] ||
    fail "DIR may hold only letters, digits and . _ - + / (got '$dir')"
  # The checkout's web/ is nginx's root for the demo page.
  [[ $top =~ ^[A-Za-z0-9._/+-]+$ ]] ||
    fail "the checkout's path may hold only letters, digits and . _ - + / (got '$top')"
  # sun_path holds 108 bytes with the terminating NUL.
  local longest="$dir/popup.sock"
  [ "$(printf %s "$longest" | wc -c)" -le 107 ] ||
    fail "$dir is too long: unix socket paths such as $longest must be at most 107 bytes; use a shorter folder"
}

check_programs() {
  local p needed=(popupd popupctl)
  [ "$WRITER" = 1 ] && needed+=(popup-writer)
  for p in "${needed[@]}"; do
    [ -x "$bin/$p" ] || fail "$bin/$p is missing: run make first"
  done
  for p in mariadb-install-db mariadbd mariadb mariadb-admin redis-server redis-cli nginx curl setsid; do
    command -v "$p" > /dev/null || fail "$p is not installed: run scripts/deps.sh"
  done
  if [ "$POOL" = spawn-fcgi ]; then
    command -v spawn-fcgi > /dev/null || fail "spawn-fcgi is not installed: run scripts/deps.sh"
  fi
}

# port_taken HOST PORT: 0 when something accepts connections there.
port_taken() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

check_ports() {
  if ! running nginx/nginx.pid && port_taken "$HTTP_ADDR" "$HTTP_PORT"; then
    fail "$HTTP_ADDR:$HTTP_PORT is already in use; choose another HTTP_PORT"
  fi
  if [ -n "$POOL_TCP_PORT" ] && ! running popupd.pid && port_taken 127.0.0.1 "$POOL_TCP_PORT"; then
    fail "127.0.0.1:$POOL_TCP_PORT is already in use; choose another POOL_TCP_PORT"
  fi
}

# -------------------------------------------------------------------- start

write_conf() {
  local listen="" pid_file=""
  if [ "$POOL" = supervisor ]; then
    listen="unix:$dir/popup.sock"
    [ -z "$POOL_TCP_PORT" ] || listen="127.0.0.1:$POOL_TCP_PORT"
    pid_file=$dir/popupd.pid
  fi
  cat > "$dir/popup.conf" <<CONF
# Written by scripts/stack.sh for the stack in $dir.
# listen empty: the FastCGI socket is inherited on fd 0 (spawn-fcgi).
listen = $listen
backlog = $BACKLOG
# The supervisor locks it while it runs (empty: spawn-fcgi writes it).
pid_file = $pid_file
workers = $WORKERS
threads = $THREADS
max_requests = $MAX_REQUESTS
flush_ms = $FLUSH_MS
flush_events = $FLUSH_EVENTS
state_dir = $dir/state
nginx_workers = $NGINX_WORKERS
nginx_keepalive = $NGINX_KEEPALIVE
redis = unix:$dir/redis.sock
key_prefix = $KEY_PREFIX
mysql_socket = $dir/mysql.sock
mysql_user = popup
mysql_password = $(cat "$dir/mysql.password")
mysql_db = popup
batch_size = $BATCH_SIZE
batch_ms = $BATCH_MS
writer_id = w1
test_clock = $TEST_CLOCK
cors_origins = $CORS_ORIGINS
admin_listen = $ADMIN_LISTEN
CONF
  share_svc "$dir/popup.conf"
}

# DIR/mysql.password: the service account's password, made once (20
# letters and digits from /dev/urandom). A stack from before it kept the
# password in popup.conf: that one is kept, so running pieces keep working.
# DIR/popupctl.password: popupctl's account's, made the same way.
ensure_password() {
  local f=$dir/mysql.password pw
  new_password "$dir/popupctl.password" ""
  [ -s "$f" ] && return 0
  pw=$(sed -n 's/^mysql_password = \([A-Za-z0-9]\+\)$/\1/p' "$dir/popup.conf" 2>/dev/null | head -n 1 || true)
  [ -n "$pw" ] && [ "$pw" != popup ] || pw=""
  new_password "$f" "$pw"
}

# new_password FILE [PASSWORD]: FILE (0600, the invoking user's) holds
# PASSWORD, or 20 random letters and digits, unless it exists already.
new_password() {
  local f=$1 pw=$2
  [ -s "$f" ] && return 0
  [ -n "$pw" ] || pw=$(tr -dc 'A-Za-z0-9' < /dev/urandom | head -c 20 || true)
  [ ${#pw} -ge 20 ] || fail "could not generate a MariaDB password"
  rm -f "$f.tmp"
  printf '%s\n' "$pw" > "$f.tmp" && chmod 600 "$f.tmp" && mv "$f.tmp" "$f"
}

# DIR/popupctl.conf: popup.conf with popupctl's own MariaDB account (the
# authoring privileges, grant_popupctl), 0600 and the invoking user's: the
# service account cannot read it. Made again on every start from popup.conf.
write_ctl_conf() {
  local f=$dir/popupctl.conf
  rm -f "$f.tmp"
  { echo "# Written by scripts/stack.sh: popup.conf with popupctl's MariaDB account."
    grep -v '^\(mysql_user\|mysql_password\) = \|^# Written by' "$dir/popup.conf"
    echo "mysql_user = popupctl"
    echo "mysql_password = $(cat "$dir/popupctl.password")"
  } > "$f.tmp" && chmod 600 "$f.tmp" && mv "$f.tmp" "$f"
}

sql_admin() { mariadb --no-defaults -S "$dir/mysql.sock" -u "$admin" --batch "$@"; }
mariadb_ping() { mariadb-admin --no-defaults -S "$dir/mysql.sock" -u "$admin" ping; }

start_mariadb() {
  running mysql.pid && return 0
  if [ ! -d "$dir/mysql/mysql" ]; then
    # A datadir that an interrupted install left half made is made again.
    rm -rf "$dir/mysql" && mkdir -p "$dir/mysql"
    # install-db makes root@localhost and $admin@localhost superusers that
    # log in through unix socket authentication as that OS user. tmpdir:
    # in the shared /tmp, two stacks installing at once collide on the
    # bootstrap's temporary table names ("Unknown table
    # 'mysql.tmp_user_sys'", 2 of 4 parallel installs failed).
    # --user: the datadir's owner (the service account); the second
    # superuser stays the admin ($admin), not that account.
    mariadb-install-db --no-defaults --datadir="$dir/mysql" --tmpdir="$dir/tmp" --user="$svc_user" \
      --auth-root-authentication-method=socket --auth-root-socket-user="$admin" --skip-test-db \
      > "$dir/log/mariadb-install.log" 2>&1 9>&- ||
      fail "mariadb-install-db failed" "$dir/log/mariadb-install.log"
    # Inside the datadir, so that it goes with a datadir that is made again.
    : > "$demo_marker"
    if is_root; then chown -R "$svc_user:$svc_group" "$dir/mysql"; fi
  fi
  [ -O "$dir/mysql" ] || is_root ||
    fail "$dir/mysql belongs to another user; start the stack as that user or use another DIR"
  # launch runs it as the service account (as_svc), so no --user.
  launch "$dir/mysql.pid" "$dir/log/mariadb.log" mariadbd --no-defaults \
    --datadir="$dir/mysql" --tmpdir="$dir/tmp" --socket="$dir/mysql.sock" --skip-networking \
    --pid-file="$dir/mysql.pid" --log-error="$dir/log/mariadb.log" \
    --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 \
    --innodb-log-file-size=128M --max-connections=1000 --skip-name-resolve ||
    fail "mariadbd did not start" "$dir/log/mariadb.log"
  wait_up 60 mysql.pid mariadb_ping || fail "MariaDB did not come up within 60s" "$dir/log/mariadb.log"
  # mariadbd binds its socket with umask 0 (0777); DIR already keeps others
  # out, and the socket itself is for the service's group only.
  chmod 660 "$dir/mysql.sock"
  # Readiness: ping answers before the server takes queries; retry briefly.
  local i
  for ((i = 0; i < 50; i++)); do sql_admin -e 'SELECT 1' > /dev/null 2>&1 && break; sleep 0.1; done
  # On stdin: a password in -e would show in ps.
  sql_admin 2> "$dir/log/mariadb-setup.log" <<SQL ||
CREATE DATABASE IF NOT EXISTS popup CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'popup'@'localhost';
ALTER USER 'popup'@'localhost' IDENTIFIED BY '$(cat "$dir/mysql.password")';
CREATE USER IF NOT EXISTS 'popupctl'@'localhost';
ALTER USER 'popupctl'@'localhost' IDENTIFIED BY '$(cat "$dir/popupctl.password")';
SQL
    fail "cannot set up database popup as MariaDB user '$admin' (socket authentication); was $dir/mysql made by another OS user?" \
      "$dir/log/mariadb-setup.log"
}

migrate() {
  MYSQL_ADMIN=$admin "$top/scripts/migrate.sh" "$dir/mysql.sock" popup 2> "$dir/log/migrate.log" ||
    fail "migrations failed" "$dir/log/migrate.log"
  grant_service
}

# Each account gets what its programs use and nothing else (table grants
# need the tables: after the migrations); earlier stacks granted more. The
# same lists are in README.md, Deployment.
# popup (popupd, popup-writer): reads popups and config_meta, reads and
# upserts user_state (INSERT ... ON DUPLICATE KEY UPDATE), inserts events
# (INSERT IGNORE) and adds them to the daily roll-ups (lib/mysql.cc
# apply_events). Nothing else: no
# write to popups, no DELETE, no audit.
# popupctl: writes popups, bumps config_meta, reads user_state (explain
# when Redis has no copy), reads and deletes events (delete's check,
# retention), reads the roll-ups, writes and reads popup_audit.
grant_service() {
  sql_admin 2>> "$dir/log/mariadb-setup.log" <<SQL ||
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'popup'@'localhost';
GRANT SELECT ON popup.popups TO 'popup'@'localhost';
GRANT SELECT ON popup.config_meta TO 'popup'@'localhost';
GRANT SELECT, INSERT, UPDATE ON popup.user_state TO 'popup'@'localhost';
GRANT INSERT ON popup.popup_events TO 'popup'@'localhost';
GRANT SELECT (impressions, clicks, ignores), INSERT, UPDATE ON popup.popup_daily TO 'popup'@'localhost';
GRANT INSERT ON popup.popup_daily_users TO 'popup'@'localhost';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'popupctl'@'localhost';
GRANT SELECT, INSERT, UPDATE, DELETE ON popup.popups TO 'popupctl'@'localhost';
GRANT SELECT, UPDATE ON popup.config_meta TO 'popupctl'@'localhost';
GRANT SELECT ON popup.user_state TO 'popupctl'@'localhost';
GRANT SELECT, DELETE ON popup.popup_events TO 'popupctl'@'localhost';
GRANT SELECT ON popup.popup_daily TO 'popupctl'@'localhost';
GRANT SELECT ON popup.popup_daily_users TO 'popupctl'@'localhost';
GRANT SELECT, INSERT ON popup.popup_audit TO 'popupctl'@'localhost';
SQL
    fail "cannot grant the service accounts their privileges" "$dir/log/mariadb-setup.log"
}

redis_ping() { [ "$(redis-cli -s "$dir/redis.sock" ping 2>/dev/null)" = PONG ]; }

start_redis() {
  running redis.pid && return 0
  cat > "$dir/redis.conf" <<CONF
# Written by scripts/stack.sh; \`redis-server $dir/redis.conf\` restarts it.
port 0
unixsocket $dir/redis.sock
# The service's group: popupd and the writer (the service account).
unixsocketperm 660
dir $dir/redis
pidfile $dir/redis.pid
logfile $dir/log/redis.log
daemonize no
appendonly yes
appendfsync everysec
save ""
maxmemory $REDIS_MAXMEMORY
# User state keys carry a TTL; the queue and configuration keys do not, so
# volatile-lru never evicts them.
maxmemory-policy volatile-lru
CONF
  share_svc "$dir/redis.conf"
  launch "$dir/redis.pid" "$dir/log/redis.log" redis-server "$dir/redis.conf" ||
    fail "redis-server did not start" "$dir/log/redis.log"
  wait_up 30 redis.pid redis_ping || fail "Redis did not come up within 30s" "$dir/log/redis.log"
}

# Set by start_mariadb when it made the datadir; removed once the new
# database got its demo data (DEMO=1) and a published configuration, so a
# start that failed before that does it on the next start.
demo_marker=$dir/mysql/popup-demo-pending

config_published() {
  [ -n "$(redis-cli -s "$dir/redis.sock" GET "$KEY_PREFIX:config:version" 2>/dev/null)" ]
}

publish() {
  "$bin/popupctl" --config "$dir/popupctl.conf" publish >> "$dir/log/popupctl.log" 2>&1 ||
    fail "popupctl publish failed" "$dir/log/popupctl.log"
}

# Demo data only into a database this stack just created: re-applying
# sql/demo.sql on every start put back what operators had changed. Publish
# when the data is new, or when Redis holds no configuration (a new or
# flushed Redis: workers need a set); otherwise a restart would publish a
# new configuration version for nothing.
load_config() {
  if [ -e "$demo_marker" ]; then
    if [ "$DEMO" = 1 ]; then
      sql_admin popup < "$top/sql/demo.sql" 2> "$dir/log/demo.log" || fail "loading sql/demo.sql failed" "$dir/log/demo.log"
      log "loaded the demo popups (sql/demo.sql) into the new database"
    fi
    publish
    rm -f "$demo_marker"
  elif ! config_published; then
    publish
  fi
}

# writer.pid names popup-writer's own supervisor; it forks the writer, which
# dies with it (writer/writer_supervisor.h), so stop needs only that pid.
start_writer() {
  [ "$WRITER" = 1 ] || return 0
  running writer.pid && return 0
  launch "$dir/writer.pid" "$dir/log/writer.log" "$bin/popup-writer" --config "$dir/popup.conf" ||
    fail "popup-writer did not start" "$dir/log/writer.log"
}

pool_listens() {
  if [ -n "$POOL_TCP_PORT" ]; then port_taken 127.0.0.1 "$POOL_TCP_PORT"; else [ -S "$dir/popup.sock" ]; fi
}

# wait_old_pool: the workers of a supervisor that died get SIGTERM from the
# kernel (PR_SET_PDEATHSIG, fcgi/supervisor.cc) and finish what they serve;
# until they have left they still accept on the socket, which a new popupd
# rightly refuses to replace. They are found through the dead supervisor's
# process group (only members that are ours), given 15 s, then killed.
wait_old_pool() {
  local old members=() p deadline=$((SECONDS + 15))
  old=$(grep -o '[0-9]\+' "$dir/popupd.pid" 2>/dev/null | head -n 1) || true
  [ -n "$old" ] || return 0
  while :; do
    members=()
    for p in $(pgrep -g "$old" 2>/dev/null || true); do
      if ours "$p"; then members+=("$p"); fi
    done
    [ ${#members[@]} -gt 0 ] || return 0
    [ $SECONDS -lt $deadline ] || break
    sleep 0.1
  done
  log "workers of a pool whose supervisor died did not leave: killing ${members[*]}"
  kill -s KILL "${members[@]}" 2>/dev/null || true
  wait_gone 10 "${members[@]}" || true
}

start_pool() {
  running popupd.pid && return 0
  # A new pool counts from zero (Prometheus reads a restart as a reset).
  rm -f "$dir/state/metrics.shm"
  if [ "$POOL" = spawn-fcgi ]; then
    rm -f "$dir/popup.sock" "$dir/popupd.pid"
    local where=(-s "$dir/popup.sock" -M 0660) drop=()
    # spawn-fcgi drops to the account itself; the socket is the account's.
    is_root && drop=(-u "$svc_user" -g "$svc_group" -U "$svc_user" -G "$svc_group")
    [ -z "$POOL_TCP_PORT" ] || where=(-a 127.0.0.1 -p "$POOL_TCP_PORT")
    # -F N with -P: spawn-fcgi 1.6.4 writes every child's pid, one a line;
    # each child runs in a session of its own. -b: the same backlog as
    # popup.conf (spawn-fcgi's own default is 1024).
    new_log popupd.log
    spawn-fcgi "${where[@]}" "${drop[@]}" -b "$BACKLOG" -F "$WORKERS" -P "$dir/popupd.pid" \
      -- "$bin/popupd" --config "$dir/popup.conf" \
      < /dev/null >> "$dir/log/popupd.log" 2>&1 9>&- ||
      fail "spawn-fcgi failed" "$dir/log/popupd.log"
  else
    # popupd itself replaces a stale socket and refuses one that answers.
    wait_old_pool
    launch "$dir/popupd.pid" "$dir/log/popupd.log" "$bin/popupd" --config "$dir/popup.conf" ||
      fail "popupd did not start" "$dir/log/popupd.log"
  fi
  wait_up 20 popupd.pid pool_listens || fail "the pool did not start listening" "$dir/log/popupd.log"
}

# include_line LEVEL: "include NGINX_INCLUDE/LEVEL.conf;" when that file
# exists, else nothing.
include_line() {
  if [ -n "$NGINX_INCLUDE" ] && [ -f "$NGINX_INCLUDE/$1.conf" ]; then
    echo "include $NGINX_INCLUDE/$1.conf;"
  fi
}

# pool_servers: the upstream's server lines on one line. A supervisor pool
# has one socket per worker (user affinity), and popupd --check prints
# them; spawn-fcgi's pool has the one socket spawn-fcgi opened.
pool_servers() {
  if [ "$POOL" = spawn-fcgi ]; then
    local server="unix:$dir/popup.sock"
    [ -z "$POOL_TCP_PORT" ] || server="127.0.0.1:$POOL_TCP_PORT"
    echo "server $server max_fails=0;"
    return
  fi
  "$bin/popupd" --check --config "$dir/popup.conf" | sed -n '/^upstream popup_pool/,/^}/p' |
    sed -n 's/^ *\(\(hash\|server\) .*;\)$/\1/p' | tr '\n' ' '
}

# The pool's shared socket (nginx's fallback for a failed worker socket).
pool_shared() {
  if [ -n "$POOL_TCP_PORT" ]; then echo "127.0.0.1:$POOL_TCP_PORT"; else echo "unix:$dir/popup.sock"; fi
}

render_nginx_conf() {
  local user_line="" servers keepalive="keepalive $NGINX_KEEPALIVE;" keep_conn=on
  # As root the master stays root (the port, its logs) and the workers run
  # as the service account, which reaches the pool's 0660 sockets.
  is_root && user_line="user $svc_user $svc_group;"
  servers=$(pool_servers)
  [[ $servers == *server* ]] || fail "popupd --check printed no upstream servers for $dir/popup.conf"
  if [ "$UPSTREAM_KEEPALIVE" = off ]; then keepalive=""; keep_conn=off; fi
  local access_log="access_log $dir/log/nginx-access.log popup buffer=64k flush=1s;"
  [ "$ACCESS_LOG" = on ] || access_log="access_log off;"
  # The service's locations as a host's nginx includes them (nginx/popup.conf);
  # only the TIME_WAIT comparison turns kept connections off.
  mkdir -p "$dir/nginx/popup"
  cp "$top/nginx/fastcgi_params.conf" "$dir/nginx/popup/fastcgi_params.conf"
  sed -e "s|^\( *fastcgi_keep_conn\) on;|\1 $keep_conn;|" "$top/nginx/popup.conf" > "$dir/nginx/popup/popup.conf"
  # The marker lets `reload` find the line again.
  servers="$servers # pool servers"
  sed -e "s|@USER_LINE@|$user_line|g" -e "s|@NGINX_WORKERS@|$NGINX_WORKERS|g" \
      -e "s|@UPSTREAM_KEEPALIVE@|$keepalive|g" -e "s|@KEEP_CONN@|$keep_conn|g" \
      -e "s|@NGINX_KEEPALIVE@|$NGINX_KEEPALIVE|g" -e "s|@RUN_DIR@|$dir|g" \
      -e "s|@POOL_SERVERS@|$servers|g" -e "s|@POOL_SHARED@|$(pool_shared)|g" -e "s|@LISTEN@|$http_host:$HTTP_PORT|g" \
      -e "s|@MAIN_INCLUDE@|$(include_line main)|g" -e "s|@HTTP_INCLUDE@|$(include_line http)|g" \
      -e "s|@SERVER_INCLUDE@|$(include_line server)|g" -e "s|@WEB_ROOT@|$top/web|g" \
      -e "s|@ACCESS_LOG@|$access_log|g" \
      "$top/nginx/nginx.conf.in" > "$dir/nginx/nginx.conf"
  local left
  left=$(grep -v '^[[:space:]]*#' "$dir/nginx/nginx.conf" | grep -o '@[A-Z_]*@' | head -n1 || true)
  [ -z "$left" ] || fail "nginx/nginx.conf.in has a placeholder that stack.sh does not fill: $left"
}

# The pool, not nginx, answered: healthz has its JSON shape (200 or 503).
pool_answers() { curl -s -m 5 "$url/api/healthz" | grep -q '"status"'; }
nginx_answers() { curl -sf -m 2 "$url/static-ok"; }

start_nginx() {
  running nginx/nginx.pid && return 0
  local nginx=(nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/log/nginx-error.log")
  render_nginx_conf
  "${nginx[@]}" -t -q >> "$dir/log/nginx-error.log" 2>&1 ||
    fail "nginx refused $dir/nginx/nginx.conf" "$dir/log/nginx-error.log"
  rm -f "$dir/nginx/nginx.pid"
  # nginx daemonizes (daemon on): its master leads a session of its own.
  "${nginx[@]}" < /dev/null >> "$dir/log/nginx-error.log" 2>&1 9>&- ||
    fail "nginx did not start" "$dir/log/nginx-error.log"
  local i
  for ((i = 0; i < 50; i++)); do running nginx/nginx.pid && break; sleep 0.1; done
  wait_up 20 nginx/nginx.pid nginx_answers ||
    fail "nginx does not answer on $HTTP_ADDR:$HTTP_PORT" "$dir/log/nginx-error.log"
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
    case $name in floor|floor-redis|floor-pinned) continue ;; esac
    [ "$name" != writer ] || [ "$WRITER" = 1 ] || continue
    if running "$file"; then up+=("$name"); else down+=("$name"); fi
  done
  if [ ${#down[@]} -eq 0 ]; then
    log "already running in $dir ($(running_url))"
    exit 0
  fi
  check_ports
  if [ ${#up[@]} -gt 0 ] && [ -f "$dir/popup.conf" ]; then
    log "${up[*]} already running; starting ${down[*]} with the existing $dir/popup.conf"
  else
    write_conf
  fi
  "$bin/popupd" --check --config "$dir/popup.conf" > "$dir/log/popupd-check.log" 2>&1 ||
    fail "popupd --check refused $dir/popup.conf" "$dir/log/popupd-check.log"
  write_ctl_conf

  starting=1
  trap 'fail "interrupted"' INT TERM
  set -E
  trap 'fail "a step failed at line $LINENO of $0"' ERR
  start_mariadb
  migrate
  start_redis
  load_config
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

# The address nginx sends FastCGI requests to: its upstream server line,
# else popup.conf's listen, else the default socket ("unix:/path" or
# "host:port").
pool_address() {
  local a
  a=$(sed -n 's/^listen = \(..*\)$/\1/p' "$dir/popup.conf" 2>/dev/null | head -n 1)
  [ -n "$a" ] || a=$(grep -o 'server [^ ;]* max_fails' "$dir/nginx/nginx.conf" 2>/dev/null | head -n 1 | cut -d' ' -f2)
  echo "${a:-unix:$dir/popup.sock}"
}

# pool_socket_answers: 0 when the pool's socket itself answers a FastCGI
# request for /api/healthz (its JSON, 200 or 503: either way the pool
# speaks), asked straight with cgi-fcgi (libfcgi-bin) rather than through
# nginx, so that a pool nobody can reach (its socket replaced or removed,
# its processes stopped) is not reported as serving. Without cgi-fcgi, asks
# through nginx.
pool_socket_answers() {
  local a out
  if command -v cgi-fcgi > /dev/null; then
    a=$(pool_address)
    out=$(REQUEST_METHOD=GET DOCUMENT_URI=/api/healthz SCRIPT_NAME=/api/healthz QUERY_STRING= \
      timeout 5 cgi-fcgi -bind -connect "${a#unix:}" 2>/dev/null) || true
  else
    out=$(curl -s -m 5 "$(running_url)/api/healthz") || true
  fi
  [[ $out == *'"status"'* ]]
}

status() {
  local name file pids missing=0
  for name in "${pieces[@]}"; do
    file=${name#*:}; name=${name%%:*}
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
  [ $missing -eq 0 ] && echo "url      $(running_url)" && return 0
  return 3
}

# The pool's sockets that popupd --check lists, all present (unix ones).
pool_sockets_ready() {
  local s
  for s in $(pool_servers | grep -o 'server unix:[^ ;]*' | cut -d: -f2-); do
    [ -S "$s" ] || return 1
  done
}

# old_nginx_gone PID...: none of these processes runs any more.
old_nginx_gone() {
  local p
  for p in "$@"; do kill -0 "$p" 2>/dev/null && return 1; done
  return 0
}

reload() {
  [ -f "$dir/popup.conf" ] && [ -f "$dir/nginx/nginx.conf" ] || fail "no stack in $dir"
  exec 9> "$dir/.stack.lock"
  flock -w 120 9 || fail "another stack.sh is busy with $dir"
  grep -q '^listen = ..*' "$dir/popup.conf" || POOL=spawn-fcgi
  "$bin/popupd" --check --config "$dir/popup.conf" > "$dir/log/popupd-check.log" 2>&1 ||
    fail "popupd --check refused $dir/popup.conf" "$dir/log/popupd-check.log"
  running popupd.pid && running nginx/nginx.pid || fail "the pool or nginx is not running in $dir"
  if [ "$POOL" = supervisor ]; then
    kill -HUP "$(live_pids "$dir/popupd.pid" | head -n 1)"
    wait_up 20 popupd.pid pool_sockets_ready || fail "the pool's sockets did not appear" "$dir/log/popupd.log"
  fi
  local servers
  servers=$(pool_servers)
  [[ $servers == *server* ]] || fail "popupd --check printed no upstream servers"
  sed -i "s|^\( *\).*# pool servers\$|\1$servers # pool servers|" "$dir/nginx/nginx.conf"
  nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/log/nginx-error.log" -t -q ||
    fail "nginx refused the new upstream" "$dir/log/nginx-error.log"
  # Until its old workers have left, some connections may still be hashed
  # over the old servers: wait for them (they finish what they serve).
  local master old
  master=$(live_pids "$dir/nginx/nginx.pid" | head -n 1)
  old=$(pgrep -P "$master" | tr '\n' ' ')
  nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/log/nginx-error.log" -s reload
  wait_up 60 nginx/nginx.pid old_nginx_gone $old || fail "nginx's old workers did not leave" "$dir/log/nginx-error.log"
  log "reloaded: $servers"
}

case "$cmd" in
  start) start ;;
  reload) reload ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac

#!/usr/bin/env bash
# A cluster of several hosts on this one machine, each host a network
# namespace on one bridge (README.md, "Running on several hosts"):
#   edge      nginx over the pool hosts (nginx/edge.conf.in), HTTP on
#             $NET.2:8080, reachable from the root namespace ($NET.1)
#   h1 h2 h3  pool hosts: a stack without stores of its own (nginx, the
#             popupd supervisor, a writer), reaching the stores over TCP
#   stores    MariaDB and Redis on TCP ($NET.10)
#   r1 r2 r3  Redis through Sentinel ($NET.31-33, CLUSTER_REDIS=sentinel): a
#             redis-server and a sentinel each, r1 the first primary; the
#             pool hosts find the primary through the sentinels and the
#             stores host's Redis is left unused (scripts/cluster/redis.sh)
#   g1 g2 g3  CLUSTER_MYSQL=galera (the default): three MariaDB Galera nodes
#             ($NET.41..43:3306, scripts/cluster/galera.sh), the pool hosts'
#             MariaDB (mysql_hosts); the stores' MariaDB only seeds them.
#             CLUSTER_MYSQL=single: no Galera; the pool hosts use the stores'
#             MariaDB
#   lg1..lg3  empty hosts for load generators
# Must run as root (namespaces, veths, a bridge).
#
#   scripts/cluster.sh up          make the network and start every host
#   scripts/cluster.sh down        stop everything and remove every namespace,
#                                  veth, bridge, nft table and process of the
#                                  cluster (also after a partial up; idempotent)
#   scripts/cluster.sh status      the hosts, their links and pieces
#   scripts/cluster.sh cut HOST    HOST's link goes down (packets dropped)
#   scripts/cluster.sh heal HOST   HOST's link comes back
#   scripts/cluster.sh start HOST  starts what is not running on pool host HOST
#                                  (e.g. its writer, after its host "died")
#   scripts/cluster.sh slow HOST MS   the edge reaches HOST with MS ms of
#                                  delay each way (0: none); pool hosts only
#   scripts/cluster.sh exec HOST CMD...   CMD in HOST's namespace
#   scripts/cluster.sh kill rN redis|sentinel   SIGKILL that daemon of Redis
#                                  host rN (a crash, not a cut)
#   scripts/cluster.sh start rN    likewise on Redis host rN (after kill),
#                                  with the files it had
#   scripts/cluster.sh kill gN mysql  SIGKILL Galera node gN's mariadbd (a crash)
#   scripts/cluster.sh start gN    start gN's mariadbd again; it rejoins (IST or
#                                  rsync SST) and is Synced on return
#   scripts/cluster.sh url         the edge's URL
#
# Settings (environment, with defaults): CLUSTER_DIR=run/cluster (all state:
# DIR/HOST for each host, DIR/log), WORKERS=2 THREADS=4 NGINX_WORKERS=1 per
# pool host, EDGE_WORKERS=2, TEST_CLOCK=off, DEMO=1, BUILD=build,
# CONNECT_TIMEOUT=300ms READ_TIMEOUT=3s (the edge's tries per host),
# CLUSTER_PREFIX=popc (names of namespaces, links, nft tables: 2 to 6 lower-case
# letters) and CLUSTER_NET=10.77.0 (the /24), so two clusters can run side by side,
# CLUSTER_REDIS=sentinel|single (sentinel: r1..r3 as above; single: no r1..r3,
# the pool hosts use the stores host's Redis), CLUSTER_MYSQL=galera|single
# (g1..g3 above; single: the stores host's MariaDB).
set -euo pipefail
umask 022

top=$(cd "$(dirname "$0")/.." && pwd)
here=$top/scripts/cluster
usage() { echo "usage: $0 up|down|status|url|cut HOST|heal HOST|start HOST|slow HOST MS|exec HOST CMD...|kill rN redis|sentinel|kill gN mysql" >&2; exit 2; }
[ $# -ge 1 ] || usage
cmd=$1; shift

CLUSTER_DIR=${CLUSTER_DIR:-run/cluster}
case "$CLUSTER_DIR" in /*) dir=$CLUSTER_DIR ;; *) dir=$top/$CLUSTER_DIR ;; esac
dir=$(realpath -m -- "$dir")
PREFIX=${CLUSTER_PREFIX:-popc}
NET=${CLUSTER_NET:-10.77.0}
BRIDGE=$PREFIX-br
HOST_PORT=8080
EDGE_PORT=8080
POOL_HOSTS=(h1 h2 h3)
# CLUSTER_REDIS: up's choice; the other commands default to what up chose.
[ -n "${CLUSTER_REDIS:-}" ] || [ "$cmd" = up ] || CLUSTER_REDIS=$(cat "$dir/redis-mode" 2>/dev/null || true)
CLUSTER_REDIS=${CLUSTER_REDIS:-sentinel}
# ALL_HOSTS: every host `down` removes; LIVE_HOSTS: those `up` makes.
[ -n "${CLUSTER_MYSQL:-}" ] || [ "$cmd" = up ] || CLUSTER_MYSQL=$(cat "$dir/mysql-mode" 2>/dev/null || true)
CLUSTER_MYSQL=${CLUSTER_MYSQL:-galera}
ALL_HOSTS=(edge stores "${POOL_HOSTS[@]}" lg1 lg2 lg3 r1 r2 r3 g1 g2 g3)
LIVE_HOSTS=(edge stores "${POOL_HOSTS[@]}" lg1 lg2 lg3)
[ "$CLUSTER_REDIS" != sentinel ] || LIVE_HOSTS+=(r1 r2 r3)
[ "$CLUSTER_MYSQL" != galera ] || LIVE_HOSTS+=(g1 g2 g3)
WORKERS=${WORKERS:-2}
THREADS=${THREADS:-4}
NGINX_WORKERS=${NGINX_WORKERS:-1}
EDGE_WORKERS=${EDGE_WORKERS:-2}
TEST_CLOCK=${TEST_CLOCK:-off}
DEMO=${DEMO:-1}
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$top/$BUILD ;; esac
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-300ms}
READ_TIMEOUT=${READ_TIMEOUT:-3s}

log() { echo "cluster: $*"; }
fail() {
  echo "cluster: $1" >&2
  if [ -n "${2:-}" ] && [ -s "$2" ]; then echo "cluster: last lines of $2:" >&2; tail -n 20 "$2" >&2; fi
  exit 1
}

. "$here/net.sh"
. "$here/hosts.sh"
. "$here/redis.sh"
. "$here/galera.sh"

check() {
  [ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces, veths, a bridge)"
  local p
  for p in ip nft nginx curl python3; do command -v "$p" > /dev/null || fail "$p is not installed: run scripts/deps.sh"; done
  case $CLUSTER_MYSQL in galera) galera_lib > /dev/null ;; single) ;; *) fail "CLUSTER_MYSQL must be galera or single" ;; esac
  [[ $dir =~ ^[A-Za-z0-9._/+-]+$ ]] || fail "CLUSTER_DIR may hold only letters, digits and . _ - + /"
  [[ $PREFIX =~ ^[a-z]{2,6}$ ]] || fail "CLUSTER_PREFIX must be 2 to 6 lower-case letters (interface names are short)"
  [[ $NET =~ ^(10|192\.168|172\.(1[6-9]|2[0-9]|3[01]))(\.[0-9]{1,3}){1,2}$ && $NET =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    fail "CLUSTER_NET must be the first three numbers of a private /24, like 10.77.0"
  [[ $CLUSTER_REDIS =~ ^(sentinel|single)$ ]] || fail "CLUSTER_REDIS must be sentinel or single"
  for p in CONNECT_TIMEOUT READ_TIMEOUT; do [[ ${!p} =~ ^[0-9]+(ms|s)$ ]] || fail "$p must be like 300ms or 3s"; done
  for p in WORKERS THREADS NGINX_WORKERS EDGE_WORKERS; do
    [[ ${!p} =~ ^[1-9][0-9]*$ ]] || fail "$p must be a number of at least 1"
  done
}

pool_host() {
  local h
  for h in "${POOL_HOSTS[@]}"; do [ "$h" = "$1" ] && return 0; done
  fail "'$1' is not a pool host (${POOL_HOSTS[*]})"
}
any_host() {
  local h
  for h in "${ALL_HOSTS[@]}"; do [ "$h" = "$1" ] && return 0; done
  fail "'$1' is not a host of the cluster (${ALL_HOSTS[*]})"
}

up() {
  check
  mkdir -p "$dir/log"
  # The stacks' service accounts pass through to their own folders.
  chmod 711 "$dir"
  exec 9> "$dir/.cluster.lock"
  flock -w 120 9 || fail "another cluster.sh is busy with $dir"
  trap 'echo "cluster: up failed; scripts/cluster.sh down removes what it made" >&2' ERR
  net_up
  local h
  for h in "${POOL_HOSTS[@]}"; do net_heal "$h"; done
  log "starting the stores on $(addr_of stores)"
  start_stores > "$dir/log/stores-start.log" 2>&1 || fail "the stores did not start" "$dir/log/stores-start.log"
  echo "$CLUSTER_REDIS" > "$dir/redis-mode"
  echo "$CLUSTER_MYSQL" > "$dir/mysql-mode"
  [ "$CLUSTER_REDIS" = sentinel ] || align_config_version ||
    fail "cannot align the stores' config_meta.version with their Redis"
  if [ "$CLUSTER_REDIS" = sentinel ]; then
    log "starting Redis through Sentinel on ${REDIS_HOSTS[*]}"
    ( start_redis_hosts ) > "$dir/log/redis-start.log" 2>&1 || fail "Redis through Sentinel did not start" "$dir/log/redis-start.log"
  fi
  # After the Redis hosts: their first publish bumps the stores' version,
  # which the nodes' seed must carry.
  if galera_on; then
    log "starting the Galera nodes ${GALERA_HOSTS[*]} ($(galera_mysql_hosts))"
    (galera_up) > "$dir/log/galera-start.log" 2>&1 || fail "the Galera nodes did not start" "$dir/log/galera-start.log"
  fi
  for h in "${POOL_HOSTS[@]}"; do
    log "starting pool host $h on $(addr_of "$h"):$HOST_PORT"
    start_pool_host "$h"
  done
  log "starting the edge"
  start_edge
  trap - ERR
  log "up: $(edge_url) (from the root namespace; lg1..lg3 reach it too)"
}

down() {
  [ "$(id -u)" -eq 0 ] || fail "needs root"
  [ -d "$dir" ] && stop_hosts
  net_down
  local left
  left=$(net_leftovers)
  [ -z "$left" ] || fail "still there after down: $left"
  log "down: no namespace, veth, bridge, nft table or process of the cluster is left"
}

status() {
  local h rc=0
  for h in "${LIVE_HOSTS[@]}"; do
    if ! ns_exists "$h"; then printf '%-7s no namespace\n' "$h"; rc=3; continue; fi
    if net_is_cut "$h"; then printf '%-7s %-12s CUT\n' "$h" "$(addr_of "$h")"; else printf '%-7s %-12s link up\n' "$h" "$(addr_of "$h")"; fi
  done
  if edge_running; then echo "edge    nginx running: $(edge_url)"; else echo "edge    nginx stopped"; rc=3; fi
  stack_in stores STORES_ONLY=1 status | sed 's/^/stores  /' || rc=3
  [ "$CLUSTER_REDIS" != sentinel ] || redis_status || rc=3
  if galera_on; then galera_status || rc=3; fi
  for h in "${POOL_HOSTS[@]}"; do
    stack_in "$h" EXTERNAL_STORES="$(addr_of stores)" status | sed "s/^/$h      /" || rc=3
  done
  return $rc
}

case "$cmd" in
  up) [ $# -eq 0 ] || usage; up ;;
  down) [ $# -eq 0 ] || usage; down ;;
  status) [ $# -eq 0 ] || usage; status ;;
  url) edge_url ;;
  cut) [ $# -eq 1 ] || usage; any_host "$1"; net_cut "$1"; log "$1 cut off" ;;
  heal) [ $# -eq 1 ] || usage; any_host "$1"; net_heal "$1"; log "$1 back" ;;
  start) [ $# -eq 1 ] || usage
         case $1 in
           r[0-9]) redis_host "$1"; start_redis_host "$1" ;;
           g[0-9]) galera_host "$1"; mkdir -p "$dir/log"; galera_start "$1"; log "$1: mariadbd running, Synced" ;;
           *) check; pool_host "$1"; start_pool_host "$1"; log "$1 running" ;;
         esac ;;
  slow) [ $# -eq 2 ] || usage; pool_host "$1"; [[ $2 =~ ^[0-9]+$ ]] || fail "MS must be a number"
        mkdir -p "$dir/log"; net_slow "$1" "$2" ;;
  exec) [ $# -ge 2 ] || usage; any_host "$1"; h=$1; shift; in_ns "$h" "$@" ;;
  kill) [ $# -eq 2 ] || usage
        case $1 in
          g[0-9]) [ "$2" = mysql ] || usage; galera_host "$1"
                  galera_pid "$1" > /dev/null || fail "$1's mariadbd is not running"
                  galera_stop "$1" KILL; log "$1: mariadbd killed (SIGKILL)" ;;
          *) redis_host "$1"; [[ $2 =~ ^(redis|sentinel)$ ]] || usage; kill_redis "$1" "$2" ;;
        esac ;;
  *) usage ;;
esac

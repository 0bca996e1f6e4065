# scripts/cluster/redis.sh: Redis through Sentinel in the cluster, sourced by
# scripts/cluster.sh (CLUSTER_REDIS=sentinel, the default).
#   r1 r2 r3  $NET.31-33: one redis-server on 6379 each (r1 starts as the
#             primary, r2 and r3 as its replicas) and one sentinel on 26379
#             (quorum 2, down-after-milliseconds 2000), all run as the redis
#             account. Their files are rendered from deploy/redis/: every
#             node carries redis-node.conf's lines (min-replicas-to-write 1,
#             min-replicas-max-lag 10), each sentinel sentinel.conf with this
#             cluster's addresses and shorter timeouts. Both listen on the
#             host's private address only. The nodes take the stores host's
#             Redis password (DIR/stores/redis.password, REDIS_AUTH: the pool
#             hosts have it already) as requirepass and masterauth, the
#             sentinels as auth-pass; without one the nodes run with
#             protected-mode no, as the stores' Redis then does. The
#             sentinels have no password (protected-mode no): keep them on
#             the private network (docs/security.md).
# The pool hosts, their writers and popupctl find the primary through the
# three sentinels (redis_sentinels in each popup.local.conf); the popups are
# published into it from the stores host (DIR/redis-popupctl.conf: the
# stores' popupctl.conf with the sentinels). CLUSTER_REDIS=single: none of
# this; the pool hosts use the stores host's Redis as before.
# State: DIR/rN/redis (the node's file, data, pid), DIR/rN/sentinel (the
# sentinel's file, which it rewrites, and pid), DIR/rN/log.
# `up` renders every file again from scratch (a new set, r1 the primary);
# `start HOST` (after `kill HOST redis|sentinel`) keeps them, so a node
# comes back with what the sentinels made of it.

REDIS_HOSTS=(r1 r2 r3)
REDIS_MASTER=popup
SENTINEL_PORT=26379

redis_host() {
  local h
  for h in "${REDIS_HOSTS[@]}"; do [ "$h" = "$1" ] && return 0; done
  fail "'$1' is not a Redis host (${REDIS_HOSTS[*]})"
}

sentinel_addrs() {
  local h out=()
  for h in "${REDIS_HOSTS[@]}"; do out+=("$(addr_of "$h"):$SENTINEL_PORT"); done
  (IFS=,; echo "${out[*]}")
}

# redis_pid HOST redis|sentinel: the pid of that daemon when it runs (its
# process title names its file under DIR/HOST/, so a stale pid file never
# names a stranger); empty otherwise.
redis_pid() {
  local f=$dir/$1/$2/$2.pid p
  p=$(cat "$f" 2>/dev/null) || return 0
  [[ $p =~ ^[0-9]+$ ]] || return 0
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = redis-server ] || return 0
  tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- "$dir/$1/$2/" && echo "$p"
  return 0
}

# The nodes' password: the stores host's (DIR/stores/redis.password, which
# the pool hosts get too), when its stack made one; empty: none.
redis_password() { cat "$dir/stores/redis.password" 2>/dev/null || true; }

# redis_cli_at ADDR PORT ARGS...: redis-cli with the nodes' password for a
# node (6379); the sentinels have none.
redis_cli_at() {
  local pw=""
  [ "$2" != 6379 ] || pw=$(redis_password)
  if [ -n "$pw" ]; then REDISCLI_AUTH=$pw timeout 3 redis-cli -h "$1" -p "$2" "${@:3}" 2>/dev/null
  else timeout 3 redis-cli -h "$1" -p "$2" "${@:3}" 2>/dev/null; fi
}

# The node's and the sentinel's files, made from deploy/redis/.
render_redis_host() {
  local h=$1 a d=$dir/$1 k pw
  a=$(addr_of "$h") pw=$(redis_password)
  rm -rf "$d"
  mkdir -p "$d"/{redis,sentinel,log}
  chmod 711 "$d"
  {
    echo "# Written by scripts/cluster.sh up (scripts/cluster/redis.sh) for $h:"
    echo "# the lines of deploy/redis/redis-node.conf, then this host's."
    grep -v '^[[:space:]]*#' "$top/deploy/redis/redis-node.conf" | grep .
    echo "port 6379"
    echo "bind $a"
    if [ -n "$pw" ]; then
      echo "# The stores host's password (DIR/stores/redis.password), also to"
      echo "# replicate from the primary; protected mode then lets clients in."
      echo "requirepass $pw"
      echo "masterauth $pw"
      echo "protected-mode yes"
    else
      echo "# The private bridge only; no password there (docs/security.md)."
      echo "protected-mode no"
    fi
    echo "dir $d/redis"
    echo "pidfile $d/redis/redis.pid"
    echo "logfile $d/log/redis.log"
    echo "daemonize no"
    echo "appendonly yes"
    echo "appendfsync everysec"
    echo "save \"\""
    echo "repl-diskless-sync yes"
    echo "repl-diskless-sync-delay 0"
    echo "maxmemory-policy volatile-lru"
    echo "proc-title-template \"{title} {listen-addr} {server-mode} {config-file}\""
    [ "$h" = "${REDIS_HOSTS[0]}" ] || echo "replicaof $(addr_of "${REDIS_HOSTS[0]}") 6379"
  } > "$d/redis/redis.conf"
  # deploy/redis/sentinel.conf with this host's address, the first node
  # as the primary and a failover of a few seconds.
  sed -e "s/^bind .*/bind $a/" \
      -e "s/^sentinel monitor .*/sentinel monitor $REDIS_MASTER $(addr_of "${REDIS_HOSTS[0]}") 6379 2/" \
      -e "s/^sentinel down-after-milliseconds .*/sentinel down-after-milliseconds $REDIS_MASTER 2000/" \
      -e "s/^sentinel failover-timeout .*/sentinel failover-timeout $REDIS_MASTER 6000/" \
      "$top/deploy/redis/sentinel.conf" > "$d/sentinel/sentinel.conf"
  for k in "bind $a" "sentinel monitor $REDIS_MASTER $(addr_of "${REDIS_HOSTS[0]}") 6379 2" \
           "down-after-milliseconds $REDIS_MASTER 2000" "failover-timeout $REDIS_MASTER 6000"; do
    grep -q "$k" "$d/sentinel/sentinel.conf" || fail "deploy/redis/sentinel.conf has no line for '$k'"
  done
  [ -z "$pw" ] || echo "sentinel auth-pass $REDIS_MASTER $pw" >> "$d/sentinel/sentinel.conf"
  cat >> "$d/sentinel/sentinel.conf" <<CONF
# This host's (scripts/cluster/redis.sh); the sentinel appends what it learns.
# No password on the sentinels (the pool asks them without one): the
# private bridge only (docs/security.md).
protected-mode no
sentinel resolve-hostnames no
dir $d/sentinel
pidfile $d/sentinel/sentinel.pid
logfile $d/log/sentinel.log
daemonize no
proc-title-template "{title} {listen-addr} {server-mode} {config-file}"
CONF
  chown -R redis:redis "$d/redis" "$d/sentinel" "$d/log"
  chmod 700 "$d/redis" "$d/sentinel" "$d/log"
}

# start_redis_daemon HOST redis|sentinel: runs it as the redis account in
# HOST's namespace, in a session of its own; waits until it answers PING.
start_redis_daemon() {
  local h=$1 what=$2 d=$dir/$1 port=6379 args=() i
  [ -z "$(redis_pid "$h" "$what")" ] || return 0
  [ "$what" = redis ] || { port=$SENTINEL_PORT; args=(--sentinel); }
  in_ns "$h" setsid setpriv --reuid=redis --regid=redis --clear-groups -- \
    redis-server "$d/$what/$what.conf" "${args[@]}" < /dev/null >> "$d/log/$what.out" 2>&1 9>&- &
  for ((i = 0; i < 100; i++)); do
    [ "$(redis_cli_at "$(addr_of "$h")" "$port" PING)" = PONG ] && return 0
    sleep 0.1
  done
  fail "$what on $h did not answer within 10 s" "$d/log/$what.log"
}

# True once every sentinel names the same primary, knows two replicas and
# the two other sentinels, and both replicas' links are up.
sentinels_agree() {
  local h primary="" out
  for h in "${REDIS_HOSTS[@]}"; do
    out=$(redis_cli_at "$(addr_of "$h")" "$SENTINEL_PORT" SENTINEL master "$REDIS_MASTER" | paste -sd' ')
    [[ $out =~ (^| )ip\ ([0-9.]+)\ .*num-slaves\ 2\ .*num-other-sentinels\ 2( |$) ]] || return 1
    [ -z "$primary" ] || [ "$primary" = "${BASH_REMATCH[2]}" ] || return 1
    primary=${BASH_REMATCH[2]}
  done
  for h in "${REDIS_HOSTS[@]}"; do
    [ "$(addr_of "$h")" != "$primary" ] || continue
    redis_cli_at "$(addr_of "$h")" 6379 INFO replication | grep -q '^master_link_status:up' || return 1
  done
}

# A new set (r1 the primary) when none of its daemons runs; otherwise
# (`up` again) what is missing starts with the files it had.
start_redis_hosts() {
  local h i any=0 p
  for h in "${REDIS_HOSTS[@]}"; do
    [ -z "$(redis_pid "$h" redis)$(redis_pid "$h" sentinel)" ] || any=1
  done
  if [ $any -eq 0 ]; then
    for h in "${REDIS_HOSTS[@]}"; do render_redis_host "$h"; done
  fi
  for h in "${REDIS_HOSTS[@]}"; do start_redis_daemon "$h" redis; done
  for h in "${REDIS_HOSTS[@]}"; do start_redis_daemon "$h" sentinel; done
  for ((i = 0; i < 600; i++)); do
    sentinels_agree && break
    sleep 0.1
  done
  sentinels_agree || fail "the sentinels did not agree on a primary and its two replicas within 60 s" "$dir/r1/log/sentinel.log"
  # The popups go into the sentinels' primary: popupctl on the stores host
  # (its MariaDB socket) with the stores' popupctl.conf and the sentinels,
  # when that Redis holds no configuration yet (as the stack's load_config).
  { cat "$dir/stores/popupctl.conf"
    echo "redis_sentinels = $(sentinel_addrs)"
    echo "redis_master_name = $REDIS_MASTER"
  } > "$dir/redis-popupctl.conf.tmp"
  chmod 600 "$dir/redis-popupctl.conf.tmp" && mv "$dir/redis-popupctl.conf.tmp" "$dir/redis-popupctl.conf"
  p=$(redis_cli_at "$(addr_of "${REDIS_HOSTS[0]}")" "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$REDIS_MASTER" | head -n 1)
  [ -n "$(redis_cli_at "$p" 6379 GET popup:config:version)" ] && return 0
  in_ns stores "$BUILD/popupctl" --config "$dir/redis-popupctl.conf" publish ||
    fail "popupctl publish into the sentinels' primary failed"
}

# The lines of a pool host's popup.local.conf that name the Redis: kept in
# step with CLUSTER_REDIS on every start (the rest of the file is the
# operator's).
redis_local_conf() {
  local f=$1
  sed -i '/^redis_sentinels = \|^redis_master_name = /d' "$f"
  [ "$CLUSTER_REDIS" = sentinel ] || return 0
  printf 'redis_sentinels = %s\nredis_master_name = %s\n' "$(sentinel_addrs)" "$REDIS_MASTER" >> "$f"
}

# kill HOST redis|sentinel: SIGKILL (a crash, not a cut); `start HOST`
# starts it again with the files it had.
kill_redis() {
  local p
  p=$(redis_pid "$1" "$2")
  [ -n "$p" ] || fail "no $2 runs on $1"
  kill -s KILL "$p"
  log "$1: $2 (pid $p) killed"
}

start_redis_host() {
  [ -f "$dir/$1/redis/redis.conf" ] || fail "$1 has no files: scripts/cluster.sh up first"
  start_redis_daemon "$1" redis
  start_redis_daemon "$1" sentinel
  log "$1: redis and sentinel running"
}

stop_redis_hosts() {
  local h w p pids=()
  for h in "${REDIS_HOSTS[@]}"; do
    for w in sentinel redis; do
      p=$(redis_pid "$h" "$w")
      [ -z "$p" ] || { kill -s TERM "$p" 2>/dev/null || true; pids+=("$p"); }
    done
  done
  local i alive
  for ((i = 0; i < 100; i++)); do
    alive=0
    for p in "${pids[@]}"; do [ ! -d "/proc/$p" ] || alive=1; done
    [ $alive -eq 1 ] || return 0
    sleep 0.1
  done
  return 0
}

redis_status() {
  local h w p role rc=0
  for h in "${REDIS_HOSTS[@]}"; do
    for w in redis sentinel; do
      p=$(redis_pid "$h" "$w")
      if [ -z "$p" ]; then printf '%-7s %-8s stopped\n' "$h" "$w"; rc=3; continue; fi
      role=""
      [ "$w" != redis ] || role=$(redis_cli_at "$(addr_of "$h")" 6379 ROLE | head -n 1)
      printf '%-7s %-8s running (pid %s)%s\n' "$h" "$w" "$p" "${role:+ $role}"
    done
  done
  return $rc
}

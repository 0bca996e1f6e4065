# scripts/cluster/hosts.sh: what runs on each host of the cluster, sourced
# by scripts/cluster.sh. Every host's state is under DIR/HOST.
#   stores  scripts/stack.sh STORES_ONLY=1 STORES_BIND=its address: one
#           MariaDB and one Redis on TCP (accounts for $NET.%, sql/grants.sql),
#           migrated, with the demo popups published. With
#           CLUSTER_MYSQL=galera its MariaDB only seeds the Galera nodes.
#   g1..g3  CLUSTER_MYSQL=galera: MariaDB Galera nodes (scripts/cluster/galera.sh)
#   r1..r3  Redis through Sentinel (CLUSTER_REDIS=sentinel, the default):
#           scripts/cluster/redis.sh; the pool hosts' popup.local.conf then
#           names the sentinels (redis_local_conf), and the popups are
#           published into their primary. The stores' Redis goes unused.
#   hN      scripts/stack.sh EXTERNAL_STORES=the stores' address: nginx, the
#           popupd supervisor and one writer (writer_id w-hN), with
#           invalidation_feed = on in its popup.local.conf, and with
#           CLUSTER_MYSQL=galera mysql_hosts = the Galera nodes (the pool,
#           the writer and popupctl use them; set again on each start)
#   edge    nginx from nginx/edge.conf.in over the pool hosts
#   lgN     empty: load generators run there (`scripts/cluster.sh exec lg1 ...`)

stack_in() {  # stack_in HOST ENV... COMMAND: scripts/stack.sh COMMAND DIR/HOST in HOST's namespace
  local h=$1; shift
  local args=("$@") cmd=${!#}
  unset 'args[${#args[@]}-1]'
  in_ns "$h" env BUILD="$BUILD" "${args[@]}" "$top/scripts/stack.sh" "$cmd" "$dir/$h"
}

start_stores() {
  stack_in stores STORES_ONLY=1 STORES_BIND="$(addr_of stores)" STORES_CLIENTS="$NET.%" \
    DEMO="$DEMO" start
}

# The pool host's popup.local.conf is made once (the operator's file, as in
# the stack); the stores' passwords are copied before each start.
start_pool_host() {
  local h=$1 d=$dir/$1
  mkdir -p "$d" && chmod 711 "$d"
  cp "$dir/stores/mysql.password" "$dir/stores/popupctl.password" "$d/"
  chmod 600 "$d/mysql.password" "$d/popupctl.password"
  if [ -s "$dir/stores/redis.password" ]; then
    cp "$dir/stores/redis.password" "$d/" && chmod 600 "$d/redis.password"
  fi
  if [ ! -e "$d/popup.local.conf" ]; then
    cat > "$d/popup.local.conf" <<CONF
# The operator's settings for pool host $h of the cluster (scripts/cluster.sh
# made it once; scripts/stack.sh reload $d applies an edit).
# Its own writer drains the shared queue next to the other hosts' writers.
writer_id = w-$h
# The owner's memory hears of writes made through other hosts.
invalidation_feed = on
CONF
  fi
  redis_local_conf "$d/popup.local.conf"
  galera_local_conf "$d/popup.local.conf"
  stack_in "$h" EXTERNAL_STORES="$(addr_of stores)" HTTP_ADDR="$(addr_of "$h")" \
    HTTP_PORT="$HOST_PORT" WORKERS="$WORKERS" THREADS="$THREADS" NGINX_WORKERS="$NGINX_WORKERS" \
    TEST_CLOCK="$TEST_CLOCK" start > "$dir/log/$h-start.log" 2>&1 ||
    fail "pool host $h did not start" "$dir/log/$h-start.log"
}

edge_cmd() { echo nginx -p "$dir/edge" -c "$dir/edge/nginx.conf" -e "$dir/edge/log/nginx-error.log"; }

render_edge() {
  local hosts=() h upstream user_line=""
  for h in "${POOL_HOSTS[@]}"; do hosts+=("$(addr_of "$h"):$HOST_PORT"); done
  upstream=$("$here/edge-upstream" "${hosts[@]}")
  mkdir -p "$dir/edge/log"
  [ "$(id -u)" -ne 0 ] || user_line="user www-data www-data;"
  local text
  text=$(< "$top/nginx/edge.conf.in")
  local kv
  for kv in "USER_LINE=$user_line" "NGINX_WORKERS=$EDGE_WORKERS" "DIR=$dir/edge" \
            "ACCESS_LOG=access_log $dir/edge/log/access.log popup_edge buffer=64k flush=1s;" \
            "UPSTREAM=$upstream" "LISTEN=$(addr_of edge):$EDGE_PORT" \
            "CONNECT_TIMEOUT=$CONNECT_TIMEOUT" "READ_TIMEOUT=$READ_TIMEOUT"; do
    text=${text//"@${kv%%=*}@"/"${kv#*=}"}
  done
  ! grep -v '^[[:space:]]*#' <<< "$text" | grep -q '@[A-Z_]*@' || fail "nginx/edge.conf.in has a placeholder cluster.sh does not fill"
  printf '%s\n' "$text" > "$dir/edge/nginx.conf"
}

start_edge() {
  if edge_running; then return 0; fi
  render_edge
  # shellcheck disable=SC2046 # the command's words
  in_ns edge $(edge_cmd) -t -q >> "$dir/log/edge-start.log" 2>&1 || fail "nginx refused $dir/edge/nginx.conf" "$dir/log/edge-start.log"
  # shellcheck disable=SC2046
  in_ns edge $(edge_cmd) < /dev/null >> "$dir/log/edge-start.log" 2>&1 || fail "the edge nginx did not start" "$dir/log/edge-start.log"
  local i
  for ((i = 0; i < 100; i++)); do
    curl -s -m 2 -o /dev/null "$(edge_url)/edge-status" && return 0
    sleep 0.1
  done
  fail "the edge does not answer on $(edge_url)" "$dir/edge/log/nginx-error.log"
}

edge_running() {
  local p
  p=$(cat "$dir/edge/nginx.pid" 2>/dev/null) || return 1
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = nginx ] && tr '\0' ' ' < "/proc/$p/cmdline" | grep -q -- "$dir/edge/"
}

edge_url() { echo "http://$(addr_of edge):$EDGE_PORT"; }

# Stops what runs on each host gently (the stacks finish what they serve,
# the writers their batches) before `down` kills what is left.
stop_hosts() {
  local h
  if edge_running; then kill -QUIT "$(cat "$dir/edge/nginx.pid")" 2>/dev/null || true; fi
  for h in "${POOL_HOSTS[@]}" stores; do
    [ -d "$dir/$h" ] || continue
    "$top/scripts/stack.sh" stop "$dir/$h" > /dev/null 2>&1 || true
  done
  stop_redis_hosts
  for h in "${GALERA_HOSTS[@]}"; do galera_stop "$h"; done
}

# scripts/cluster/galera.sh: the cluster's MariaDB as three Galera nodes,
# sourced by scripts/cluster.sh. CLUSTER_MYSQL=galera (the default):
#   g1 g2 g3  one MariaDB Galera node each ($NET.41..43, port 3306; 4567
#             group, 4568 IST, 4444 rsync SST), run as the mysql account,
#             state in DIR/gN (my.cnf, data/, mysql.sock, node.pid,
#             mariadb.log). my.cnf is deploy/galera/galera.cnf.example
#             rendered for the node (its per-node lines, the provider found
#             here, a smaller gcache and shorter failure detection).
#             Equal weights: two of three nodes keep the primary component.
#             `up` makes them afresh (their rows do not outlive `down`): g1
#             bootstraps (--wsrep-new-cluster) and is seeded from the stores
#             host (scripts/migrate.sh, the accounts `popup` and `popupctl`
#             for $NET.% with the stores' passwords and sql/grants.sql, the
#             popups and config_meta as the stores host published them); g2
#             and g3 join and copy g1 by rsync. Every pool host's
#             popup.local.conf then says mysql_hosts = g1, g2, g3 (their
#             addresses), in that order. The stores host keeps its MariaDB:
#             it only seeds the nodes (and the stores' Redis stays in use).
# CLUSTER_MYSQL=single: no Galera namespace; the pool hosts use the stores'
# MariaDB, as before.

GALERA_HOSTS=(g1 g2 g3)
CLUSTER_MYSQL=${CLUSTER_MYSQL:-galera}

galera_on() { [ "$CLUSTER_MYSQL" = galera ]; }
galera_host() {
  local h
  galera_on || fail "CLUSTER_MYSQL=$CLUSTER_MYSQL: the cluster has no Galera nodes"
  for h in "${GALERA_HOSTS[@]}"; do
    if [ "$h" = "$1" ]; then
      [ -d "$dir/$h/data" ] || fail "no Galera node in $dir/$h: scripts/cluster.sh up first"
      return 0
    fi
  done
  fail "'$1' is not a Galera node (${GALERA_HOSTS[*]})"
}

galera_lib() {
  local p
  for p in /usr/lib/galera/libgalera_smm.so /usr/lib/galera-4/libgalera_smm.so /usr/lib/libgalera_smm.so; do
    if [ -e "$p" ]; then echo "$p"; return 0; fi
  done
  fail "no Galera library (libgalera_smm.so): run scripts/deps.sh (galera-4)"
}

# The pool hosts' mysql_hosts: every node, in one order everywhere (so all
# processes write through the same node: no certification conflicts).
galera_mysql_hosts() {
  local h out=()
  for h in "${GALERA_HOSTS[@]}"; do out+=("$(addr_of "$h"):3306"); done
  (IFS=,; echo "${out[*]}") | sed 's/,/, /g'
}

# The pool hosts' popup.local.conf follows CLUSTER_MYSQL on every start (the
# file outlives `down`). A lost Galera node stalls every commit in the
# cluster until the others evict it (about 4.5 s here: the evs timeouts
# below); the writers' heartbeats must outlive that stall, or the writers
# take over each other's batches (docs/deployment.md "Galera cluster").
galera_local_conf() {
  local f=$1
  sed -i '/^mysql_hosts = /d; /^writer_heartbeat_ttl_ms = /d' "$f"
  galera_on || return 0
  printf 'mysql_hosts = %s\nwriter_heartbeat_ttl_ms = 15000\n' "$(galera_mysql_hosts)" >> "$f"
}

galera_sql() {  # galera_sql HOST ARGS...: the client as root on HOST's socket
  local h=$1; shift
  mariadb --no-defaults -S "$dir/$h/mysql.sock" -u root --batch -N "$@"
}
galera_status_var() {
  galera_sql "$1" -e "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | cut -f2
}
galera_synced() {
  [ "$(galera_status_var "$1" wsrep_ready)" = ON ] &&
    [ "$(galera_status_var "$1" wsrep_local_state_comment)" = Synced ]
}

# The node's mariadbd pid, when it runs (checked by name and command line,
# so a stale pid file never gets a stranger signalled).
galera_pid() {
  local p
  p=$(cat "$dir/$1/node.pid" 2>/dev/null) || return 1
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = mariadbd ] || return 1
  tr '\0' ' ' < "/proc/$p/cmdline" | grep -q -- "$dir/$1/" || return 1
  echo "$p"
}

galera_render() {
  local h=$1 d=$dir/$1 a peers lib g list=()
  a=$(addr_of "$h")
  lib=$(galera_lib)
  for g in "${GALERA_HOSTS[@]}"; do list+=("$(addr_of "$g")"); done
  peers=$(IFS=,; echo "${list[*]}")
  {
    cat <<CNF
# Written by scripts/cluster.sh for Galera node $h on each start: the
# service's paths, then deploy/galera/galera.cnf.example rendered for $h.
[mariadbd]
datadir = $d/data
socket = $d/mysql.sock
pid-file = $d/mysql.pid
log-error = $d/mariadb.log
tmpdir = $d/tmp
port = 3306
skip-name-resolve
innodb-buffer-pool-size = 64M
innodb-log-file-size = 32M
innodb-flush-log-at-trx-commit = 2
max-connections = 500

CNF
    # gcache: minutes of the tests' writes; failure detection: a cut node
    # leaves the view after about 6 s (the defaults take 15-30 s).
    sed -e "s|^\(wsrep_provider  *=\).*|\1 $lib|" \
        -e "s|^\(wsrep_cluster_address  *=\).*|\1 gcomm://$peers|" \
        -e "s|^\(wsrep_node_name  *=\).*|\1 $h|" \
        -e "s|^\(wsrep_node_address  *=\).*|\1 $a|" \
        -e "s|^\(wsrep_sst_receive_address  *=\).*|\1 $a|" \
        -e "s|^\(wsrep_provider_options  *=\).*|\1 \"gcache.size=128M;evs.keepalive_period=PT1S;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.install_timeout=PT6S\"|" \
        "$top/deploy/galera/galera.cnf.example"
  } > "$d/my.cnf.tmp"
  local want
  for want in "wsrep_provider *= $lib" "wsrep_node_address *= $a" "wsrep_sst_receive_address *= $a" \
              "wsrep_cluster_address *= gcomm://$peers" "wsrep_node_name *= $h" "wsrep_provider_options *= \"gcache"; do
    grep -q "^$want" "$d/my.cnf.tmp" || fail "deploy/galera/galera.cnf.example has no line for: $want"
  done
  chmod 644 "$d/my.cnf.tmp" && mv -f "$d/my.cnf.tmp" "$d/my.cnf"
}

galera_install() {
  local h=$1 d=$dir/$1
  rm -rf "$d" && mkdir -p "$d/tmp"
  chown -R mysql:mysql "$d" && chmod 750 "$d"
  mariadb-install-db --no-defaults --datadir="$d/data" --user=mysql --tmpdir="$d/tmp" \
    --auth-root-authentication-method=socket --skip-test-db > "$dir/log/$h-install.log" 2>&1 ||
    fail "mariadb-install-db failed for $h" "$dir/log/$h-install.log"
  chown -R mysql:mysql "$d"
}

# galera_start HOST [--wsrep-new-cluster]: starts HOST's mariadbd (as the
# mysql account, in HOST's namespace) and waits until it is Synced: a joiner
# copies a member's data first (IST, else rsync SST).
galera_start() {
  local h=$1 d=$dir/$1 pid i; shift
  if galera_pid "$h" > /dev/null; then return 0; fi
  galera_render "$h"
  setsid ip netns exec "$(ns "$h")" mariadbd --defaults-file="$d/my.cnf" --user=mysql "$@" \
    < /dev/null >> "$dir/log/$h-mariadbd.log" 2>&1 9>&- &
  pid=$!
  echo "$pid" > "$d/node.pid"
  for ((i = 0; i < 1800; i++)); do
    galera_synced "$h" && return 0
    [ -d "/proc/$pid" ] || fail "mariadbd of $h exited" "$d/mariadb.log"
    sleep 0.1
  done
  fail "Galera node $h is not Synced after 180 s" "$d/mariadb.log"
}

# galera_stop HOST [SIGNAL]: TERM (a clean leave; the others keep the
# primary component) and wait, then KILL; KILL at once with SIGNAL KILL.
galera_stop() {
  local h=$1 sig=${2:-TERM} pid i
  pid=$(galera_pid "$h") || return 0
  kill -s "$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do
    [ -d "/proc/$pid" ] || return 0
    sleep 0.1
  done
  kill -s KILL "$pid" 2>/dev/null || true
}

# The schema, the accounts and the popups into the bootstrapped node g1
# (Galera replicates them to the joiners).
galera_seed() {
  local s=$dir/stores clients=$NET.%
  galera_sql g1 -e "CREATE DATABASE IF NOT EXISTS popup CHARACTER SET utf8mb4" ||
    fail "cannot create database popup on g1"
  MYSQL_ADMIN=root "$top/scripts/migrate.sh" "$dir/g1/mysql.sock" popup ||
    fail "migrations failed on g1"
  # Passwords on stdin, never on a command line.
  { cat <<SQL
CREATE USER IF NOT EXISTS 'popup'@'$clients';
ALTER USER 'popup'@'$clients' IDENTIFIED BY '$(cat "$s/mysql.password")';
CREATE USER IF NOT EXISTS 'popupctl'@'$clients';
ALTER USER 'popupctl'@'$clients' IDENTIFIED BY '$(cat "$s/popupctl.password")';
SQL
    sed -e 's/@SERVICE@/popup/g' -e 's/@CTL@/popupctl/g' -e "s/@HOST@/$clients/g" "$top/sql/grants.sql"
  } | galera_sql g1 popup || fail "cannot make the accounts on g1"
  mariadb-dump --no-defaults -S "$s/mysql.sock" -u root --no-create-info --replace --skip-triggers \
    popup popups config_meta > "$dir/log/galera-seed.sql" || fail "cannot dump the stores' popups"
  galera_sql g1 popup < "$dir/log/galera-seed.sql" || fail "cannot load the popups into g1"
}

# CLUSTER_REDIS=single: the stores' config_meta.version catches up with the
# version the stores' Redis (kept across `up`s) holds: the Galera nodes, seeded from the stores, publish past the
# stores' MariaDB, and a later `up` (either mode) must publish newer
# versions than any published before, or the pool keeps its configuration.
align_config_version() {
  local v
  v=$(REDISCLI_AUTH=$(redis_password) redis-cli -s "$dir/stores/redis.sock" GET popup:config:version 2>/dev/null || true)
  [[ $v =~ ^[0-9]+$ ]] || return 0
  mariadb --no-defaults -S "$dir/stores/mysql.sock" -u root popup \
    -e "UPDATE config_meta SET version = GREATEST(version, $v) WHERE id = 1"
}

# up: the nodes that do not run are made and started; with none running,
# the cluster is made afresh (g1 bootstraps and is seeded).
galera_up() {
  local h any=0
  for h in "${GALERA_HOSTS[@]}"; do if galera_pid "$h" > /dev/null; then any=1; fi; done
  if [ $any -eq 0 ]; then
    for h in "${GALERA_HOSTS[@]}"; do galera_install "$h"; done
    galera_start g1 --wsrep-new-cluster
    galera_seed
  fi
  for h in "${GALERA_HOSTS[@]}"; do galera_start "$h"; done
}

galera_status() {
  local h pid rc=0
  for h in "${GALERA_HOSTS[@]}"; do
    if pid=$(galera_pid "$h"); then
      printf '%-7s mariadbd running (pid %s): %s, %s, cluster size %s\n' "$h" "$pid" \
        "$(galera_status_var "$h" wsrep_cluster_status)" "$(galera_status_var "$h" wsrep_local_state_comment)" \
        "$(galera_status_var "$h" wsrep_cluster_size)"
    else
      printf '%-7s mariadbd stopped\n' "$h"; rc=3
    fi
  done
  return $rc
}

# scripts/stack/checks.sh: the settings, DIR, the programs and the ports,
# checked before anything starts (a refused setting leaves a running stack
# alone).

check_settings() {
  local v
  # The pool is sized for the CPU (nginx/README.md, pool size): a process
  # per core with 2 threads each. Kept connections cost no thread, so a
  # TCP pool needs no more.
  WORKERS=${WORKERS:-$(nproc)}
  THREADS=${THREADS:-2}
  for v in HTTP_PORT WORKERS THREADS NGINX_WORKERS MAX_REQUESTS BATCH_SIZE BATCH_MS FLUSH_MS \
           FLUSH_EVENTS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || fail "$v must be a number, not '${!v}'"
  done
  [[ $MYSQL_BUFFER_POOL =~ ^[1-9][0-9]*[KMG]?$ ]] ||
    fail "MYSQL_BUFFER_POOL must be a size such as 256M or 2G, not '$MYSQL_BUFFER_POOL'"
  [[ $ACCESS_LOG =~ ^(on|off|private)$ ]] || fail "ACCESS_LOG must be on, off or private, not '$ACCESS_LOG'"
  [[ $WRITE_BEHIND_SCHED =~ ^(batch|other)$ ]] ||
    fail "WRITE_BEHIND_SCHED must be batch or other, not '$WRITE_BEHIND_SCHED'"
  [ -z "$NGINX_KEEPALIVE" ] || [[ $NGINX_KEEPALIVE =~ ^[0-9]+$ ]] ||
    fail "NGINX_KEEPALIVE must be a number, not '$NGINX_KEEPALIVE'"
  [ -z "$POOL_TCP_PORT" ] || [[ $POOL_TCP_PORT =~ ^[0-9]+$ ]] ||
    fail "POOL_TCP_PORT must be a number, not '$POOL_TCP_PORT'"
  if [ "$WORKERS" -lt 1 ] || [ "$THREADS" -lt 1 ] || [ "$NGINX_WORKERS" -lt 1 ]; then
    fail "WORKERS, THREADS and NGINX_WORKERS must be at least 1"
  fi
  local ip='^[0-9]{1,3}(\.[0-9]{1,3}){3}$'
  [ -z "$STORES_BIND" ] || [[ $STORES_BIND =~ $ip ]] || fail "STORES_BIND must be an IPv4 address, not '$STORES_BIND'"
  [ -z "$EXTERNAL_STORES" ] || [[ $EXTERNAL_STORES =~ $ip ]] ||
    fail "EXTERNAL_STORES must be an IPv4 address, not '$EXTERNAL_STORES'"
  [[ $STORES_CLIENTS =~ ^[0-9.%]+$ ]] || fail "STORES_CLIENTS must be a MariaDB host pattern of digits, dots and %"
  case $STORES_ONLY in 0|1) ;; *) fail "STORES_ONLY must be 0 or 1" ;; esac
  case $REDIS_AUTH in 0|1) ;; *) fail "REDIS_AUTH must be 0 or 1" ;; esac
  [ "$STORES_ONLY" = 0 ] || [ -z "$EXTERNAL_STORES" ] || fail "STORES_ONLY and EXTERNAL_STORES exclude each other"
  if [ -n "$EXTERNAL_STORES" ] && { [ ! -s "$dir/mysql.password" ] || [ ! -s "$dir/popupctl.password" ]; }; then
    fail "EXTERNAL_STORES: copy the store host's mysql.password and popupctl.password into $dir first"
  fi
  case $POOL in supervisor|spawn-fcgi) ;; *) fail "POOL must be supervisor or spawn-fcgi, not '$POOL'" ;; esac
  case $TEST_CLOCK in on|off) ;; *) fail "TEST_CLOCK must be on or off, not '$TEST_CLOCK'" ;; esac
  case $UPSTREAM_KEEPALIVE in on|off) ;; *) fail "UPSTREAM_KEEPALIVE must be on or off" ;; esac
  # It goes into nginx.conf: an absolute path of plain characters.
  [ -z "$NGINX_INCLUDE" ] || { [[ $NGINX_INCLUDE =~ ^/[A-Za-z0-9._/+-]+$ ]] && [ -d "$NGINX_INCLUDE" ]; } ||
    fail "NGINX_INCLUDE must be an existing folder given as an absolute path of [A-Za-z0-9._/+-]"
  # Kept pool connections per nginx worker (nginx/README.md, the sizing
  # rule): 1,024 covers the benchmarks' 256 client connections many times
  # over. The rule itself is popupd's (core/settings.h check_sizing):
  # start runs popupd --check on the popup.conf it writes.
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
  local longest="$dir/mysql.run/mysql.sock"
  [ "$(printf %s "$longest" | wc -c)" -le 107 ] ||
    fail "$dir is too long: unix socket paths such as $longest must be at most 107 bytes; use a shorter folder"
}

check_programs() {
  local p needed=(popupd popupctl)
  [ "$WRITER" = 1 ] && needed+=(popup-writer)
  for p in "${needed[@]}"; do
    [ -x "$bin/$p" ] || fail "$bin/$p is missing: run make first"
  done
  for p in mariadb-install-db mariadbd mariadb mariadb-admin redis-server redis-cli nginx curl setsid chrt; do
    command -v "$p" > /dev/null || fail "$p is not installed: run scripts/deps.sh"
  done
  if [ "$POOL" = spawn-fcgi ]; then
    command -v spawn-fcgi > /dev/null || fail "spawn-fcgi is not installed: run scripts/deps.sh"
  fi
}

check_ports() {
  if ! running nginx/nginx.pid && port_taken "$HTTP_ADDR" "$HTTP_PORT"; then
    fail "$HTTP_ADDR:$HTTP_PORT is already in use; choose another HTTP_PORT"
  fi
  if [ -n "$POOL_TCP_PORT" ] && ! running popupd.pid && port_taken 127.0.0.1 "$POOL_TCP_PORT"; then
    fail "127.0.0.1:$POOL_TCP_PORT is already in use; choose another POOL_TCP_PORT"
  fi
}

# wanted NAME: 0 when this stack runs piece NAME (the floors are bench/'s).
wanted() {
  case $1 in
    floor|floor-redis|floor-pinned) return 1 ;;
    mariadb|redis) [ -z "$EXTERNAL_STORES" ] ;;
    writer) [ "$WRITER" = 1 ] && [ "$STORES_ONLY" != 1 ] ;;
    *) [ "$STORES_ONLY" != 1 ] ;;
  esac
}

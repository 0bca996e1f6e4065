# scripts/stack/pool.sh: the FastCGI pool, popupd's supervisor (POOL=
# supervisor) or spawn-fcgi's processes, run as the service account with
# www-data's group for its sockets (accounts.sh), and how to reach it.

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
    # spawn-fcgi drops to the account itself; the socket is the account's
    # and nginx's workers' group.
    is_root && drop=(-u "$svc_user" -g "$svc_group" -U "$svc_user" -G "$web_group")
    [ -z "$POOL_TCP_PORT" ] || where=(-a 127.0.0.1 -p "$POOL_TCP_PORT")
    # -F N with -P: spawn-fcgi 1.6.4 writes every child's pid, one a line;
    # each child runs in a session of its own. -b: the same backlog as
    # popup.conf (spawn-fcgi's own default is 1024).
    new_log popupd.log svc
    spawn-fcgi "${where[@]}" "${drop[@]}" -b "$BACKLOG" -F "$WORKERS" -P "$dir/popupd.pid" \
      -- "$bin/popupd" --config "$dir/popup.conf" \
      < /dev/null >> "$dir/log/popupd.log" 2>&1 9>&- ||
      fail "spawn-fcgi failed" "$dir/log/popupd.log"
  else
    # popupd itself replaces a stale socket and refuses one that answers.
    wait_old_pool
    launch pool "$dir/popupd.pid" "$dir/log/popupd.log" "$bin/popupd" --config "$dir/popup.conf" ||
      fail "popupd did not start" "$dir/log/popupd.log"
  fi
  wait_up 20 popupd.pid pool_listens || fail "the pool did not start listening" "$dir/log/popupd.log"
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

# The pool's sockets that popupd --check lists, all present (unix ones).
pool_sockets_ready() {
  local s
  for s in $(pool_servers | grep -o 'server unix:[^ ;]*' | cut -d: -f2-); do
    [ -S "$s" ] || return 1
  done
}

# reload_pool: SIGHUP to the supervisor (it reads popup.conf and what it
# includes again), then wait for the sockets of its new slots.
reload_pool() {
  [ "$POOL" = supervisor ] || return 0
  kill -HUP "$(live_pids "$dir/popupd.pid" | head -n 1)"
  wait_up 20 popupd.pid pool_sockets_ready || fail "the pool's sockets did not appear" "$dir/log/popupd.log"
}

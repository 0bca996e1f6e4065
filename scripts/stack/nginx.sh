# scripts/stack/nginx.sh: nginx in front of the pool, from
# nginx/nginx.conf.in and the service's locations (nginx/popup.conf). Its
# master runs as the invoking user (root: the port, its logs), its workers
# as the web account (accounts.sh), which reaches the pool's sockets only.

nginx_cmd=(nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -e "$dir/log/nginx-error.log")

# include_line LEVEL: "include NGINX_INCLUDE/LEVEL.conf;" when that file
# exists, else nothing.
include_line() {
  if [ -n "$NGINX_INCLUDE" ] && [ -f "$NGINX_INCLUDE/$1.conf" ]; then
    echo "include $NGINX_INCLUDE/$1.conf;"
  fi
}

# popup.js as a host serves it (nginx/popup-web.conf), from the checkout's
# web/, and the map of cors_origins that `popupd --check` prints for it.
render_popup_web() {
  sed -e "s|@WEB_ROOT@|$top/web|g" "$top/nginx/popup-web.conf" > "$dir/nginx/popup/popup-web.conf"
  "$bin/popupd" --check --config "$dir/popup.conf" | sed -n '/^map \$http_origin /,/^}/p' \
    > "$dir/nginx/popup/popup-cors.conf"
}

render_nginx_conf() {
  local user_line="" servers keepalive="keepalive $NGINX_KEEPALIVE;" keep_conn=on
  is_root && user_line="user $web_user $web_group;"
  # Included code may reach the stores (bench/lua reads Redis): the workers
  # then need the service's group, so they run as the service account.
  if is_root && [ -n "$NGINX_INCLUDE" ]; then user_line="user $svc_user $svc_group;"; fi
  servers=$(pool_servers)
  [[ $servers == *server* ]] || fail "popupd --check printed no upstream servers for $dir/popup.conf"
  if [ "$UPSTREAM_KEEPALIVE" = off ]; then keepalive=""; keep_conn=off; fi
  local access_log="access_log $dir/log/nginx-access.log popup buffer=64k flush=1s;"
  case $ACCESS_LOG in
    off) access_log="access_log off;" ;;
    private) access_log="access_log $dir/log/nginx-access.log popup_private buffer=64k flush=1s;" ;;
  esac
  # The service's locations as a host's nginx includes them (nginx/popup.conf);
  # only the TIME_WAIT comparison turns kept connections off.
  mkdir -p "$dir/nginx/popup"
  cp "$top/nginx/fastcgi_params.conf" "$dir/nginx/popup/fastcgi_params.conf"
  sed -e "s|^\( *fastcgi_keep_conn\) on;|\1 $keep_conn;|" "$top/nginx/popup.conf" > "$dir/nginx/popup/popup.conf"
  render_popup_web
  # The marker lets `reload` find the line again.
  render "$top/nginx/nginx.conf.in" "$dir/nginx/nginx.conf" USER_LINE="$user_line" \
    NGINX_WORKERS="$NGINX_WORKERS" UPSTREAM_KEEPALIVE="$keepalive" KEEP_CONN="$keep_conn" \
    NGINX_KEEPALIVE="$NGINX_KEEPALIVE" RUN_DIR="$dir" POOL_SERVERS="$servers # pool servers" \
    POOL_SHARED="$(pool_shared)" LISTEN="$http_host:$HTTP_PORT" \
    MAIN_INCLUDE="$(include_line main)" HTTP_INCLUDE="$(include_line http)" \
    SERVER_INCLUDE="$(include_line server)" WEB_ROOT="$top/web" ACCESS_LOG="$access_log"
}

# The pool, not nginx, answered: healthz has its JSON shape (200 or 503).
pool_answers() { curl -s -m 5 "$url/api/healthz" | grep -q '"status"'; }
nginx_answers() { curl -sf -m 2 "$url/static-ok"; }

start_nginx() {
  running nginx/nginx.pid && return 0
  render_nginx_conf
  "${nginx_cmd[@]}" -t -q >> "$dir/log/nginx-error.log" 2>&1 ||
    fail "nginx refused $dir/nginx/nginx.conf" "$dir/log/nginx-error.log"
  rm -f "$dir/nginx/nginx.pid"
  # nginx daemonizes (daemon on): its master leads a session of its own.
  "${nginx_cmd[@]}" < /dev/null >> "$dir/log/nginx-error.log" 2>&1 9>&- ||
    fail "nginx did not start" "$dir/log/nginx-error.log"
  local i
  for ((i = 0; i < 50; i++)); do running nginx/nginx.pid && break; sleep 0.1; done
  wait_up 20 nginx/nginx.pid nginx_answers ||
    fail "nginx does not answer on $HTTP_ADDR:$HTTP_PORT" "$dir/log/nginx-error.log"
}

# old_nginx_gone PID...: none of these processes runs any more.
old_nginx_gone() {
  local p
  for p in "$@"; do kill -0 "$p" 2>/dev/null && return 1; done
  return 0
}

# reload_nginx: the upstream's server lines from popupd --check (the pool's
# size may have changed), then nginx -s reload, waiting until the old
# workers have left: until then some connections may still be hashed over
# the old servers (they finish what they serve).
reload_nginx() {
  local servers master old
  servers=$(pool_servers)
  [[ $servers == *server* ]] || fail "popupd --check printed no upstream servers"
  sed -i "s|^\( *\).*# pool servers\$|\1$servers # pool servers|" "$dir/nginx/nginx.conf"
  render_popup_web
  "${nginx_cmd[@]}" -t -q || fail "nginx refused the new upstream" "$dir/log/nginx-error.log"
  master=$(live_pids "$dir/nginx/nginx.pid" | head -n 1)
  old=$(pgrep -P "$master" | tr '\n' ' ')
  "${nginx_cmd[@]}" -s reload
  # shellcheck disable=SC2086 # one argument per pid
  wait_up 60 nginx/nginx.pid old_nginx_gone $old || fail "nginx's old workers did not leave" "$dir/log/nginx-error.log"
  log "reloaded: $servers"
}

# scripts/stack/config.sh: the service's configuration files in DIR and the
# MariaDB passwords.
#   popup.conf        the stack's (popup.conf.in), written on every start
#                     that starts the pool: only what the stack sets
#   popup.local.conf  the operator's, made once (popup.local.conf.in) and
#                     never rewritten; popup.conf includes it at its end
#   popupctl.conf     popup.conf with popupctl's own MariaDB account

write_conf() {
  local listen="" pid_file=""
  local stores=(REDIS="unix:$dir/redis.sock" MYSQL_SOCKET="$dir/mysql.sock" MYSQL_HOST=127.0.0.1)
  [ -z "$EXTERNAL_STORES" ] ||
    stores=(REDIS="$EXTERNAL_STORES:6379" MYSQL_SOCKET= MYSQL_HOST="$EXTERNAL_STORES")
  if [ "$POOL" = supervisor ]; then
    listen="unix:$dir/popup.sock"
    [ -z "$POOL_TCP_PORT" ] || listen="127.0.0.1:$POOL_TCP_PORT"
    pid_file=$dir/popupd.pid
  fi
  render "$here/popup.conf.in" "$dir/popup.conf" DIR="$dir" LISTEN="$listen" \
    BACKLOG="$BACKLOG" PID_FILE="$pid_file" WORKERS="$WORKERS" THREADS="$THREADS" \
    MAX_REQUESTS="$MAX_REQUESTS" FLUSH_MS="$FLUSH_MS" FLUSH_EVENTS="$FLUSH_EVENTS" \
    NGINX_WORKERS="$NGINX_WORKERS" NGINX_KEEPALIVE="$NGINX_KEEPALIVE" \
    MYSQL_PASSWORD="$(cat "$dir/mysql.password")" REDIS_PASSWORD="$(cat "$dir/redis.password" 2>/dev/null || true)" BATCH_SIZE="$BATCH_SIZE" BATCH_MS="$BATCH_MS" \
    TEST_CLOCK="$TEST_CLOCK" CORS_ORIGINS="$CORS_ORIGINS" ADMIN_LISTEN="$ADMIN_LISTEN" \
    "${stores[@]}"
  share_with "$svc_group" "$dir/popup.conf"
}

# DIR/popup.local.conf, made when missing (popup.conf includes it).
ensure_local_conf() {
  [ -e "$dir/popup.local.conf" ] && return 0
  render "$here/popup.local.conf.in" "$dir/popup.local.conf" DIR="$dir"
  share_with "$svc_group" "$dir/popup.local.conf"
}

# DIR/mysql.password: the service account's password, made once (20
# letters and digits from /dev/urandom). A stack from before it kept the
# password in popup.conf: that one is kept, so running pieces keep working.
# DIR/popupctl.password: popupctl's account's, made the same way.
ensure_password() {
  local f=$dir/mysql.password pw
  new_password "$dir/popupctl.password" ""
  if [ "$REDIS_AUTH" = 1 ] && [ -z "$EXTERNAL_STORES" ]; then
    new_password "$dir/redis.password" ""
    export REDISCLI_AUTH="$(cat "$dir/redis.password")"
  fi
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
  [ ${#pw} -ge 20 ] || fail "could not generate a password for $f"
  rm -f "$f.tmp"
  printf '%s\n' "$pw" > "$f.tmp" && chmod 600 "$f.tmp" && mv "$f.tmp" "$f"
}

# DIR/popupctl.conf: popup.conf with popupctl's own MariaDB account (the
# authoring privileges, sql/grants.sql), 0600 and the invoking user's: the
# service account cannot read it. Made again on every start from popup.conf;
# the account comes after popup.conf's include of popup.local.conf, so the
# operator's file cannot change it.
write_ctl_conf() {
  local f=$dir/popupctl.conf
  rm -f "$f.tmp"
  { echo "# Written by scripts/stack.sh: popup.conf with popupctl's MariaDB account."
    grep -v '^\(mysql_user\|mysql_password\) = \|^# ' "$dir/popup.conf"
    echo "mysql_user = popupctl"
    echo "mysql_password = $(cat "$dir/popupctl.password")"
  } > "$f.tmp" && chmod 600 "$f.tmp" && mv "$f.tmp" "$f"
}

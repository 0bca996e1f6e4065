# scripts/stack/writer.sh: the queue writer (popup-writer, run as the
# service account) and the popups it serves: the demo data and the first
# published configuration.

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
  local sched; write_behind_sched
  launch svc "$dir/writer.pid" "$dir/log/writer.log" "${sched[@]}" "$bin/popup-writer" --config "$dir/popup.conf" ||
    fail "popup-writer did not start" "$dir/log/writer.log"
}

# scripts/stack/redis.sh: the private Redis (redis.conf.in), run as the kv
# account (accounts.sh), on a unix socket only.

redis_ping() { [ "$(redis-cli -s "$dir/redis.sock" ping 2>/dev/null)" = PONG ]; }

start_redis() {
  running redis.pid && return 0
  local port=0 bind=127.0.0.1 protected=yes auth="# no password: the unix socket only, in DIR"
  # A store host: pool hosts connect from other addresses, which protected
  # mode refuses while the default user has no password (Redis 7 does so
  # whatever `bind` says); with one (REDIS_AUTH=1, the default there) it
  # lets them in. The stack's Redis listens only on STORES_BIND; keep that
  # address on a private network all the same (docs/security.md).
  [ -z "$STORES_BIND" ] || { port=6379; bind=$STORES_BIND; }
  [ -z "$STORES_BIND" ] || [ "$REDIS_AUTH" = 1 ] || protected=no
  [ "$REDIS_AUTH" != 1 ] || auth="requirepass $(cat "$dir/redis.password")"
  render "$here/redis.conf.in" "$dir/redis.conf" DIR="$dir" REDIS_MAXMEMORY="$REDIS_MAXMEMORY" \
    REDIS_PORT="$port" REDIS_BIND="$bind" REDIS_PROTECTED="$protected" REDIS_REQUIREPASS="$auth"
  share_with "$kv_group" "$dir/redis.conf"
  link_run redis
  launch kv "$dir/redis.run/redis.pid" "$dir/log/redis.log" redis-server "$dir/redis.conf" ||
    fail "redis-server did not start" "$dir/log/redis.log"
  wait_up 30 redis.pid redis_ping || fail "Redis did not come up within 30s" "$dir/log/redis.log"
}

# scripts/cluster/net.sh: the cluster's network, sourced by scripts/cluster.sh.
# One bridge ($PREFIX-br, $NET.1/24 in the root namespace, so the edge is
# reachable from here) and one namespace per host ($PREFIX-HOST), each joined to
# the bridge by a veth pair: $PREFIX-HOST in the root namespace, eth0 inside.
# Every name starts with CLUSTER_PREFIX (default popc), so `down` removes exactly what `up`
# may have made, also after a partial `up`, and nothing else.

ns() { echo "$PREFIX-$1"; }
in_ns() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }
addr_of() {
  case $1 in
    edge) echo "$NET.2" ;; stores) echo "$NET.10" ;;
    h[0-9]) echo "$NET.$((10 + ${1#h}))" ;;
    lg[0-9]) echo "$NET.$((20 + ${1#lg}))" ;;
    r[0-9]) echo "$NET.$((30 + ${1#r}))" ;;
    g[0-9]) echo "$NET.$((40 + ${1#g}))" ;;
    *) fail "no host $1" ;;
  esac
}
ns_exists() { ip netns list | grep -qw "^$(ns "$1")"; }

net_up() {
  if ! ip link show "$BRIDGE" > /dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  local h
  for h in "${LIVE_HOSTS[@]}"; do
    ns_exists "$h" || ip netns add "$(ns "$h")"
    if ! ip link show "$(ns "$h")" > /dev/null 2>&1; then
      ip link add "$(ns "$h")" type veth peer name eth0 netns "$(ns "$h")"
    fi
    ip link set "$(ns "$h")" master "$BRIDGE" up
    in_ns "$h" ip link set lo up
    in_ns "$h" ip addr replace "$(addr_of "$h")/24" dev eth0
    in_ns "$h" ip link set eth0 up
  done
}

# Every process in the cluster's namespaces (they are all ours: the
# namespaces are), then the namespaces, veths, bridge and nft table.
net_down() {
  local h pids
  for h in "${ALL_HOSTS[@]}"; do
    ns_exists "$h" || continue
    pids=$(ip netns pids "$(ns "$h")" 2>/dev/null | tr '\n' ' ')
    # shellcheck disable=SC2086 # one argument per pid
    [ -z "$pids" ] || kill -s KILL $pids 2>/dev/null || true
  done
  for h in "${ALL_HOSTS[@]}"; do
    ip link del "$(ns "$h")" 2>/dev/null || true
    if ns_exists "$h"; then ip netns del "$(ns "$h")" 2>/dev/null || true; fi
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  nft delete table inet "$PREFIX" 2>/dev/null || true
}

# What of the cluster's network is left (empty: nothing).
net_leftovers() {
  local h
  for h in "${ALL_HOSTS[@]}"; do
    if ns_exists "$h"; then echo "namespace $(ns "$h")"; fi
    if ip link show "$(ns "$h")" > /dev/null 2>&1; then echo "veth $(ns "$h")"; fi
  done
  if ip link show "$BRIDGE" > /dev/null 2>&1; then echo "bridge $BRIDGE"; fi
  if nft list table inet "$PREFIX" > /dev/null 2>&1; then echo "nft table inet $PREFIX"; fi
  return 0
}

# cut HOST: its link to the bridge goes down, so nothing reaches it and it
# reaches nothing (the stores included); packets are dropped, not refused,
# as when a host or its switch port dies. heal HOST: the link comes back.
net_cut() { ip link set "$(ns "$1")" down; }
net_heal() { ip link set "$(ns "$1")" up; }
net_is_cut() { ! ip link show "$(ns "$1")" | grep -q 'state UP\|,UP'; }

# slow HOST MS: the edge reaches HOST through a user-space delay proxy in the
# edge's namespace (scripts/cluster/delay_proxy.py, MS each way per chunk);
# an nft DNAT rule in the edge's namespace sends the edge's new connections to
# HOST's nginx to the proxy instead, so the edge's configuration (and its
# consistent hash) stays the same; the edge is reloaded so that its kept
# connections are made again. MS 0 removes the proxy and the rule.
net_slow() {
  local h=$1 ms=$2 port pidfile
  port=$((18000 + ${h#h})) pidfile=$dir/edge/slow-$h.pid
  in_ns edge nft delete table ip "$PREFIX-slow-$h" 2>/dev/null || true
  if [ -s "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
  [ "$ms" -gt 0 ] || { log "$h: no delay"; return 0; }
  setsid ip netns exec "$(ns edge)" /usr/bin/python3 "$here/delay_proxy.py" \
    "$(addr_of edge)" "$port" "$(addr_of "$h")" "$HOST_PORT" "$ms" \
    < /dev/null >> "$dir/log/slow-$h.log" 2>&1 &
  echo $! > "$pidfile"
  local i
  for ((i = 0; i < 50; i++)); do
    in_ns edge bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$(addr_of edge)" "$port" 2>/dev/null && break
    sleep 0.1
  done
  in_ns edge nft -f - <<NFT
table ip $PREFIX-slow-$h {
  chain out {
    type nat hook output priority -100;
    ip daddr $(addr_of "$h") tcp dport $HOST_PORT dnat to $(addr_of edge):$port
  }
}
NFT
  # A reload makes the edge's new workers open new connections (through
  # the proxy); the old ones finish what they serve.
  edge_running && kill -HUP "$(cat "$dir/edge/nginx.pid")"
  log "$h: the edge reaches it with ${ms} ms of delay each way"
}

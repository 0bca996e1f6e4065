#!/usr/bin/env bash
# A headless distributed Locust run on this machine: one master and two
# workers (the same flags work with workers on other load generators, see
# bench/README.md). Saves CSV and HTML under bench/results/ and exits non-zero
# on any request failure.
#
#   LOCUST_HOST=http://127.0.0.1:8080   target (default: start a private stack)
#   LOCUST_SMOKE=1                      short run for make test (12 s, 20 users)
#   LOCUST_OUT=PREFIX                   where the CSV/HTML go (default bench/results/locust-<time>)
#   LOCUST_USERS, LOCUST_RATE, LOCUST_TIME   otherwise (200 users, 50/s, 60s)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
locust=/usr/bin/locust
if [ "${LOCUST_SMOKE:-0}" = 1 ]; then
  users=${LOCUST_USERS:-20}; rate=${LOCUST_RATE:-20}; time=${LOCUST_TIME:-12s}
else
  users=${LOCUST_USERS:-200}; rate=${LOCUST_RATE:-50}; time=${LOCUST_TIME:-60s}
fi
suffix=""
if [ "${LOCUST_SMOKE:-0}" = 1 ]; then suffix=-smoke; fi
out=${LOCUST_OUT:-bench/results/locust-$(date +%Y%m%d-%H%M%S)$suffix}
mkdir -p "$(dirname "$out")"
run=$(mktemp -d /tmp/pl.XXXXXX)
# Started as root, the stack's services run as an unprivileged account
# (scripts/stack.sh), which must get through to $run/stack (itself private).
chmod 711 "$run"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -z "${LOCUST_HOST_GIVEN:-}" ]; then scripts/stack.sh stop "$run/stack" >/dev/null 2>&1 || true; fi
  rm -rf "$run"
}
trap cleanup EXIT

if [ -n "${LOCUST_HOST:-}" ]; then
  LOCUST_HOST_GIVEN=1
  host=$LOCUST_HOST
else
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  HTTP_PORT=$port DEMO=1 BUILD=$BUILD scripts/stack.sh start "$run/stack" >/dev/null
  host=http://127.0.0.1:$port
fi
# The master picks a free port too, so parallel runs do not collide.
mport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

for i in 1 2; do
  "$locust" -f bench/locustfile.py --worker --master-host 127.0.0.1 --master-port "$mport" \
    --loglevel WARNING > "$run/worker$i.log" 2>&1 &
  pids+=($!)
done
set +e
timeout 300 "$locust" -f bench/locustfile.py --master --master-bind-host 127.0.0.1 \
  --master-bind-port "$mport" --headless --expect-workers 2 --expect-workers-max-wait 60 \
  -u "$users" -r "$rate" -t "$time" --host "$host" --csv "$out" --html "$out.html" \
  --only-summary --loglevel WARNING 2>&1 | tee "$run/master.log" | tail -n 20
rc=${PIPESTATUS[0]}
set -e
stats="${out}_stats.csv"
if [ ! -s "$stats" ]; then echo "locust: no statistics written ($stats)"; exit 1; fi
# Columns: Type,Name,Request Count,Failure Count,...; the Aggregated row sums them.
read -r requests failures < <(awk -F, '$2=="Aggregated" {print $3, $4}' "$stats")
echo "locust: $requests requests, $failures failures against $host (report: $out.html)"
if [ "$rc" -ne 0 ] || [ "${failures:-1}" -ne 0 ] || [ "${requests:-0}" -eq 0 ]; then exit 1; fi

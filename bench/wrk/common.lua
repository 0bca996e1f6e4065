-- Shared by the wrk scripts: a Zipf-like user pick (log-uniform over
-- USERS ids, so user u0 is the most frequent and the tail is long), mixed
-- targeting parameters, and a machine-readable summary line.
local M = {}

-- Where the contract is served: /api (popupd) or /lua (the Lua
-- alternative, bench/lua/); bench.py sets it per workload.
M.api = os.getenv("API_PREFIX") or "/api"

M.users = tonumber(os.getenv("USERS") or "1000000")
local log_n = math.log(M.users)
local platforms = {"web", "web", "web", "ios", "android"}
local langs = {"", "", "", "en", "de", "fr", "es", "ja"}

function M.uid()
  local i = math.floor(math.exp(math.random() * log_n)) - 1
  if i >= M.users then i = M.users - 1 end
  return "u" .. i
end

function M.path_for(uid)
  local p = platforms[math.random(#platforms)]
  local q = M.api .. "/popup?uid=" .. uid .. "&platform=" .. p
  if p ~= "web" then q = q .. "&version=" .. math.random(1, 6) .. "." .. math.random(0, 9) end
  local l = langs[math.random(#langs)]
  if l ~= "" then q = q .. "&lang=" .. l end
  return q
end

function M.popup_path()
  return M.path_for(M.uid())
end

-- Pacing (bench.py's paced rows): with PACE_MS set, a script that exports
-- M.delay as wrk's delay() hook makes every connection pause before each
-- request, PACE_MS on average, where PACE_MS = connections / target req/s
-- * 1000 (wrk calls delay() once per request of a connection, before it
-- writes it; the latency it records starts at the write). wrk opens all
-- connections at once, so a constant pause would send them in step, a
-- burst of every connection each PACE_MS: instead each thread's first
-- pauses (one per connection it holds, WRK_CONNECTIONS / WRK_THREADS) are
-- staggered evenly over [0, PACE_MS), and the later ones are PACE_MS, so
-- the connections stay spread over the period. wrk truncates a pause to
-- whole milliseconds: the fraction is carried over, so the mean is exact.
-- A connection's period is PACE_MS plus its latency, so the rate reached
-- is a little under the target (bench.py reports both).
M.pace_ms = tonumber(os.getenv("PACE_MS") or "")
local per_thread = math.ceil(tonumber(os.getenv("WRK_CONNECTIONS") or "64") /
                             tonumber(os.getenv("WRK_THREADS") or "2"))
local started, carry = 0, 0

function M.delay()
  local ms = M.pace_ms
  if started < per_thread then
    ms = M.pace_ms * started / per_thread
    started = started + 1
  end
  ms = ms + carry
  local whole = math.floor(ms)
  carry = ms - whole
  return whole
end

function M.done(summary, latency)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end

return M

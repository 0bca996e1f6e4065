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

function M.done(summary, latency)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end

return M

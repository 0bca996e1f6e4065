-- Returning visitors: GET /api/popup (or API_PREFIX/popup) for users drawn
-- uniformly from the WARM_USERS most frequent ids (u0 ... u<WARM_USERS-1>,
-- the head of popup.lua's Zipf-like pick), with popup.lua's targeting mix.
-- bench.py first runs it unmeasured with WARM_PASS=1, which visits every
-- one of those users in turn (each wrk thread takes every Nth id), so the
-- measured round sees users whose state the owner already holds: the
-- "warm GET".
package.path = package.path .. ";" .. (os.getenv("WRK_DIR") or "bench/wrk") .. "/?.lua"
local c = require("common")

local warm_users = tonumber(os.getenv("WARM_USERS") or "10000")
local pass = os.getenv("WARM_PASS") == "1"
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
  thread:set("nthreads", tonumber(os.getenv("WRK_THREADS") or "2"))  -- wrk -t (bench.py: 2)
end

local next_id

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
  next_id = tid or 0
end

local function uid()
  if not pass then return "u" .. math.random(0, warm_users - 1) end
  local i = next_id % warm_users
  next_id = next_id + (nthreads or 1)
  return "u" .. i
end

function request()
  return wrk.format("GET", c.path_for(uid()))
end

done = c.done

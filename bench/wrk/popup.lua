-- GET /api/popup (or API_PREFIX/popup, common.lua) with Zipf-like users and
-- mixed targeting. With PACE_MS, paced (common.lua).
package.path = package.path .. ";" .. (os.getenv("WRK_DIR") or "bench/wrk") .. "/?.lua"
local c = require("common")

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  return wrk.format("GET", c.popup_path())
end

-- PACE_MS (bench.py's paced rows): wrk's delay() hook, common.lua.
if c.pace_ms then delay = c.delay end

done = c.done

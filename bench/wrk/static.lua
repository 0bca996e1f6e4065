-- Baselines (nginx's static location, the FastCGI floor): same request shape
-- and summary as the service workloads.
package.path = package.path .. ";" .. (os.getenv("WRK_DIR") or "bench/wrk") .. "/?.lua"
local c = require("common")

-- PACE_MS (the floor paced row): wrk's delay() hook, common.lua.
if c.pace_ms then delay = c.delay end

done = c.done

-- Baselines (nginx's static location, the FastCGI floor): same request shape
-- and summary as the service workloads.
package.path = package.path .. ";" .. (os.getenv("WRK_DIR") or "bench/wrk") .. "/?.lua"
local c = require("common")
done = c.done

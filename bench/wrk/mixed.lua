-- A homepage visit mix: 90 % GET /api/popup, 7 % ignore, 3 % click (under
-- API_PREFIX instead of /api when set, common.lua). BODY_UID=1: the actions
-- carry the uid in the body only, no ?uid= (bench.py's "body-uid" rows).
package.path = package.path .. ";" .. (os.getenv("WRK_DIR") or "bench/wrk") .. "/?.lua"
local c = require("common")
-- POPUP_IDS: comma list of enabled popup ids (bench.py reads them from MySQL).
local ids = {}
for id in string.gmatch(os.getenv("POPUP_IDS") or "1", "%d+") do ids[#ids + 1] = id end
local form = {["Content-Type"] = "application/x-www-form-urlencoded"}
local action_path = c.api .. "/popup/action"
local body_uid_only = os.getenv("BODY_UID") == "1"

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  local r = math.random(100)
  if r <= 90 then return wrk.format("GET", c.popup_path()) end
  local action = r <= 97 and "ignore" or "click"
  local uid = c.uid()
  local body = "uid=" .. uid .. "&popup_id=" .. ids[math.random(#ids)] .. "&action=" .. action
  -- ?uid= as well, as clients should send it: nginx routes the action to
  -- the user's worker (README "User affinity"). Without it (BODY_UID=1, as
  -- the contract allows and some apps do) nginx cannot route by uid.
  if body_uid_only then return wrk.format("POST", action_path, form, body) end
  return wrk.format("POST", action_path .. "?uid=" .. uid, form, body)
end

done = c.done

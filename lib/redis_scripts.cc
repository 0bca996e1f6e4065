#include "lib/redis_scripts.h"

// The contracts are in lib/redis_scripts.h; the comments here say how.

namespace popup {

namespace {

// The one rule every write of a user's state follows (UserState::order): a
// state replaces the stored one only when its order is larger; a state of
// unknown order (0: stored before orders were kept) is replaced by any, and
// replaces any, as before. The impression count only grows: the state kept
// takes the larger count of the two, so an action decided by another
// process before the owner's impressions were stored keeps them counted.
const char* const kNewestLua = R"lua(
local function order_of(text)
  local o = string.match(text, '^%-?%d+,%d+,%a+,%d+,(%d+)$')
  return o and tonumber(o) or 0
end
local function impressions_of(text)
  local n = string.match(text, '^%-?%d+,(%d+),')
  return n and tonumber(n) or -1
end
local function with_impressions(text, n)
  local head, tail = string.match(text, '^(%-?%d+),%d+,(.*)$')
  return head .. ',' .. n .. ',' .. tail
end
local function store_newest(key, field, text)
  local cur = redis.call('HGET', key, field)
  if cur then
    local had, new = order_of(cur), order_of(text)
    local ci, ni = impressions_of(cur), impressions_of(text)
    if had > 0 and new > 0 and had >= new then
      if ci >= 0 and ni > ci then
        redis.call('HSET', key, field, with_impressions(cur, string.match(text, '^%-?%d+,(%d+),')))
      end
      return 0
    end
    if ni >= 0 and ci > ni then text = with_impressions(text, string.match(cur, '^%-?%d+,(%d+),')) end
  end
  redis.call('HSET', key, field, text)
  return 1
end
)lua";

}  // namespace

const std::string kStoreStatesScript = std::string(kNewestLua) + R"lua(
local stored, touched = 0, {}
for i = 1, #KEYS do
  stored = stored + store_newest(KEYS[i], ARGV[2 * i], ARGV[2 * i + 1])
  if not touched[KEYS[i]] then
    touched[KEYS[i]] = true
    redis.call('EXPIRE', KEYS[i], ARGV[1])
  end
end
return stored
)lua";

const std::string kRepairScript = std::string(kNewestLua) + R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local had, new = order_of(cur), order_of(ARGV[2])
  if had > 0 and new > 0 then
    if had >= new then return 0 end
  else
    local upd = string.match(cur, '^%-?%d+,%d+,%a+,(%d+)')
    if upd and #upd <= 15 and tonumber(upd) >= tonumber(ARGV[3]) then return 0 end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
)lua";

const std::string kStoreOnceScript = std::string(kNewestLua) + R"lua(
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
store_newest(KEYS[2], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('LPUSH', KEYS[3], ARGV[5])
return 1
)lua";

const char* const kQueueHealthScript = R"lua(
local per = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  per[#per + 1] = id
  local beat = redis.call('GET', ARGV[1] .. id .. ARGV[2])
  per[#per + 1] = (beat and string.sub(beat, 1, 1) ~= '!') and 1 or 0
  per[#per + 1] = redis.call('LINDEX', ARGV[3] .. id, -1)
end
return {redis.call('LLEN', KEYS[1]), redis.call('LINDEX', KEYS[1], -1), per}
)lua";

const char* const kMoveScript =
    "local want = tonumber(ARGV[1]) "
    "local n = redis.call('LLEN', KEYS[1]) "
    "if n == 0 then return 0 end "
    "if n <= tonumber(ARGV[2]) and redis.call('LLEN', KEYS[2]) <= 64 then "
    "  while redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT') do end "
    "  redis.call('RENAME', KEYS[1], KEYS[2]) "
    "  return n "
    "end "
    "local items = redis.call('LRANGE', KEYS[1], -want, -1) "
    "n = #items "
    "redis.call('LTRIM', KEYS[1], 0, -n - 1) "
    // LRANGE lists them newest first; the processing list takes them oldest
    // first, in chunks that stay within Lua's unpack() limit.
    "local moved = {} "
    "for i = n, 1, -1 do moved[#moved + 1] = items[i] end "
    "for i = 1, n, 1000 do "
    "  redis.call('LPUSH', KEYS[2], unpack(moved, i, math.min(i + 999, n))) "
    "end return n";

const char* const kReturnScript =
    "local n = 0 "
    "while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do n = n + 1 end "
    "return n";

// A fence ('!' first) yields only to a starting writer (ARGV[4] '1').
const char* const kHeartbeatScript =
    "local v = redis.call('GET', KEYS[1]) "
    "if v and v ~= ARGV[1] and not (ARGV[4] == '1' and string.sub(v, 1, 1) == '!') then "
    "  return v "
    "end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "redis.call('SADD', KEYS[2], ARGV[3]) return 1";

// Drops the batch (ARGV[2] items, oldest ARGV[3], newest ARGV[4]) only if
// the processing list's oldest end holds it: 1 dropped, 2 not there.
const char* const kAcknowledgeScript =
    "local v = redis.call('GET', KEYS[1]) "
    "if v and v ~= ARGV[1] then return v end "
    "local n = tonumber(ARGV[2]) "
    "if redis.call('LINDEX', KEYS[2], -1) ~= ARGV[3] or "
    "   redis.call('LINDEX', KEYS[2], -n) ~= ARGV[4] then return 2 end "
    "redis.call('LTRIM', KEYS[2], 0, -n - 1) return 1";

// The processing lists of the writers whose heartbeat is missing, one at a
// time, each behind what the claimer holds (its oldest first), so the
// lists keep their order; a RENAME when the claimer holds nothing.
const char* const kClaimScript = R"lua(
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[4] then
    local alive, list = ARGV[1] .. id .. ARGV[2], ARGV[3] .. id
    local n = redis.call('LLEN', list)
    if n > 0 and redis.call('EXISTS', alive) == 0 then
      redis.call('SET', alive, ARGV[5], 'PX', ARGV[6])
      if redis.call('LLEN', KEYS[2]) == 0 then
        redis.call('RENAME', list, KEYS[2])
      else
        while redis.call('LMOVE', list, KEYS[2], 'RIGHT', 'LEFT') do end
      end
      return {id, n}
    end
  end
end
return {}
)lua";

const char* const kDeleteIfHeldScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

}  // namespace popup

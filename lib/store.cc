#include "lib/store.h"

#include <charconv>

#include "core/config_json.h"
#include "core/state_codec.h"

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

const std::string kRecordOnceScript = std::string(kNewestLua) + R"lua(
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
  per[#per + 1] = redis.call('EXISTS', ARGV[1] .. id .. ARGV[2])
  per[#per + 1] = redis.call('LINDEX', ARGV[3] .. id, -1)
end
return {redis.call('LLEN', KEYS[1]), redis.call('LINDEX', KEYS[1], -1), per}
)lua";

int64_t QueueHealth::writers_alive() const {
  int64_t n = 0;
  for (const auto& w : writers) n += w.alive;
  return n;
}

RedisCommand queue_health_command(const Keys& keys) {
  std::string alive_suffix = keys.writer_alive("").substr(keys.writer("").size());
  return {"EVAL", kQueueHealthScript, "2", keys.events(), keys.writers(), keys.writer(""),
          alive_suffix, keys.processing("")};
}

bool parse_queue_health(const RedisReply& r, QueueHealth* out) {
  const auto& e = r.elements;
  if (r.type != RedisReply::kArray || e.size() != 3 || e[0].type != RedisReply::kInteger ||
      e[2].type != RedisReply::kArray || e[2].elements.size() % 3 != 0)
    return false;
  *out = QueueHealth{};
  out->depth = e[0].integer;
  if (e[1].type == RedisReply::kString) out->oldest.push_back(e[1].str);
  const auto& per = e[2].elements;
  for (size_t i = 0; i + 2 < per.size(); i += 3) {
    out->writers.push_back(WriterHealth{per[i].str, per[i + 1].integer == 1});
    if (per[i + 2].type == RedisReply::kString) out->oldest.push_back(per[i + 2].str);
  }
  return true;
}

bool decode_user_hash(const RedisReply& r, UserStates* out) {
  out->clear();
  bool loaded = false;
  if (r.type != RedisReply::kArray) return false;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    const std::string& field = r.elements[i].str;
    if (field == kLoadedField) {
      loaded = true;
      continue;
    }
    int64_t id = 0;
    auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), id);
    if (ec != std::errc() || ptr != field.data() + field.size()) continue;
    if (auto st = decode_state(r.elements[i + 1].str)) (*out)[id] = *st;
  }
  return loaded;
}

bool publish_config(Redis& redis, const Keys& keys, const ConfigSet& cfg, std::string* err) {
  std::vector<RedisReply> replies;
  if (!redis.pipeline({{"MULTI"},
                       {"SET", keys.config_set(), encode_config(cfg)},
                       {"SET", keys.config_version(), std::to_string(cfg.version)},
                       {"EXEC"}},
                      &replies, err))
    return false;
  if (replies.back().type != RedisReply::kArray) {
    *err = "redis: publish transaction failed";
    return false;
  }
  return true;
}

}  // namespace popup

#include "fcgi/store.h"

#include <charconv>

#include "core/config_json.h"
#include "core/state_codec.h"

namespace popup {

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

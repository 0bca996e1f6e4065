#include "lib/store.h"

#include <algorithm>
#include <charconv>

#include "core/config_json.h"
#include "core/event.h"
#include "core/state_codec.h"
#include "lib/redis_scripts.h"

namespace popup {

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

StatesAndEvents::StatesAndEvents(const Keys& keys, int64_t state_ttl_s, Mode mode)
    : keys_(keys), mode_(mode), states_{std::to_string(state_ttl_s)},
      lpush_{"LPUSH", keys.events()} {}

void StatesAndEvents::add(const Event& ev) {
  users_.push_back(keys_.user(ev.uid));
  states_.push_back(std::to_string(ev.popup_id));
  states_.push_back(encode_state(ev.state));
  lpush_.push_back(encode_event(ev));
}

size_t StatesAndEvents::append_to(std::vector<RedisCommand>* cmds) {
  if (users_.empty()) return 0;
  size_t before = cmds->size();
  if (mode_ == Mode::replace) {
    const std::string& ttl = states_[0];
    for (size_t i = 0; i < users_.size(); ++i)
      cmds->push_back({"HSET", users_[i], states_[1 + 2 * i], states_[2 + 2 * i]});
    for (size_t i = 0; i < users_.size(); ++i)
      if (std::find(users_.begin(), users_.begin() + i, users_[i]) == users_.begin() + i)
        cmds->push_back({"EXPIRE", users_[i], ttl});
  } else {
    RedisCommand eval{"EVAL", kStoreStatesScript, std::to_string(users_.size())};
    eval.insert(eval.end(), std::make_move_iterator(users_.begin()),
                std::make_move_iterator(users_.end()));
    eval.insert(eval.end(), std::make_move_iterator(states_.begin()),
                std::make_move_iterator(states_.end()));
    cmds->push_back(std::move(eval));
  }
  cmds->push_back(std::move(lpush_));
  users_.clear();
  states_.resize(1);
  lpush_ = {"LPUSH", keys_.events()};
  return cmds->size() - before;
}

RedisCommand store_once_command(const Keys& keys, const Event& ev, int64_t once_ttl_s,
                                int64_t state_ttl_s) {
  return {"EVAL", kStoreOnceScript, "3", keys.once(ev.id), keys.user(ev.uid), keys.events(),
          std::to_string(once_ttl_s), std::to_string(ev.popup_id), encode_state(ev.state),
          std::to_string(state_ttl_s), encode_event(ev)};
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

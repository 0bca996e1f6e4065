#include "fcgi/config_source.h"

#include <chrono>
#include <thread>

#include "lib/log.h"
#include "lib/redis_scripts.h"

namespace popup {

bool count_redis_failure(WorkerSlot* slot, const Redis& r) {
  bool skipped = r.last_skipped();
  bump(slot, skipped ? Counter::redis_skips : Counter::redis_errors);
  return !skipped;
}

KeyRead RedisConfigSource::get(const std::string& key) {
  RedisReply v;
  std::string err;
  if (!redis_.command({"GET", key}, &v, &err)) return {};
  if (v.type != RedisReply::kString) return {KeyRead::missing, ""};
  return {KeyRead::found, std::move(v.str)};
}

KeyRead RedisConfigSource::version() { return get(keys_.config_version()); }

KeyRead RedisConfigSource::set() { return get(keys_.config_set()); }

std::optional<std::string> RedisConfigSource::published() {
  std::vector<RedisReply> replies;
  std::string err;
  if (!redis_.pipeline({{"GET", keys_.config_version()}, {"GET", keys_.config_set()}}, &replies,
                       &err) ||
      replies[0].type != RedisReply::kString || replies[1].type != RedisReply::kString)
    return std::nullopt;
  return std::move(replies[1].str);
}

ConfigSource::Lock RedisConfigSource::lock(const std::string& token, int ms) {
  lock_ms_ = ms;
  RedisReply r;
  std::string err;
  if (!redis_.command({"SET", keys_.config_lock(), token, "NX", "PX", std::to_string(ms)}, &r,
                      &err))
    return Lock::failed;
  return r.type == RedisReply::kStatus ? Lock::taken : Lock::held;
}

void RedisConfigSource::unlock(const std::string& token) {
  RedisReply r;
  std::string err;
  if (!redis_.command({"EVAL", kDeleteIfHeldScript, "1", keys_.config_lock(), token}, &r, &err))
    log_warn("config: cannot release %s (%s); it expires after %d ms",
             keys_.config_lock().c_str(), err.c_str(), lock_ms_);
}

bool RedisConfigSource::load(ConfigSet* out, std::string* err) {
  return mysql_.load_config(out, err);
}

bool RedisConfigSource::publish(const ConfigSet& cfg, std::string* err) {
  return publish_config(redis_, keys_, cfg, err);
}

bool RedisConfigSource::skipped() const { return redis_.last_skipped(); }

void RedisConfigSource::pause(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace popup

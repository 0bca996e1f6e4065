#include "fcgi/config_loader.h"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/config_json.h"
#include "fcgi/log.h"

namespace popup {

bool count_redis_failure(WorkerSlot* slot, const Redis& r) {
  bool skipped = r.last_skipped();
  bump(slot, skipped ? Counter::redis_skips : Counter::redis_errors);
  return !skipped;
}

ConfigLoader::ConfigLoader(const Settings& s, ConfigCache& cache, WorkerSlot* slot,
                           Redis& redis, Mysql& mysql)
    : s_(s), keys_{s.key_prefix}, cache_(cache), slot_(slot), redis_(redis), mysql_(mysql),
      rng_(std::random_device{}() ^ static_cast<uint64_t>(getpid())) {}

void ConfigLoader::warm_up() {
  if (!cache_.get()) refresh();
}

void ConfigLoader::refresh() {
  RedisReply v;
  std::string err;
  if (!redis_.command({"GET", keys_.config_version()}, &v, &err)) {
    count_redis_failure(slot_, redis_);
    return;
  }
  if (auto cfg = after_version(v)) cache_.set(cfg);
}

std::shared_ptr<const ConfigSet> ConfigLoader::after_version(const RedisReply& version) {
  auto cur = cache_.get();
  if (version.type != RedisReply::kString) return reload_from_mysql(cur);
  if (cur && std::to_string(cur->version) == version.str) return cur;
  RedisReply set;
  std::string err;
  if (!redis_.command({"GET", keys_.config_set()}, &set, &err)) {
    count_redis_failure(slot_, redis_);
    return cur;
  }
  if (set.type != RedisReply::kString) return reload_from_mysql(cur);
  auto fresh = adopt_set(set.str);
  return fresh ? fresh : cur;
}

std::shared_ptr<const ConfigSet> ConfigLoader::from_mysql_only() {
  ConfigSet fresh;
  std::string err;
  if (!mysql_.load_config(&fresh, &err)) return nullptr;
  auto cfg = std::make_shared<const ConfigSet>(std::move(fresh));
  cache_.set(cfg);
  return cfg;
}

std::shared_ptr<const ConfigSet> ConfigLoader::adopt_set(const std::string& text) {
  auto decoded = decode_config(text);
  if (!decoded.ok()) {
    log_error("config: set in Redis does not decode: %s", decoded.error().message.c_str());
    return nullptr;
  }
  auto fresh = std::make_shared<const ConfigSet>(std::move(decoded.value()));
  cache_.set(fresh);
  bump(slot_, Counter::config_redis_loads);
  return fresh;
}

// Why look again under the lock: this process read "no version" before
// another process published and released the lock; loading MySQL now would
// be a second load (seen in the suite as 2 loads after one FLUSHALL).
std::shared_ptr<const ConfigSet> ConfigLoader::published_meanwhile() {
  std::vector<RedisReply> replies;
  std::string err;
  if (!redis_.pipeline({{"GET", keys_.config_version()}, {"GET", keys_.config_set()}}, &replies,
                       &err) ||
      replies[0].type != RedisReply::kString || replies[1].type != RedisReply::kString)
    return nullptr;
  return adopt_set(replies[1].str);
}

void ConfigLoader::unlock(const std::string& token) {
  RedisReply r;
  std::string err;
  if (!redis_.command({"EVAL",
                       "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                       "return redis.call('DEL', KEYS[1]) end return 0",
                       "1", keys_.config_lock(), token},
                      &r, &err))
    log_warn("config: cannot release %s (%s); it expires after %d ms",
             keys_.config_lock().c_str(), err.c_str(), s_.config_lock_ms);
}

// Why a lock: when Redis loses the set (flush, restart), every worker notices
// within a second; only the lock holder reads MySQL, the others keep their
// last copy, so MySQL sees one load instead of a stampede.
std::shared_ptr<const ConfigSet> ConfigLoader::reload_from_mysql(
    std::shared_ptr<const ConfigSet> cur) {
  std::string token = std::to_string(getpid()) + ":" + std::to_string(rng_());
  RedisReply r;
  std::string err;
  if (!redis_.command({"SET", keys_.config_lock(), token, "NX", "PX",
                       std::to_string(s_.config_lock_ms)},
                      &r, &err)) {
    count_redis_failure(slot_, redis_);
    return cur;
  }
  if (r.type != RedisReply::kStatus) return cur ? cur : wait_for_config();
  auto meanwhile = published_meanwhile();
  ConfigSet cfg;
  bool ok = meanwhile || mysql_.load_config(&cfg, &err);
  if (ok && !meanwhile) ok = publish_config(redis_, keys_, cfg, &err);
  unlock(token);
  if (meanwhile) return meanwhile;
  if (!ok) {
    log_error("config: reload from MySQL failed: %s", err.c_str());
    bump(slot_, Counter::mysql_errors);
    return cur;
  }
  bump(slot_, Counter::config_mysql_loads);
  log_info("config: version %lld (%zu popups) loaded from MySQL into Redis",
           static_cast<long long>(cfg.version), cfg.popups.size());
  auto fresh = std::make_shared<const ConfigSet>(std::move(cfg));
  cache_.set(fresh);
  return fresh;
}

// A process with no copy at all waits for the lock holder to publish.
std::shared_ptr<const ConfigSet> ConfigLoader::wait_for_config() {
  for (int i = 0; i < 40; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    RedisReply v;
    std::string err;
    if (!redis_.command({"GET", keys_.config_version()}, &v, &err)) return nullptr;
    if (v.type == RedisReply::kString) return after_version(v);
  }
  return nullptr;
}

}  // namespace popup

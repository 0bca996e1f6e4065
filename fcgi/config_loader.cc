#include "fcgi/config_loader.h"

#include <unistd.h>

#include "core/config_json.h"
#include "lib/log.h"

namespace popup {

ConfigLoader::ConfigLoader(const Settings& s, ConfigCache& cache, WorkerSlot* slot,
                           ConfigSource& source)
    : s_(s), cache_(cache), slot_(slot), source_(source),
      rng_(std::random_device{}() ^ static_cast<uint64_t>(getpid())) {}

void ConfigLoader::count_failure() {
  bump(slot_, source_.skipped() ? Counter::redis_skips : Counter::redis_errors);
}

void ConfigLoader::warm_up() {
  if (!cache_.get()) refresh();
}

void ConfigLoader::refresh() {
  KeyRead v = source_.version();
  if (v.kind == KeyRead::failed) {
    count_failure();
    return;
  }
  if (auto cfg = after_version(v)) cache_.set(cfg);
}

std::shared_ptr<const ConfigSet> ConfigLoader::after_version(const RedisReply& version) {
  if (version.type != RedisReply::kString) return after_version(KeyRead{KeyRead::missing, ""});
  return after_version(KeyRead{KeyRead::found, version.str});
}

std::shared_ptr<const ConfigSet> ConfigLoader::after_version(const KeyRead& version) {
  auto cur = cache_.get();
  if (version.kind != KeyRead::found) return reload_from_mysql(cur);
  if (cur && std::to_string(cur->version) == version.text) return cur;
  KeyRead set = source_.set();
  if (set.kind == KeyRead::failed) {
    count_failure();
    return cur;
  }
  if (set.kind == KeyRead::missing) return reload_from_mysql(cur);
  auto fresh = adopt_set(set.text);
  return fresh ? fresh : cur;
}

std::shared_ptr<const ConfigSet> ConfigLoader::from_mysql_only() {
  ConfigSet fresh;
  std::string err;
  if (!source_.load(&fresh, &err)) return nullptr;
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

// Why a lock: when Redis loses the set (flush, restart), every worker notices
// within a second; only the lock holder reads MySQL, the others keep their
// last copy, so MySQL sees one load instead of a stampede.
// Why look again under the lock (published()): this process read "no
// version" before another process published and released the lock; loading
// MySQL now would be a second load (seen in the suite as 2 loads after one
// FLUSHALL).
std::shared_ptr<const ConfigSet> ConfigLoader::reload_from_mysql(
    std::shared_ptr<const ConfigSet> cur) {
  std::string token = std::to_string(getpid()) + ":" + std::to_string(rng_());
  ConfigSource::Lock lock = source_.lock(token, s_.config_lock_ms);
  if (lock == ConfigSource::Lock::failed) {
    count_failure();
    return cur;
  }
  if (lock == ConfigSource::Lock::held) return cur ? cur : wait_for_config();
  auto text = source_.published();
  std::shared_ptr<const ConfigSet> meanwhile = text ? adopt_set(*text) : nullptr;
  ConfigSet cfg;
  std::string err;
  bool ok = meanwhile || source_.load(&cfg, &err);
  if (ok && !meanwhile) ok = source_.publish(cfg, &err);
  source_.unlock(token);
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
    source_.pause(50);
    KeyRead v = source_.version();
    if (v.kind == KeyRead::failed) return nullptr;
    if (v.kind == KeyRead::found) return after_version(v);
  }
  return nullptr;
}

}  // namespace popup

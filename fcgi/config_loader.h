// The configuration set of one process (SPEC "Configuration cache"): the
// published version in Redis, the set itself, and MySQL behind a loader
// lock when Redis lost it, so that one process reloads and the others wait.
// It sees Redis and MySQL through a ConfigSource (fcgi/config_source.h).
#pragma once

#include <memory>
#include <random>
#include <string>

#include "core/popup.h"
#include "core/settings.h"
#include "fcgi/config_source.h"
#include "fcgi/metrics.h"
#include "core/config_cache.h"
#include "lib/redis.h"

namespace popup {

class ConfigLoader {
 public:
  // Uses (does not own) one thread's source.
  ConfigLoader(const Settings& s, ConfigCache& cache, WorkerSlot* slot, ConfigSource& source);

  // One version check: reads the version key and, when it changed, the set
  // (or, when Redis lost it, reloads MySQL under the lock).
  void refresh();
  // refresh() when the process has no set yet.
  void warm_up();
  // What to do with a version read elsewhere (a request that read the
  // version key in its own pipeline): the set to use from now on.
  std::shared_ptr<const ConfigSet> after_version(const RedisReply& version);
  std::shared_ptr<const ConfigSet> after_version(const KeyRead& version);
  // Redis and MySQL: the last resort of a request while Redis is down and
  // the process has no set (nullptr when MySQL fails too).
  std::shared_ptr<const ConfigSet> from_mysql_only();

 private:
  std::shared_ptr<const ConfigSet> reload_from_mysql(std::shared_ptr<const ConfigSet> cur);
  std::shared_ptr<const ConfigSet> wait_for_config();
  // Decodes a published set and makes it this process's; nullptr (logged)
  // when it does not decode.
  std::shared_ptr<const ConfigSet> adopt_set(const std::string& text);
  void count_failure();

  const Settings& s_;
  ConfigCache& cache_;
  WorkerSlot* slot_;
  ConfigSource& source_;
  std::mt19937_64 rng_;
};

}  // namespace popup

// What the configuration loader (fcgi/config_loader.h) sees of Redis and
// MySQL, in the manner of fcgi/ports.h: the real adapter over one thread's
// connections is RedisConfigSource; the unit tests give a fake
// (tests/unit/config_loader_test.cc), so the refresh, the loader lock and
// the fallbacks are tested without a server.
#pragma once

#include <optional>
#include <string>

#include "core/popup.h"
#include "fcgi/metrics.h"
#include "lib/mysql.h"
#include "lib/redis.h"
#include "lib/store.h"

namespace popup {

// Counts a failed Redis call on `r`: skipped by the breaker, or an error.
// Returns true for an error, which is worth a log line (an open breaker
// said so once when it opened).
bool count_redis_failure(WorkerSlot* slot, const Redis& r);

// One Redis key's value as read: Redis failed, the key holds no string
// (missing), or its text.
struct KeyRead {
  enum Kind { failed, missing, found } kind = failed;
  std::string text;
};

// The published configuration in Redis, the loader lock, and MySQL's copy.
class ConfigSource {
 public:
  virtual ~ConfigSource() = default;
  virtual KeyRead version() = 0;  // the version key
  virtual KeyRead set() = 0;      // the set key
  // The set, when the version and the set are both there (one round trip);
  // nullopt when either is missing or Redis failed.
  virtual std::optional<std::string> published() = 0;
  // SET NX PX on the loader lock with this process's token.
  enum class Lock { taken, held, failed };
  virtual Lock lock(const std::string& token, int ms) = 0;
  // Releases the lock if it still holds `token` (a failure is logged: the
  // lock expires on its own).
  virtual void unlock(const std::string& token) = 0;
  // MySQL's whole set; false (err set) when MySQL fails.
  virtual bool load(ConfigSet* out, std::string* err) = 0;
  // Publishes a set in Redis (version and set); false (err set) on failure.
  virtual bool publish(const ConfigSet& cfg, std::string* err) = 0;
  // How the last failed Redis call counts: true when the breaker skipped
  // it (Counter::redis_skips), false for an error (Counter::redis_errors).
  virtual bool skipped() const = 0;
  // Waits `ms` for another process's publication.
  virtual void pause(int ms) = 0;
};

// The real source: one thread's Redis and MySQL connections (not owned).
class RedisConfigSource : public ConfigSource {
 public:
  RedisConfigSource(const Keys& keys, Redis& redis, Mysql& mysql)
      : keys_(keys), redis_(redis), mysql_(mysql) {}
  KeyRead version() override;
  KeyRead set() override;
  std::optional<std::string> published() override;
  Lock lock(const std::string& token, int ms) override;
  void unlock(const std::string& token) override;
  bool load(ConfigSet* out, std::string* err) override;
  bool publish(const ConfigSet& cfg, std::string* err) override;
  bool skipped() const override;
  void pause(int ms) override;

 private:
  KeyRead get(const std::string& key);
  Keys keys_;
  Redis& redis_;
  Mysql& mysql_;
  int lock_ms_ = 0;  // the last lock's expiry, for unlock's log line
};

}  // namespace popup

// The real ports (fcgi/ports.h): Redis, MySQL, the host's shared tables and
// the steady clock, for one accept thread.
#pragma once

#include <string>

#include "core/settings.h"
#include "fcgi/config_loader.h"
#include "fcgi/metrics.h"
#include "fcgi/mysql_reader.h"
#include "lib/mysql.h"
#include "fcgi/ports.h"
#include "fcgi/store_probe.h"
#include "lib/redis.h"
#include "lib/store.h"
#include "fcgi/user_generations.h"

namespace popup {

class RedisUserStore : public UserStore {
 public:
  RedisUserStore(const Settings& s, Redis& redis, ConfigLoader& config, ConfigCache& cache,
                 WorkerSlot* slot, MetricsShm* shm);
  HashRead read(const std::string& uid, bool watch) override;
  void fill(const std::string& uid, const UserStates& durable) override;
  Commit commit(const Event& ev) override;

 private:
  const Settings& s_;
  Keys keys_;
  Redis& redis_;
  ConfigLoader& config_;
  ConfigCache& cache_;
  WorkerSlot* slot_;
  MetricsShm* shm_;
};

class MysqlDurable : public DurableStore {
 public:
  // probe: the process's MySQL probe (fcgi/store_probe.h); nullptr: none,
  // every read asks MySQL.
  MysqlDurable(MysqlReader& reader, ConfigLoader& config, WorkerSlot* slot, MysqlProbe* probe)
      : reader_(reader), config_(config), slot_(slot), probe_(probe) {}
  // nullopt at once while the probe finds MySQL slow or down: while MariaDB
  // hangs, each visit of a user Redis lacks would otherwise wait out a
  // timeout; nullopt too when MySQL does not answer within the reader's
  // deadline (fcgi/mysql_reader.h).
  std::optional<UserStates> user_states(const std::string& uid) override;
  std::shared_ptr<const ConfigSet> config() override { return config_.from_mysql_only(); }

 private:
  MysqlReader& reader_;
  ConfigLoader& config_;
  WorkerSlot* slot_;
  MysqlProbe* probe_;
};

// The host's tables (fcgi/user_generations.h); `slot` is this process's
// worker slot (-1: it owns nobody).
class HostNeighbours : public Neighbours {
 public:
  // wait_ms: how long wait_stored waits at most.
  HostNeighbours(UserGenerations* g, int slot, int wait_ms)
      : g_(g), slot_(slot), wait_ms_(wait_ms) {}
  uint64_t generation(std::string_view uid) override { return g_ ? g_->get(uid) : 0; }
  uint64_t changed(std::string_view uid) override { return g_ ? g_->bump(uid) : 0; }
  void queued(std::string_view uid) override {
    if (g_) g_->pending_add(slot_, uid);
  }
  bool wait_stored(std::string_view uid) override {
    return g_ ? g_->wait_stored(uid, wait_ms_) : true;
  }
  // An owner stores a queued impression within a flush interval, or within
  // its Redis timeout when Redis stalls (then MySQL takes it): twice that,
  // so that only a hung store makes a wait run out.
  static int bound_ms(const Settings& s) { return 2 * (s.flush_ms + s.redis_timeout_ms) + 50; }

 private:
  UserGenerations* g_;
  int slot_;
  int wait_ms_;
};

class SteadyClock : public Clock {
 public:
  int64_t steady_ms() override;
};

}  // namespace popup

// One accept thread's view of the service: its own Redis and MySQL
// connections (so no locking is needed on them), the adapters that make
// them the handlers' ports, and the endpoints. What GET and the action do
// is in fcgi/handlers.h; the operator pages in fcgi/status.h.
#pragma once

#include <optional>
#include <string>

#include "core/popup.h"
#include "core/settings.h"
#include "core/user_cache.h"
#include "fcgi/adapters.h"
#include "fcgi/config_loader.h"
#include "fcgi/config_source.h"
#include "fcgi/endpoints.h"
#include "fcgi/flusher.h"
#include "fcgi/handlers.h"
#include "fcgi/metrics.h"
#include "fcgi/store_probe.h"
#include "lib/mysql.h"
#include "lib/redis.h"
#include "fcgi/response.h"
#include "lib/store.h"
#include "fcgi/user_generations.h"

namespace popup {

// The process-wide pieces a worker's threads share (fcgi/worker.cc owns
// them). Null pointers: none. Without a flusher the Service only refreshes
// the configuration and repairs Redis (the refresher thread).
struct WorkerContext {
  const Settings& s;
  ConfigCache& cache;
  Metrics& metrics;
  WorkerSlot* slot = nullptr;
  Breaker* breaker = nullptr;
  RedisRepairs* repairs = nullptr;
  Flusher* flusher = nullptr;
  UserCache* users = nullptr;  // nullptr: no owner path
  UserGenerations* generations = nullptr;
  int owner_slot = -1;  // the worker slot whose users this process owns, -1: none
  MysqlProbe* mysql_probe = nullptr;  // healthz's MySQL verdict; nullptr: a query per call
};

class Service : public Endpoints {
 public:
  explicit Service(const WorkerContext& c);

  // The endpoints (fcgi/handlers.h); owner: routed here by the uid.
  Response popup(const Visit& v, int64_t now, bool owner) override;
  Response peek(const Visit& v, int64_t now, bool owner) override;
  Response action(const ActionRequest& a, const std::string& request_id, int64_t now,
                  bool owner) override;
  Response healthz() override;
  Response metrics() override;

  ConfigLoader& config() { return config_; }
  // Copies the process's direct MySQL writes into Redis (kRepairScript);
  // what Redis does not take now stays for the next call.
  void repair_redis();

 private:
  // Counts this GET's own Redis round trips whatever path it leaves by (the
  // write-behind's are counted apart: flush_round_trips).
  Response counted_get(const Visit& v, int64_t now, bool owner);

  const Settings& s_;
  WorkerContext c_;
  Keys keys_;
  Redis redis_;
  Mysql mysql_;
  MysqlReader reader_;  // the request path's reads of user states
  RedisConfigSource config_source_;
  ConfigLoader config_;
  RedisUserStore user_store_;
  MysqlDurable durable_;
  HostNeighbours neighbours_;
  SteadyClock clock_;
  std::optional<Handlers> handlers_;
};

}  // namespace popup

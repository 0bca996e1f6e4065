// What each endpoint does. One Service per accept thread: it owns that
// thread's Redis and MySQL connections, so no locking is needed on them;
// the configuration cache, the owned users' memory, the write-behind and
// the metrics are per process (WorkerContext).
//
// GET /api/popup takes one of two paths (README "User affinity"):
// - the owner's: the request came on this process's slot socket, routed by
//   its uid, so this process owns the user. It decides from memory
//   (core/user_cache.h; one Redis read on a miss) and hands the impression
//   to the write-behind (fcgi/flusher.h): no Redis round trip when warm.
// - the shared one (spawn-fcgi, the shared socket, an escaped uid): it
//   decides in Redis with native commands, WATCH + HGETALL, then
//   MULTI/EXEC, so concurrent visits of one user in different processes
//   still show at most one popup; and tells an owner on this host
//   (fcgi/user_generations.h).
// Both fall back the same way: Redis, else MySQL (SPEC).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/event.h"
#include "core/popup.h"
#include "core/settings.h"
#include "core/user_cache.h"
#include "fcgi/config_loader.h"
#include "fcgi/flusher.h"
#include "fcgi/metrics.h"
#include "fcgi/mysql.h"
#include "fcgi/recorder.h"
#include "fcgi/redis.h"
#include "fcgi/response.h"
#include "fcgi/store.h"
#include "fcgi/user_generations.h"

namespace popup {

// The process-wide pieces a worker's threads share (fcgi/worker.cc owns
// them). Null pointers: none (a Service used only to refresh).
struct WorkerContext {
  const Settings& s;
  ConfigCache& cache;
  Metrics& metrics;
  WorkerSlot* slot = nullptr;
  Breaker* breaker = nullptr;
  RedisRepairs* repairs = nullptr;
  Flusher* flusher = nullptr;
  UserCache* users = nullptr;  // nullptr or state_cache_stale_s = 0: no owner path
  UserGenerations* generations = nullptr;
  int owner_slot = -1;  // the worker slot whose users this process owns, -1: none
};

class Service {
 public:
  explicit Service(const WorkerContext& c);

  // GET /api/popup. owner: the request was routed here by its uid.
  Response popup(const Visit& v, int64_t now, bool owner);
  // POST /api/popup/action: new state visible at once (in this process's
  // memory when it owns the user, in Redis for every process), event
  // queued; 202 only when the event is durably queued (Redis) or written
  // (MySQL). request_id: nginx's $request_id ("" when absent), the
  // idempotency key of an action sent without one.
  Response action(const ActionRequest& a, const std::string& request_id, int64_t now, bool owner);
  // HEAD /api/popup: the answer GET would give, recording nothing.
  Response peek(const Visit& v, int64_t now, bool owner);
  Response healthz();
  Response metrics();

  ConfigLoader& config() { return config_; }
  // Copies the process's direct MySQL writes into Redis (kRepairScript);
  // what Redis does not take now stays for the next call.
  void repair_redis();

 private:
  // The user's states read from Redis (MySQL's copy merged in when Redis
  // lacks it). nullopt: neither answered. *from_redis: Redis answered, so
  // the copy may be kept in memory.
  struct Read {
    std::shared_ptr<const ConfigSet> cfg;
    std::optional<UserStates> states;
    bool from_redis = false;
  };
  Read read_user(const std::string& uid, bool cache_in_redis);
  bool load_state_from_mysql(const std::string& uid, UserStates* states, bool cache_in_redis);
  // The HGETALL (with the version when the process has no set), read again
  // once on failure. watch: WATCH the hash first (the shared GET).
  bool read_hash(const std::string& uid, bool watch, RedisReply* hash,
                 std::shared_ptr<const ConfigSet>* cfg);

  Response popup_owned(const Visit& v, int64_t now, const ConfigSet& cfg);
  Response popup_shared(const Visit& v, int64_t now);
  // The shared GET's transaction; nullopt: another visit changed the user
  // meanwhile (try again), or Redis failed (*failed).
  std::optional<Response> try_shared(const Visit& v, int64_t now, bool* failed);
  // Decides from a plain read and records through the write-behind,
  // waiting: the last resort when Redis cannot decide.
  Response popup_fallback(const Visit& v, int64_t now);
  Response record_action(const ActionRequest& a, const Popup& p, const UserStates& states,
                         const std::string& request_id, int64_t now, Recorded* how);

  const Settings& s_;
  WorkerContext c_;
  Keys keys_;
  Redis redis_;
  Mysql mysql_;
  ConfigLoader config_;
  EventStamper stamper_;
};

}  // namespace popup

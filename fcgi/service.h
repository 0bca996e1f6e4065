// What each endpoint does, over Redis and MySQL. One Service per accept
// thread: it owns that thread's Redis and MySQL connections, so no locking is
// needed on them; the configuration cache and metrics are per process.
#pragma once

#include <memory>
#include <optional>
#include <random>
#include <string>

#include "core/event.h"
#include "core/popup.h"
#include "core/settings.h"
#include "fcgi/metrics.h"
#include "fcgi/mysql.h"
#include "fcgi/redis.h"
#include "fcgi/store.h"

namespace popup {

struct Response {
  int status = 200;
  std::string body;
  const char* allow = nullptr;  // Allow header for 405
};

Response error_response(const char* code, const std::string& message);

class Service {
 public:
  // breaker: the process's Redis circuit breaker, shared by its threads
  // (nullptr: none).
  // repairs: the process's direct MySQL writes still to be copied into
  // Redis (nullptr: none kept).
  Service(const Settings& s, ConfigCache& cache, Metrics& metrics, WorkerSlot* slot,
          Breaker* breaker = nullptr, RedisRepairs* repairs = nullptr);

  // GET /api/popup: choose, record the impression (Redis, else MySQL), answer.
  Response popup(const Visit& v, int64_t now);
  // POST /api/popup/action: new state visible at once, event queued; 202 only
  // when the event is durably queued (Redis) or written (MySQL).
  // request_id: nginx's $request_id ("" when absent), the idempotency key
  // of an action sent without one, so nginx's own retries record it once.
  Response action(const ActionRequest& a, const std::string& request_id, int64_t now);
  // HEAD /api/popup: the answer GET would give, recording nothing.
  Response peek(const Visit& v, int64_t now);
  Response healthz();
  Response metrics();

  // Loads the configuration at start so the first requests find it warm.
  void warm_up();

  // One version check: reads the version key and, when it changed, the set
  // (or, when Redis lost it, reloads MySQL under the lock). Called once per
  // config_check_ms by each process's refresher thread.
  void refresh();

  // Copies the process's direct MySQL writes into Redis (kRepairScript);
  // what Redis does not take now stays for the next call. The refresher
  // thread calls it after each refresh().
  void repair_redis();

 private:
  std::shared_ptr<const ConfigSet> refresh_config(const RedisReply* version,
                                                  std::shared_ptr<const ConfigSet> cur);
  std::shared_ptr<const ConfigSet> reload_from_mysql(std::shared_ptr<const ConfigSet> cur);
  std::shared_ptr<const ConfigSet> wait_for_config();
  // Decodes a published set and makes it this process's; nullptr (logged)
  // when it does not decode.
  std::shared_ptr<const ConfigSet> adopt_set(const std::string& text);
  // Under the loader lock: the set another process published since this
  // one saw none (nullptr: none, load MySQL).
  std::shared_ptr<const ConfigSet> published_meanwhile();
  // GET's usual path, one round trip (kShowScript). nullopt when the script
  // could not decide: *miss says whether only MySQL's copy of the user was
  // missing (not_loaded) or the general path must decide (no configuration,
  // a state the script leaves to C++, Redis failed).
  enum class ShowMiss { none, not_loaded, unusable };
  std::optional<Response> show_in_redis(const Visit& v, int64_t now, ShowMiss* miss);
  // Reads the user's state from Redis (plus the version key when due).
  // Returns false when Redis failed; *cfg is the configuration to use.
  bool read_state(const std::string& uid, UserStates* states, bool* complete,
                  std::shared_ptr<const ConfigSet>* cfg);
  bool load_state_from_mysql(const std::string& uid, UserStates* states, bool cache_in_redis);
  // The general path's choice: the configuration and the user's states it
  // used and the popup to show (nullptr: none), or the refusal to answer.
  struct Decision {
    std::shared_ptr<const ConfigSet> cfg;
    UserStates states;
    const Popup* popup = nullptr;
    std::optional<Response> refusal;
  };
  // Reads the user's state (Redis, else MySQL; cache_in_redis: copy MySQL's
  // answer into Redis) and selects, changing nothing else.
  Decision decide(const Visit& v, int64_t now, bool cache_in_redis);
  // Stores the new state and queues the event; once_ttl_s > 0: only once
  // (kRecordOnceScript, for an event id derived from an idempotency key,
  // whose marker lives that long). Falls back to MySQL, and when MySQL fails
  // too while the breaker skipped Redis, asks Redis again.
  bool record(const Event& ev, int64_t once_ttl_s);
  std::vector<RedisCommand> record_commands(const Event& ev, int64_t once_ttl_s) const;
  bool queue_in_redis(const Event& ev, int64_t once_ttl_s, bool past_breaker, std::string* err);
  // Counts a failed Redis call: skipped by the breaker, or an error. Returns
  // true for an error, which is worth a log line (an open breaker said so
  // once when it opened).
  bool redis_failed();
  Event make_event(const std::string& uid, int64_t popup_id, LastAction kind,
                   const UserState& st, int64_t now);

  const Settings& s_;
  Keys keys_;
  ConfigCache& cache_;
  Metrics& metrics_;
  WorkerSlot* slot_;
  Redis redis_;
  RedisRepairs* repairs_;
  Mysql mysql_;
  std::mt19937_64 rng_;
  int64_t last_order_ = 0;
  std::string show_sha_;  // kShowScript as loaded into this connection's Redis
};

}  // namespace popup

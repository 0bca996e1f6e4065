// Where a worker's events go (the EventSink of fcgi/flusher.h): Redis
// first, one MULTI/EXEC per batch that stores each event's state, refreshes
// the user's TTL and queues the events with one LPUSH (lib/store.h's
// StatesAndEvents; a keyed action by store_once_command); when Redis fails,
// MySQL directly (and the state is copied into Redis later, RedisRepairs);
// when MySQL fails too while the breaker skipped Redis, Redis once more
// past the breaker. SPEC "Writes and the queue".
#pragma once

#include <string>
#include <vector>

#include "core/breaker.h"
#include "core/settings.h"
#include "fcgi/flusher.h"
#include "fcgi/metrics.h"
#include "lib/mysql.h"
#include "lib/redis.h"
#include "lib/store.h"

namespace popup {

class EventQueue : public EventSink {
 public:
  // shm: where stored events are counted per popup (nullptr: nowhere).
  EventQueue(const Settings& s, WorkerSlot* slot, MetricsShm* shm, Breaker* breaker,
           RedisRepairs* repairs);
  std::vector<Stored> store(const std::vector<Pending>& batch) override;

 private:
  // The batch's MULTI/EXEC; false (with *err) when the transaction did not run.
  bool to_redis(const std::vector<Pending>& batch, bool past_breaker,
                std::vector<Stored>* out, std::string* err);
  bool to_mysql(const std::vector<Pending>& batch, std::string* err);

  const Settings& s_;
  Keys keys_;
  WorkerSlot* slot_;
  MetricsShm* shm_;
  Redis redis_;
  Mysql mysql_;
  RedisRepairs* repairs_;
};

}  // namespace popup

// Where a worker's events go (the EventSink of fcgi/flusher.h): Redis
// first, one MULTI/EXEC per batch that stores each event's state, refreshes
// the user's TTL and queues the events with one LPUSH (lib/store.h's
// StatesAndEvents; a keyed action by store_once_command); when Redis fails,
// MySQL directly (and the state is copied into Redis later, RedisRepairs);
// when MySQL fails too while the breaker skipped Redis, Redis once more
// past the breaker. SPEC "Writes and the queue".
//
// Through Redis Sentinel (redis_sentinels set), a batch that holds an
// action waits, after its transaction, for one replica to acknowledge it
// (WAIT 1 redis_replica_wait_ms): an action's 202 promises that it survives
// the primary's loss. Without that acknowledgement the batch's actions are
// also written to MySQL directly (the path taken when Redis fails; an event
// id replayed there is stored once), and an action that reaches neither is
// refused. Impressions are not waited for: a failover loses those the old
// primary took but had not yet sent to a replica (docs/deployment.md).
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
  // The batch's MULTI/EXEC; false (with *err) when the transaction did not
  // run. Via Sentinel, a batch with actions sends WAIT 1 right after EXEC
  // on the same connection (*replica: whether a replica acknowledged it);
  // a WAIT sent as a call of its own could go to another connection (a
  // reconnect, a new primary the sentinels name meanwhile), where it says
  // nothing about this batch.
  bool to_redis(const std::vector<Pending>& batch, bool past_breaker,
                std::vector<Stored>* out, std::string* err, bool* replica);
  bool to_mysql(const std::vector<Pending>& batch, std::string* err);
  // Via Sentinel, when no replica acknowledged the batch: makes its actions
  // survive the primary's loss by writing them to MySQL; marks failed those
  // that cannot be.
  void keep_actions(const std::vector<Pending>& batch, std::vector<Stored>* out);

  const Settings& s_;
  Keys keys_;
  WorkerSlot* slot_;
  MetricsShm* shm_;
  Redis redis_;
  Mysql mysql_;
  RedisRepairs* repairs_;
};

}  // namespace popup

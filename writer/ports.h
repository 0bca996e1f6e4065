// What the queue writer (writer/drain.h) sees of Redis, MySQL and time, in
// the manner of fcgi/ports.h: the real adapters are in writer/adapters.h;
// the unit tests give fakes (tests/unit/writer_test.cc), so batching,
// retries, recovery, the lease and dead letters are tested without a
// server.
//
// The queue is two Redis lists (lib/store.h): the queue, which the workers
// LPUSH (its consumer end, the oldest item, is on the right), and this
// writer's processing list, which holds the items taken and not yet
// acknowledged, its oldest also on the right.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/event.h"

namespace popup {

// What the writer publishes for /api/metrics and /api/healthz
// (<p>:writer:<id>, lib/store.h).
struct WriterStats {
  int64_t batches = 0, events = 0, errors = 0, dead = 0;
  int64_t last_batch = 0, last_batch_ms = 0, lag_ms = 0, depth = 0;
  int64_t recovered = 0;  // dead peers' processing lists taken over and applied
  // The store's database node ("" without one) and whether the last batch,
  // or while idle the last check (WriterStore::check), found a node that
  // answers (mysql_node, mysql_reachable).
  std::string db_node;
  bool db_reachable = true;
};

// The names the writer's log lines give: the Redis keys, and the owner
// (its supervisor, "<host>:<pid>") that the heartbeat holds.
struct QueueNames {
  std::string queue, in_hand, alive, dead_letters, owner;
};

class WriterQueue {
 public:
  virtual ~WriterQueue() = default;
  virtual const QueueNames& names() const = 0;

  // The heartbeat lease (writer/writer.h): takes or extends it for this
  // writer's owner; `starting` (before the writer touches anything) also
  // takes it over a peer's fence (claim()). held: the owner holds it now;
  // other: another owner or a fence does (*holder names it); error: Redis
  // failed.
  enum class Lease { held, other, error };
  virtual Lease heartbeat(bool starting, std::string* holder) = 0;
  // Deletes the heartbeat if this owner still holds it; false (*err) when
  // Redis failed (it then expires on its own).
  virtual bool release(std::string* err) = 0;

  // Blocks up to a second for the queue's oldest item and moves it into
  // the processing list. item: one was moved (*item); empty: none came;
  // error: Redis failed (*err).
  enum class Wait { item, empty, error };
  virtual Wait wait_first(std::string* item, std::string* err) = 0;
  // The queue's length; nullopt when Redis failed.
  virtual std::optional<int64_t> depth() = 0;
  // Moves the queue's oldest `want` items, or all of it when it holds at
  // most `whole`, behind those in the processing list (kMoveScript), and
  // reads the processing list's oldest `batch` items, oldest first, into
  // *items. False (*err) when Redis failed: the move may have happened all
  // the same.
  virtual bool take(int want, int whole, int batch, std::vector<std::string>* items,
                    std::string* err) = 0;
  // The processing list's oldest `batch` items, oldest first; false (*err)
  // when Redis failed.
  virtual bool in_hand(int batch, std::vector<std::string>* items, std::string* err) = 0;
  // The processing list's length; nullopt when Redis failed.
  virtual std::optional<int64_t> in_hand_count() = 0;
  // Drops a committed batch (`items`, oldest first, as read) from the
  // processing list's oldest end, only while the lease is this owner's or
  // expired untaken, and only if that end still holds exactly these items
  // (kAcknowledgeScript). By identity, not by count: an acknowledgement
  // whose reply was lost (a timeout, a Redis failover) may have dropped the
  // batch already, and a retry that dropped "the oldest n" again would drop
  // the next batch unapplied. done: dropped; gone: not at that end (dropped
  // before, or never moved there on a promoted replica: then it is applied
  // again later, harmlessly), nothing dropped; lost: another owner or a
  // fence holds the lease (*err names it) and nothing was dropped; error:
  // Redis failed (*err).
  enum class Ack { done, gone, lost, error };
  virtual Ack acknowledge(const std::vector<std::string>& items, std::string* err) = 0;
  // Takes over, atomically, the processing list of one other registered
  // writer whose heartbeat is missing and leaves a fence in its heartbeat
  // (kClaimScript): its items go behind those in this processing list.
  // claimed: *from names the writer id, *n the items taken; none: no dead
  // writer left a list; error: Redis failed (*err).
  enum class Claim { claimed, none, error };
  virtual Claim claim(std::string* from, int64_t* n, std::string* err) = 0;
  // Puts the whole processing list back on the queue's consumer end, in
  // order; the number of items moved, or nullopt (*err) when Redis failed
  // (then they stay in the processing list).
  virtual std::optional<int64_t> give_back(std::string* err) = 0;
  // Keeps an item that does not decode for a human (<p>:events:dead);
  // false (*err) when Redis failed.
  virtual bool dead_letter(const std::string& item, std::string* err) = 0;
  // Publishes the writer's stats (best effort: a failure is left for the
  // next publication).
  virtual void publish(const WriterStats& st) = 0;
};

class WriterStore {
 public:
  virtual ~WriterStore() = default;
  // Applies a batch in one transaction, idempotently (replaying an event
  // changes nothing); false (*err) when it did not commit.
  virtual bool apply(const std::vector<Event>& batch, std::string* err) = 0;
  // A round trip to the database (connecting first when there is no
  // connection), what an idle writer does so that a lost database is seen
  // without a batch to fail; a node that does not answer sends the next
  // attempt to the next node, as a failed apply does. False (*err) when no
  // node answers.
  virtual bool check(std::string* err) = 0;
  // The node of the current connection ("" when the last call failed).
  virtual std::string node() const = 0;
  // False when the last apply or check found no node that answers and
  // takes statements; true before the first.
  virtual bool reachable() const = 0;
};

class WriterClock {
 public:
  virtual ~WriterClock() = default;
  virtual int64_t steady_ms() = 0;
  virtual int64_t wall_us() = 0;
  virtual void sleep_ms(int64_t ms) = 0;
};

}  // namespace popup

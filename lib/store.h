// Redis layout shared by the workers, the writer and popupctl, and the
// per-process configuration cache.
//
//   <p>:config:version   published version (integer text)
//   <p>:config:set       the configuration set as core/config_json
//   <p>:config:lock      loader lock (SET NX PX), held while reading MySQL
//   <p>:u:<uid>          hash: <popup id> -> core/state_codec text, "_" -> 1
//                        once MySQL's copy was loaded ("_" alone = no state)
//   <p>:events           the queue: LPUSH by workers, moved by the writer
//   <p>:once:<event id>  an action with an idempotency key was recorded
//                        (kRecordOnceScript; expires after idempotency_ttl_s)
//   <p>:events:processing:<writer id>   a writer's batch in hand
//   <p>:writers          set of writer ids; <p>:writer:<id> hash of stats
//   <p>:writer:<id>:alive   the writer's heartbeat and lease: its owner
//                        ("<host>:<supervisor pid>"), with an expiry
//                        (writer/writer.h)
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/popup.h"
#include "core/repair.h"
#include "core/config_cache.h"
#include "lib/redis.h"

namespace popup {

struct Keys {
  std::string p;
  std::string config_version() const { return p + ":config:version"; }
  std::string config_set() const { return p + ":config:set"; }
  std::string config_lock() const { return p + ":config:lock"; }
  std::string user(const std::string& uid) const { return p + ":u:" + uid; }
  std::string events() const { return p + ":events"; }
  std::string once(const std::string& event_id) const { return p + ":once:" + event_id; }
  std::string processing(const std::string& id) const { return p + ":events:processing:" + id; }
  std::string writers() const { return p + ":writers"; }
  std::string writer(const std::string& id) const { return p + ":writer:" + id; }
  std::string writer_alive(const std::string& id) const { return writer(id) + ":alive"; }
};

// The hash field that marks "MySQL's copy of this user was loaded".
inline const char* kLoadedField = "_";

// Every script that writes a user's state keeps the newer one: a state
// replaces the stored one only when its order (UserState::order, the fifth
// field of core/state_codec's text) is larger, so a late write of an older
// decision (an owner's impression flushed after another process stored an
// action decided later) changes nothing but the impression count, which
// only grows: the state kept carries the larger count of the two. States
// of unknown order (0) are written as they come.
//
// The write-behind's states: stores each state unless its field holds a
// newer one, and sets each hash's TTL.
//   KEYS: the user's hash of each state
//   ARGV: hash TTL s, then per state: popup id, core/state_codec text
// Reply: how many states were stored.
extern const std::string kStoreStatesScript;

// Copies one state written straight to MySQL into Redis (core/repair.h):
// only into a user hash that exists (a missing one is loaded from MySQL on
// the next read anyway), and only over an older state, or none, or one that
// does not decode. Older: a smaller order; between states of which one has
// no order, an older updated_at (a state of the same second stays: it may
// be newer, and a repair must never take a user back).
//   KEYS: the user's hash   ARGV: popup id, core/state_codec text, updated_at
// Reply: 1 copied, 0 left alone.
extern const std::string kRepairScript;

// Records an action that carries an idempotency key, once: when the marker
// key is new (SET NX EX), stores the user's state (unless a newer one is
// stored), refreshes the hash's TTL
// and queues the event, all atomically; when the marker exists, changes
// nothing. A retry that nginx or the client sends after the first try was
// recorded (its answer lost) therefore changes neither state nor queue.
//   KEYS: the marker, the user's hash, the queue
//   ARGV: marker TTL s, popup id, core/state_codec text, hash TTL s, event
// Reply: 1 recorded, 0 recorded before.
extern const std::string kRecordOnceScript;

// What /api/healthz and /api/metrics need to know about the queue, in one
// round trip: the queue's depth, the events that wait longest (the item at
// the queue's consumer end and at the same end of each writer's processing
// list) and which writers have a live heartbeat. The writer keys are built
// in the script from the ids in <p>:writers (one Redis instance, no
// cluster: the keys need not be declared), from prefixes passed as ARGV so
// that Keys stays the one place that spells them.
//   KEYS: the queue, the writers set
//   ARGV: Keys::writer("") , ":alive" suffix, Keys::processing("")
// Reply {depth, oldest queued item or nil, {id, alive 0/1, oldest item in
// its processing list or nil, ...}}.
extern const char* const kQueueHealthScript;

struct WriterHealth {
  std::string id;
  bool alive = false;
};

struct QueueHealth {
  int64_t depth = 0;
  std::vector<std::string> oldest;  // the candidates for the oldest event
  std::vector<WriterHealth> writers;
  int64_t writers_alive() const;
};

// The EVAL of kQueueHealthScript for these keys.
RedisCommand queue_health_command(const Keys& keys);

// Reads kQueueHealthScript's reply; false when it is not that shape (an
// error reply, say).
bool parse_queue_health(const RedisReply& r, QueueHealth* out);

// The direct writes of one process that still have to reach Redis; shared
// by its threads, bounded (beyond kMax the oldest are dropped: those users
// then keep Redis's older copy until their TTL).
class RedisRepairs {
 public:
  static constexpr size_t kMax = 100000;
  // Returns false when the oldest write had to be dropped to make room.
  bool add(StateWrite w) {
    std::lock_guard<std::mutex> l(mu_);
    items_.push_back(std::move(w));
    if (items_.size() <= kMax) return true;
    items_.pop_front();
    return false;
  }
  std::vector<StateWrite> take() {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<StateWrite> out(std::make_move_iterator(items_.begin()),
                                std::make_move_iterator(items_.end()));
    items_.clear();
    return out;
  }
  // Puts back what could not be copied, ahead of newer writes.
  void give_back(std::vector<StateWrite> ws) {
    std::lock_guard<std::mutex> l(mu_);
    items_.insert(items_.begin(), std::make_move_iterator(ws.begin()),
                  std::make_move_iterator(ws.end()));
    while (items_.size() > kMax) items_.pop_front();
  }

 private:
  std::mutex mu_;
  std::deque<StateWrite> items_;
};

// Decodes an HGETALL reply into states. Returns true when the hash carries
// kLoadedField (the copy is complete); fields that do not decode are skipped.
bool decode_user_hash(const RedisReply& r, UserStates* out);

// Writes a configuration set and then its version in one MULTI/EXEC, so a
// reader that sees the new version finds the new set.
bool publish_config(Redis& redis, const Keys& keys, const ConfigSet& cfg, std::string* err);

}  // namespace popup

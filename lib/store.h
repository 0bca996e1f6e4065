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
//                        (kStoreOnceScript; expires after idempotency_ttl_s)
//   <p>:events:processing:<writer id>   a writer's batch in hand
//   <p>:writers          set of writer ids; <p>:writer:<id> hash of stats
//   <p>:writer:<id>:alive   the writer's heartbeat and lease: its owner
//                        ("<host>:<supervisor pid>"), with an expiry, or,
//                        once a peer took over its batch in hand, that
//                        peer's fence ("!taken over by ...", kClaimScript)
//                        (writer/writer.h)
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/event.h"
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

// The EVAL of kQueueHealthScript (lib/redis_scripts.h) for these keys.
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

// The state write, for a MULTI ... EXEC: each added event's state stored
// in its user's hash, each hash's TTL set to state_ttl_s, and the events
// queued in the order added (one LPUSH). keep_newer (the write-behind's
// batch, fcgi/event_queue.h): one kStoreStatesScript, which stores a state
// only when no newer one is there. replace (the shared path's decision,
// fcgi/adapters.h): HSET and EXPIRE, for a transaction under a WATCH of the
// hash, which already proves that the state replaced is the one the
// decision read (a state that does not decode included).
class StatesAndEvents {
 public:
  enum class Mode { keep_newer, replace };
  StatesAndEvents(const Keys& keys, int64_t state_ttl_s, Mode mode = Mode::keep_newer);
  void add(const Event& ev);
  bool empty() const { return users_.empty(); }
  // Appends the state writes and the LPUSH to *cmds (nothing when no event
  // was added) and starts over empty; returns how many commands it
  // appended.
  size_t append_to(std::vector<RedisCommand>* cmds);

 private:
  Keys keys_;
  Mode mode_;
  std::vector<std::string> users_;
  RedisCommand states_;  // the script's ARGV: TTL, then field and state per event
  RedisCommand lpush_;
};

// The state write of an action with an idempotency key (kStoreOnceScript):
// stored and queued only when its marker <p>:once:<event id> is new; the
// marker lives once_ttl_s. Its reply: 1 stored, 0 stored before.
RedisCommand store_once_command(const Keys& keys, const Event& ev, int64_t once_ttl_s,
                                int64_t state_ttl_s);

// Decodes an HGETALL reply into states. Returns true when the hash carries
// kLoadedField (the copy is complete); fields that do not decode are skipped.
bool decode_user_hash(const RedisReply& r, UserStates* out);

// Writes a configuration set and then its version in one MULTI/EXEC, so a
// reader that sees the new version finds the new set.
bool publish_config(Redis& redis, const Keys& keys, const ConfigSet& cfg, std::string* err);

}  // namespace popup

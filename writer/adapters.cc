#include "writer/adapters.h"

#include <chrono>
#include <thread>

#include "lib/redis_scripts.h"
#include "lib/clock.h"

namespace popup {
namespace {

// LRANGE of a list whose right end is the oldest: the items, oldest first.
std::vector<std::string> oldest_first(RedisReply& range) {
  std::vector<std::string> items;
  items.reserve(range.elements.size());
  for (auto it = range.elements.rbegin(); it != range.elements.rend(); ++it)
    items.push_back(std::move(it->str));
  return items;
}

// LRANGE's start for the oldest `batch` items.
std::string batch_start(int batch) { return std::to_string(-batch); }

// How long the fence that a claim leaves in a dead writer's heartbeat
// lasts (writer/writer.h): a writer of that id stalled for longer than this
// in one call takes its lease back and finds its processing list empty.
constexpr int64_t kFenceMs = 3600 * 1000;

}  // namespace

RedisWriterQueue::RedisWriterQueue(const Settings& s, RedisTarget a, const std::string& owner)
    : s_(s),
      keys_{s.key_prefix},
      names_{keys_.events(), keys_.processing(s.writer_id), keys_.writer_alive(s.writer_id),
             keys_.events() + ":dead", owner},
      redis_(std::move(a), s.redis_timeout_ms) {}

WriterQueue::Lease RedisWriterQueue::heartbeat(bool starting, std::string* holder) {
  RedisReply r;
  std::string err;
  if (!redis_.command({"EVAL", kHeartbeatScript, "2", names_.alive, keys_.writers(), names_.owner,
                       std::to_string(s_.writer_heartbeat_ttl_ms), s_.writer_id,
                       starting ? "1" : "0"},
                      &r, &err))
    return Lease::error;
  if (r.type == RedisReply::kInteger) return Lease::held;
  *holder = r.str;
  return Lease::other;
}

bool RedisWriterQueue::release(std::string* err) {
  RedisReply r;
  return redis_.command({"EVAL", kDeleteIfHeldScript, "1", names_.alive, names_.owner}, &r, err);
}

WriterQueue::Wait RedisWriterQueue::wait_first(std::string* item, std::string* err) {
  RedisReply r;
  // BLMOVE blocks for up to a second: the read may take that long.
  redis_.set_read_timeout_ms(3000);
  bool ok = redis_.command({"BLMOVE", names_.queue, names_.in_hand, "RIGHT", "LEFT", "1"}, &r, err);
  redis_.set_read_timeout_ms(s_.redis_timeout_ms);
  if (!ok) return Wait::error;
  if (r.type != RedisReply::kString) return Wait::empty;
  *item = std::move(r.str);
  return Wait::item;
}

std::optional<int64_t> RedisWriterQueue::depth() {
  RedisReply r;
  std::string err;
  if (!redis_.command({"LLEN", names_.queue}, &r, &err)) return std::nullopt;
  return r.integer;
}

bool RedisWriterQueue::take(int want, int whole, int batch, std::vector<std::string>* items,
                            std::string* err) {
  std::vector<RedisReply> rs;
  if (!redis_.pipeline({{"EVAL", kMoveScript, "2", names_.queue, names_.in_hand,
                         std::to_string(want), std::to_string(whole)},
                        {"LRANGE", names_.in_hand, batch_start(batch), "-1"}},
                       &rs, err))
    return false;
  if (rs.size() != 2 || rs[1].type != RedisReply::kArray) {
    if (rs.size() == 2 && rs[1].is_error()) *err = rs[1].str;
    return false;
  }
  // The list holds the one in hand at its right end, the moved ones before
  // it: the reply is its oldest batch.
  *items = oldest_first(rs[1]);
  return true;
}

bool RedisWriterQueue::in_hand(int batch, std::vector<std::string>* items, std::string* err) {
  RedisReply r;
  if (!redis_.command({"LRANGE", names_.in_hand, batch_start(batch), "-1"}, &r, err))
    return false;
  *items = oldest_first(r);
  return true;
}

std::optional<int64_t> RedisWriterQueue::in_hand_count() {
  RedisReply r;
  std::string err;
  if (!redis_.command({"LLEN", names_.in_hand}, &r, &err)) return std::nullopt;
  return r.integer;
}

WriterQueue::Ack RedisWriterQueue::acknowledge(const std::vector<std::string>& items,
                                               std::string* err) {
  if (items.empty()) return Ack::done;
  // The batch is at the right end: keep all but it (the last batch empties
  // the list, and Redis deletes it). Its oldest and newest item stand for
  // it: every item carries its event's unique id and stamp, and only this
  // writer ever removes from that end.
  RedisReply r;
  if (!redis_.command({"EVAL", kAcknowledgeScript, "2", names_.alive, names_.in_hand,
                       names_.owner, std::to_string(items.size()), items.front(), items.back()},
                      &r, err))
    return Ack::error;
  if (r.type == RedisReply::kInteger) return r.integer == 1 ? Ack::done : Ack::gone;
  *err = r.str;
  return Ack::lost;
}

WriterQueue::Claim RedisWriterQueue::claim(std::string* from, int64_t* n, std::string* err) {
  RedisReply r;
  std::string fence = "!taken over by " + s_.writer_id + " (" + names_.owner + ")";
  if (!redis_.command({"EVAL", kClaimScript, "2", keys_.writers(), names_.in_hand,
                       keys_.writer(""), keys_.writer_alive("").substr(keys_.writer("").size()),
                       keys_.processing(""), s_.writer_id, fence,
                       std::to_string(kFenceMs)},
                      &r, err))
    return Claim::error;
  if (r.type != RedisReply::kArray || r.elements.empty()) return Claim::none;
  if (r.elements.size() != 2) {
    *err = "unexpected reply to the claim script";
    return Claim::error;
  }
  *from = r.elements[0].str;
  *n = r.elements[1].integer;
  return Claim::claimed;
}

std::optional<int64_t> RedisWriterQueue::give_back(std::string* err) {
  RedisReply r;
  if (!redis_.command({"EVAL", kReturnScript, "2", names_.in_hand, names_.queue}, &r, err))
    return std::nullopt;
  return r.integer;
}

bool RedisWriterQueue::dead_letter(const std::string& item, std::string* err) {
  RedisReply r;
  return redis_.command({"LPUSH", names_.dead_letters, item}, &r, err);
}

void RedisWriterQueue::publish(const WriterStats& st) {
  std::vector<RedisReply> rs;
  std::string err;
  RedisCommand hset{"HSET", keys_.writer(s_.writer_id), "batches_total", std::to_string(st.batches),
                    "events_total", std::to_string(st.events), "errors_total",
                    std::to_string(st.errors), "dead_events_total", std::to_string(st.dead),
                    "last_batch_size", std::to_string(st.last_batch), "last_batch_seconds",
                    std::to_string(st.last_batch_ms / 1000.0), "lag_seconds",
                    std::to_string(st.lag_ms / 1000.0), "recovered_batches_total",
                    std::to_string(st.recovered), "mysql_node", st.db_node,
                    "mysql_reachable", st.db_reachable ? "1" : "0"};
  redis_.pipeline({{"SADD", keys_.writers(), s_.writer_id}, std::move(hset)}, &rs, &err);
}

int64_t SystemClock::steady_ms() { return popup::steady_ms(); }

int64_t SystemClock::wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SystemClock::sleep_ms(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace popup

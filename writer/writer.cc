#include "writer/writer.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "core/event.h"
#include "lib/log.h"
#include "lib/mysql.h"
#include "lib/redis.h"
#include "lib/store.h"

namespace popup {
namespace {

// Moves the oldest ARGV[1] items, or the whole queue when it holds at most
// ARGV[2], in one round trip and atomically, and replies with how many it
// moved. The processing list ends up as n LMOVEs RIGHT LEFT would leave it
// (oldest moved at its right end); the writer reads its oldest batch with a
// native LRANGE in the same pipeline and the rest a batch at a time. Taking the
// whole queue is a RENAME (the few items already in hand go back to the
// queue's consumer end first): O(1) however long it is. Copying is O(n) in
// Lua: every item passed through it costs Redis microseconds (interned,
// copied twice); the copy was 1.7 µs of Redis' time per warm GET in
// bench/bench.py's per-command table when a busy queue held more than one
// batch. ARGV[2] bounds what one writer takes, so that several writers
// (different writer_ids) still share a long backlog.
const char* kMoveScript =
    "local want = tonumber(ARGV[1]) "
    "local n = redis.call('LLEN', KEYS[1]) "
    "if n == 0 then return 0 end "
    "if n <= tonumber(ARGV[2]) and redis.call('LLEN', KEYS[2]) <= 64 then "
    "  while redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT') do end "
    "  redis.call('RENAME', KEYS[1], KEYS[2]) "
    "  return n "
    "end "
    "local items = redis.call('LRANGE', KEYS[1], -want, -1) "
    "n = #items "
    "redis.call('LTRIM', KEYS[1], 0, -n - 1) "
    // LRANGE lists them newest first; the processing list takes them oldest
    // first, in chunks that stay within Lua's unpack() limit.
    "local moved = {} "
    "for i = n, 1, -1 do moved[#moved + 1] = items[i] end "
    "for i = 1, n, 1000 do "
    "  redis.call('LPUSH', KEYS[2], unpack(moved, i, math.min(i + 999, n))) "
    "end return n";

// Puts a processing list back on the consumer end of the queue, oldest last
// taken first, so order is kept.
const char* kReturnScript =
    "local n = 0 "
    "while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do n = n + 1 end "
    "return n";

// The heartbeat lease (writer.h): takes or extends the alive key for the
// owner and registers the writer id, atomically.
//   KEYS: <p>:writer:<id>:alive, <p>:writers   ARGV: owner, expiry ms, id
// Reply: 1 when the owner holds it now; else the other owner's name.
const char* kHeartbeatScript =
    "local v = redis.call('GET', KEYS[1]) "
    "if v and v ~= ARGV[1] then return v end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "redis.call('SADD', KEYS[2], ARGV[3]) return 1";

// Deletes the alive key only while it is still this owner's.
const char* kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

// At most this many batches are taken over at once (kMoveScript's ARGV[2]):
// a writer a second or two behind (MariaDB busy) still moves its backlog by
// RENAME (with 4, bench/results/20261126-202833 still spent 1.3 µs of Redis
// per warm GET copying), and a long backlog (after an outage) is still
// shared by several writers. Only the batch being applied is replayed after
// a crash: committed batches leave the processing list at once.
constexpr int kTakeBatches = 16;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Stats {
  int64_t batches = 0, events = 0, errors = 0, dead = 0;
  int64_t last_batch = 0, last_batch_ms = 0, lag_ms = 0, depth = 0;
  int64_t logged_at_ms = 0, logged_events = 0, logged_batches = 0;
};

struct Writer {
  const Settings& s;
  volatile sig_atomic_t* stop;
  std::string owner;
  Keys keys{s.key_prefix};
  Redis redis;
  Mysql mysql{s};
  Stats st;
  std::string processing = keys.processing(s.writer_id);
  std::string alive = keys.writer_alive(s.writer_id);
  bool leased = false;       // the heartbeat was taken (acquire)
  bool lost_lease = false;   // ... and then found in another owner's hands
  int64_t beat_at_ms = 0;    // last heartbeat attempt

  Writer(const Settings& settings, volatile sig_atomic_t* stop_flag, std::string owner_name,
         Address a)
      : s(settings),
        stop(stop_flag),
        owner(std::move(owner_name)),
        redis(std::move(a), settings.redis_timeout_ms) {}

  bool stopping() const { return *stop || lost_lease; }

  // Sleeps *backoff_ms (doubling it, up to 5 s) and keeps the heartbeat
  // fresh meanwhile: a writer waiting out MySQL is alive.
  void sleep_backoff(int* backoff_ms) {
    for (int waited = 0; waited < *backoff_ms && !stopping(); waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (now_ms() - beat_at_ms >= 1000) keep_alive();
    }
    *backoff_ms = std::min(*backoff_ms * 2, 5000);
  }

  enum class Lease { held, other, error };

  // One heartbeat (kHeartbeatScript). *holder: the other owner's name.
  Lease heartbeat(std::string* holder) {
    RedisReply r;
    std::string err;
    beat_at_ms = now_ms();
    if (!redis.command({"EVAL", kHeartbeatScript, "2", alive, keys.writers(), owner,
                        std::to_string(s.writer_heartbeat_ttl_ms), s.writer_id},
                       &r, &err))
      return Lease::error;  // Redis is down: gather() and commit() log that
    if (r.type == RedisReply::kInteger) return Lease::held;
    *holder = r.str;
    return Lease::other;
  }

  // Refreshes the heartbeat while working; stops the writer when another
  // owner holds it (writer.h).
  void keep_alive() {
    if (!leased || lost_lease) return;
    std::string holder;
    if (heartbeat(&holder) != Lease::other) return;
    log_error("writer %s: %s now belongs to %s, not %s; stopping without touching the queue",
              s.writer_id.c_str(), alive.c_str(), holder.c_str(), owner.c_str());
    lost_lease = true;
  }

  // Waits until the heartbeat is this owner's: a writer of another
  // supervisor may still be finishing its batch. False when stopped first.
  bool acquire() {
    std::string holder, logged;
    while (!*stop) {
      Lease l = heartbeat(&holder);
      if (l == Lease::held) return leased = true;
      if (l == Lease::other && holder != logged) {
        log_warn("writer %s: %s is held by %s; waiting until it stops or expires",
                 s.writer_id.c_str(), alive.c_str(), holder.c_str());
        logged = holder;
      }
      for (int i = 0; i < (l == Lease::error ? 10 : 2) && !*stop; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  void release() {
    RedisReply r;
    std::string err;
    if (!redis.command({"EVAL", kReleaseScript, "1", alive, owner}, &r, &err))
      log_error("writer %s: cannot delete %s (%s); it expires in %d ms", s.writer_id.c_str(),
                alive.c_str(), err.c_str(), s.writer_heartbeat_ttl_ms);
  }

  // LRANGE of a list whose right end is the oldest: the items, oldest first.
  static std::vector<std::string> oldest_first(RedisReply& range) {
    std::vector<std::string> items;
    items.reserve(range.elements.size());
    for (auto it = range.elements.rbegin(); it != range.elements.rend(); ++it)
      items.push_back(std::move(it->str));
    return items;
  }

  // LRANGE's start for the oldest batch_size items.
  std::string batch_start() const { return std::to_string(-std::max(1, s.batch_size)); }

  // The oldest batch_size items of the processing list (its right end),
  // oldest first, read until Redis answers; false when stopped first.
  bool read_in_hand(std::vector<std::string>* items) {
    int backoff = 200;
    RedisReply r;
    std::string err;
    while (!redis.command({"LRANGE", processing, batch_start(), "-1"}, &r, &err)) {
      if (stopping()) return false;
      sleep_backoff(&backoff);
    }
    *items = oldest_first(r);
    return true;
  }

  // Decodes items; undecodable ones go to <p>:events:dead (kept for a human).
  std::vector<Event> decode(const std::vector<std::string>& items) {
    std::vector<Event> out;
    out.reserve(items.size());
    for (const auto& item : items) {
      auto e = decode_event(item);
      if (e.ok()) {
        out.push_back(std::move(e.value()));
        continue;
      }
      RedisReply r;
      std::string err;
      ++st.dead;
      // Either way the item leaves the batch; without the dead-letter copy
      // only this log line keeps it.
      if (redis.command({"LPUSH", keys.events() + ":dead", item}, &r, &err))
        log_error("writer: undecodable event moved to %s:dead: %s", keys.events().c_str(),
                  e.error().message.c_str());
      else
        log_error("writer: undecodable event dropped (%s; %s): %s", e.error().message.c_str(),
                  err.c_str(), item.substr(0, 2000).c_str());
    }
    return out;
  }

  // Applies the processing list a batch at a time, oldest first, starting
  // with `batch` (its oldest items, read_in_hand()), until the list is
  // empty. Each batch is read when the one before has left the list, so
  // neither Redis nor the writer handles more than batch_size events at once
  // however much the move took over. False when stopped first: the rest stays in the
  // processing list (the caller gives it back to the queue).
  bool apply_in_hand(std::vector<std::string> batch) {
    while (!batch.empty()) {
      if (!commit(decode(batch), batch.size()) || stopping()) return false;
      if (!read_in_hand(&batch)) return false;
    }
    return true;
  }

  // Applies one batch until it commits, then drops its `taken` items from
  // the processing list's right end (the last batch empties the list, and
  // Redis deletes it); false when stopped before it committed.
  bool commit(const std::vector<Event>& batch, size_t taken) {
    int backoff = 100;
    int64_t t0 = now_ms();
    std::string err;
    while (!mysql.apply_events(batch, &err)) {
      ++st.errors;
      log_error("writer: batch of %zu not applied (%s); retrying in %d ms", batch.size(),
                err.c_str(), backoff);
      publish_stats();
      if (stopping()) return false;
      sleep_backoff(&backoff);
      if (stopping()) return false;
    }
    RedisReply r;
    int trim_backoff = 100;
    std::string keep = std::to_string(-static_cast<int64_t>(taken) - 1);
    while (!redis.command({"LTRIM", processing, "0", keep}, &r, &err)) {
      // Committed but not yet forgotten: a replay later is harmless.
      log_error("writer: cannot drop a committed batch from %s (%s)", processing.c_str(),
                err.c_str());
      if (stopping()) return true;
      sleep_backoff(&trim_backoff);
    }
    ++st.batches;
    st.events += static_cast<int64_t>(batch.size());
    st.last_batch = static_cast<int64_t>(batch.size());
    st.last_batch_ms = now_ms() - t0;
    if (!batch.empty()) st.lag_ms = (wall_us() - batch.front().order) / 1000;
    return true;
  }

  void give_back() {
    RedisReply r;
    std::string err;
    if (redis.command({"EVAL", kReturnScript, "2", processing, keys.events()}, &r, &err))
      log_info("writer: returned %lld events to the queue", static_cast<long long>(r.integer));
    else
      log_error("writer: could not return the batch (%s); it stays in %s for the next start",
                err.c_str(), processing.c_str());
  }

  // Fills the processing list: blocks up to 1 s for the first event, then
  // waits until batch_size events are queued or batch_ms has passed and
  // moves them. Returns the processing list's oldest batch (oldest first)
  // or an empty vector on timeout or error.
  std::vector<std::string> gather() {
    std::vector<std::string> items;
    RedisReply r;
    std::string err;
    redis.set_read_timeout_ms(3000);
    bool ok = redis.command({"BLMOVE", keys.events(), processing, "RIGHT", "LEFT", "1"}, &r, &err);
    redis.set_read_timeout_ms(s.redis_timeout_ms);
    if (!ok) {
      ++st.errors;
      log_error("writer: %s", err.c_str());
      int backoff = 500;
      sleep_backoff(&backoff);
      return items;
    }
    if (r.type != RedisReply::kString) {
      st.lag_ms = 0;  // nothing waited for a whole second: no lag
      return items;
    }
    items.push_back(r.str);
    // The batch fills in the queue while the writer looks at its length (a
    // native command, a few looks per batch_ms); then one script moves it,
    // by RENAME when all of it fits in kTakeBatches batches (the processing
    // list holds one item), and apply_in_hand() applies it a batch at a time.
    int want = s.batch_size - 1;
    int64_t deadline = now_ms() + s.batch_ms;
    for (int64_t left = s.batch_ms; want > 0 && left > 0 && !stopping();
         left = deadline - now_ms()) {
      if (!redis.command({"LLEN", keys.events()}, &r, &err) || r.integer >= want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(left, 10)));
    }
    if (want <= 0) return items;
    std::vector<RedisReply> rs;
    if (!redis.pipeline({{"EVAL", kMoveScript, "2", keys.events(), processing, std::to_string(want),
                          std::to_string(kTakeBatches * s.batch_size - 1)},
                         {"LRANGE", processing, batch_start(), "-1"}},
                        &rs, &err) ||
        rs.size() != 2 || rs[1].type != RedisReply::kArray) {
      // The script may have run all the same: the batch is what the list
      // holds, never just the one in hand (committing that and deleting the
      // list would lose the rest). Stopped first: the next start's recover().
      log_error("writer: moving a batch: %s", err.c_str());
      if (!read_in_hand(&items)) return {};
      return items;
    }
    // The list holds the one in hand at its right end, the moved ones before
    // it: the reply is its oldest batch.
    return oldest_first(rs[1]);
  }

  void publish_stats() {
    keep_alive();
    if (lost_lease) return;
    RedisReply r;
    std::string err;
    if (redis.command({"LLEN", keys.events()}, &r, &err)) st.depth = r.integer;
    std::vector<RedisReply> rs;
    redis.pipeline({{"SADD", keys.writers(), s.writer_id},
                    {"HSET", keys.writer(s.writer_id), "batches_total", std::to_string(st.batches),
                     "events_total", std::to_string(st.events), "errors_total",
                     std::to_string(st.errors), "dead_events_total", std::to_string(st.dead),
                     "last_batch_size", std::to_string(st.last_batch), "last_batch_seconds",
                     std::to_string(st.last_batch_ms / 1000.0), "lag_seconds",
                     std::to_string(st.lag_ms / 1000.0)}},
                   &rs, &err);
    int64_t t = now_ms();
    if (t - st.logged_at_ms >= 10000) {
      if (st.events != st.logged_events || st.logged_at_ms == 0)
        log_info("writer: %lld events in %lld batches since last report; queue depth %lld, "
                 "last batch %lld, lag %lld ms, errors %lld",
                 static_cast<long long>(st.events - st.logged_events),
                 static_cast<long long>(st.batches - st.logged_batches),
                 static_cast<long long>(st.depth), static_cast<long long>(st.last_batch),
                 static_cast<long long>(st.lag_ms), static_cast<long long>(st.errors));
      st.logged_at_ms = t;
      st.logged_events = st.events;
      st.logged_batches = st.batches;
    }
  }

  // On start: whatever a previous run left in the processing list.
  void recover() {
    std::vector<std::string> items;
    if (!read_in_hand(&items) || items.empty() || stopping()) return;
    RedisReply r;
    std::string err;
    long long n = redis.command({"LLEN", processing}, &r, &err) ? r.integer : -1;
    log_info("writer: re-applying %lld events left in %s by a previous run", n,
             processing.c_str());
    if (!apply_in_hand(std::move(items))) give_back();
  }

  int run() {
    log_info("writer %s: draining %s (batch %d events / %d ms)", s.writer_id.c_str(),
             keys.events().c_str(), s.batch_size, s.batch_ms);
    if (!acquire()) return 0;
    recover();
    int64_t stats_at = 0;
    while (!stopping()) {
      auto items = gather();
      bool idle = items.empty();
      if (!idle && !apply_in_hand(std::move(items))) {
        if (!lost_lease) give_back();  // else its batch is the new owner's
        break;
      }
      if (now_ms() - stats_at >= 500 || idle) {
        publish_stats();
        stats_at = now_ms();
      }
    }
    if (lost_lease) return 3;
    publish_stats();
    release();
    log_info("writer %s: stopped after %lld events", s.writer_id.c_str(),
             static_cast<long long>(st.events));
    return 0;
  }
};

}  // namespace

int run_writer(const Settings& s, volatile sig_atomic_t* stop, const std::string& owner) {
  auto a = parse_address(s.redis);
  if (!a) {
    log_error("writer: invalid redis address %s", s.redis.c_str());
    return 1;
  }
  Writer w(s, stop, owner, *a);
  return w.run();
}

}  // namespace popup

// Fakes of the queue writer's ports (writer/ports.h) for the unit tests of
// its drain (writer/drain.h): tests/unit/writer_test.cc (one writer) and
// tests/unit/writer_peers_test.cc (several writers over one Redis). A
// FakeRedis holds the lists and heartbeats as Redis would; each FakeQueue
// is one writer's view of it, and behaves like the real scripts
// (lib/redis_scripts.h) atomically; a store remembers each commit, and a
// clock moves only when the writer sleeps, so the batch window and the
// backoffs cost no real time.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/settings.h"
#include "writer/drain.h"

namespace popup_test {

using namespace popup;


class FakeClock : public WriterClock {
 public:
  int64_t now = 0;
  std::function<void()> on_sleep;  // after each sleep
  int64_t steady_ms() override { return now; }
  int64_t wall_us() override { return 1'700'000'000'000'000 + now * 1000; }
  void sleep_ms(int64_t ms) override {
    now += ms;
    if (on_sleep) on_sleep();
  }
};

// The Redis of one test, shared by its writers: lists by key (the front is
// the left end, where LPUSH puts the newest; the back the right end, the
// oldest, taken first), each writer id's heartbeat ("" when missing: never
// taken, expired or deleted; a fence starts with '!') and the writers set.
struct FakeRedis {
  std::map<std::string, std::deque<std::string>> lists;
  std::map<std::string, std::string> alive;
  std::set<std::string> writers;
};

inline std::string processing_key(const std::string& id) { return "p:events:processing:" + id; }

// One writer's connection to a FakeRedis, for writer `id` of `owner`.
class FakeQueue : public WriterQueue {
 public:
  FakeQueue(FakeClock& clock, volatile sig_atomic_t* stop, FakeRedis& redis,
            const std::string& id = "w1", const std::string& owner = "host:1")
      : queue(redis.lists["p:events"]),
        processing(redis.lists[processing_key(id)]),
        dead(redis.lists["p:events:dead"]),
        holder(redis.alive[id]),
        redis_(redis),
        id_(id),
        clock_(clock),
        stop_(stop),
        names_{"p:events", processing_key(id), "p:writer:" + id + ":alive", "p:events:dead",
               owner} {}

  std::deque<std::string>&queue, &processing, &dead;
  std::string& holder;       // the heartbeat's owner; "" when none holds it
  bool down = false;         // every call fails, as when Redis is unreachable
  int fail_takes = 0;        // the next take()s fail after moving
  int fail_acks = 0;         // the next acknowledge()s fail
  int lose_ack_replies = 0;  // the next acknowledge()s drop, then fail
  std::function<void()> on_depth;  // before each depth(): events arriving
  std::function<void()> on_claim;  // before each claim(): another writer's turn
  std::function<void()> on_take;   // after each take() moved: another writer's turn
  // When the queue is empty: the writer waited its second; by default the
  // test is over.
  std::function<void()> on_idle = [this] { *stop_ = 1; };
  int gave_back = 0;
  int acked = 0;     // acknowledge()s that dropped items
  int lost_acks = 0;  // acknowledge()s refused: the lease was another's
  WriterStats last_published;

  void push(const std::string& item) { queue.push_front(item); }  // a worker's LPUSH

  const QueueNames& names() const override { return names_; }
  Lease heartbeat(bool starting, std::string* h) override {  // kHeartbeatScript
    if (down) return Lease::error;
    if (!holder.empty() && holder != names_.owner && !(starting && holder[0] == '!')) {
      *h = holder;
      return Lease::other;
    }
    holder = names_.owner;
    redis_.writers.insert(id_);
    return Lease::held;
  }
  bool release(std::string* err) override {
    if (fails(err)) return false;
    if (holder == names_.owner) holder.clear();
    return true;
  }
  Wait wait_first(std::string* item, std::string* err) override {
    if (fails(err)) return Wait::error;
    if (queue.empty()) {
      clock_.now += 1000;
      if (on_idle) on_idle();
      return Wait::empty;
    }
    *item = queue.back();
    move_oldest();
    return Wait::item;
  }
  std::optional<int64_t> depth() override {
    if (!down && on_depth) on_depth();
    return down ? std::nullopt : std::optional<int64_t>(queue.size());
  }
  bool take(int want, int whole, int batch, std::vector<std::string>* items,
            std::string* err) override {
    if (fails(err)) return false;
    size_t n = queue.size() <= static_cast<size_t>(whole) ? queue.size()
                                                          : static_cast<size_t>(want);
    for (size_t i = 0; i < n && !queue.empty(); ++i) move_oldest();
    if (fail_takes > 0) {
      --fail_takes;
      *err = "reply lost";
      return false;
    }
    if (!in_hand(batch, items, err)) return false;
    if (on_take) on_take();
    return true;
  }
  bool in_hand(int batch, std::vector<std::string>* items, std::string* err) override {
    if (fails(err)) return false;
    items->clear();
    for (auto it = processing.rbegin(); it != processing.rend() && items->size() < size_t(batch);
         ++it)
      items->push_back(*it);
    return true;
  }
  std::optional<int64_t> in_hand_count() override {
    return down ? std::nullopt : std::optional<int64_t>(processing.size());
  }
  Ack acknowledge(const std::vector<std::string>& items,
                  std::string* err) override {  // kAcknowledgeScript
    if (fails(err)) return Ack::error;
    if (fail_acks > 0) {
      --fail_acks;
      *err = "timeout";
      return Ack::error;
    }
    if (!holder.empty() && holder != names_.owner) {
      *err = holder;
      ++lost_acks;
      return Ack::lost;
    }
    size_t n = items.size();
    if (n == 0 || processing.size() < n || processing.back() != items.front() ||
        processing[processing.size() - n] != items.back())
      return Ack::gone;  // not there: nothing dropped
    for (size_t i = 0; i < n; ++i) processing.pop_back();
    ++acked;
    if (lose_ack_replies > 0) {
      --lose_ack_replies;
      *err = "timeout after the trim";
      return Ack::error;
    }
    return Ack::done;
  }
  Claim claim(std::string* from, int64_t* n, std::string* err) override {  // kClaimScript
    if (on_claim) on_claim();
    if (fails(err)) return Claim::error;
    for (const std::string& id : redis_.writers) {
      auto& list = redis_.lists[processing_key(id)];
      std::string& beat = redis_.alive[id];
      if (id == id_ || list.empty() || !beat.empty()) continue;
      beat = "!taken over by " + id_ + " (" + names_.owner + ")";
      *from = id;
      *n = static_cast<int64_t>(list.size());
      while (!list.empty()) {  // LMOVE list processing RIGHT LEFT
        processing.push_front(list.back());
        list.pop_back();
      }
      return Claim::claimed;
    }
    return Claim::none;
  }
  std::optional<int64_t> give_back(std::string* err) override {
    if (fails(err)) return std::nullopt;
    int64_t n = 0;
    for (; !processing.empty(); ++n) {  // LMOVE processing queue LEFT RIGHT
      queue.push_back(processing.front());
      processing.pop_front();
    }
    ++gave_back;
    return n;
  }
  bool dead_letter(const std::string& item, std::string* err) override {
    if (fails(err)) return false;
    dead.push_front(item);
    return true;
  }
  void publish(const WriterStats& st) override {
    if (!down) last_published = st;
  }

 private:
  bool fails(std::string* err) {
    if (down) *err = "connection refused";
    return down;
  }
  void move_oldest() {  // BLMOVE queue processing RIGHT LEFT
    processing.push_front(queue.back());
    queue.pop_back();
  }
  FakeRedis& redis_;
  std::string id_;
  FakeClock& clock_;
  volatile sig_atomic_t* stop_;
  QueueNames names_;
};

// Commits like MySQL: all of a batch or nothing. Remembers each commit.
class FakeStore : public WriterStore {
 public:
  int fail_next = 0;  // the next applies fail (MySQL down)
  bool down = false;  // every apply and check fails: no node answers
  int checks = 0;     // check()s made
  std::function<void()> on_fail;
  std::function<void(const std::vector<Event>&)> before;  // each attempt
  std::vector<std::vector<std::string>> batches;  // committed, ids in order
  std::vector<int64_t> committed_at;              // the clock at each commit
  int attempts = 0;
  FakeClock* clock = nullptr;

  bool apply(const std::vector<Event>& batch, std::string* err) override {
    ++attempts;
    if (before) before(batch);
    if (!answers(err)) return false;
    if (fail_next > 0) {
      --fail_next;
      *err = "Lost connection to MySQL server";
      if (on_fail) on_fail();
      return false;
    }
    std::vector<std::string> ids;
    for (const auto& e : batch) ids.push_back(e.id);
    batches.push_back(ids);
    committed_at.push_back(clock ? clock->now : 0);
    return true;
  }
  bool check(std::string* err) override {
    ++checks;
    return answers(err);
  }
  std::string node() const override { return reachable_ ? "db1:3306" : ""; }
  bool reachable() const override { return reachable_; }
  // Every id committed, in commit order.
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
    return out;
  }
  std::vector<size_t> sizes() const {
    std::vector<size_t> out;
    for (const auto& b : batches) out.push_back(b.size());
    return out;
  }

 private:
  // Whether a node answers (not `down`), as the real store finds out on
  // each call.
  bool answers(std::string* err) {
    reachable_ = !down;
    if (down) *err = "connect: Can't connect to server (111)";
    return !down;
  }
  bool reachable_ = true;
};

inline std::string event_id(int n) { return format_event_id(0, static_cast<uint64_t>(n)); }

inline std::string event_text(int n) {
  Event e;
  e.id = event_id(n);
  e.uid = "u" + std::to_string(n);
  e.popup_id = 7;
  e.ts = 1'700'000'000;
  e.order = 1'700'000'000'000'000 + n;
  e.state = UserState{1'700'003'600, 1, LastAction::show, e.ts, e.order};
  return encode_event(e);
}

inline std::vector<std::string> ids(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(event_id(i));
  return out;
}

// One writer over the fakes, with the queue holding events 1..queued; over
// a Redis of its own, or over `shared` as writer `id` of `owner`.
struct World {
  Settings s;
  volatile sig_atomic_t stop = 0;
  FakeClock clock;
  FakeRedis own;
  FakeQueue queue;
  FakeStore store;

  World(int batch_size, int batch_ms, int queued, FakeRedis* shared = nullptr,
        const std::string& id = "w1", const std::string& owner = "host:1")
      : queue(clock, &stop, shared ? *shared : own, id, owner) {
    s.batch_size = batch_size;
    s.batch_ms = batch_ms;
    s.writer_id = id;
    store.clock = &clock;
    for (int i = 1; i <= queued; ++i) queue.push(event_text(i));
  }
  int run() { return Drain(s, &stop, queue, store, clock).run(); }
  bool drained() const { return queue.queue.empty() && queue.processing.empty(); }
};

}  // namespace popup_test

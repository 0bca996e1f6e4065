// The fake ports the request handlers' unit tests share
// (tests/unit/handlers_test.cc, tests/unit/handlers_shared_test.cc): a
// Redis, a MySQL, the host's neighbours, a clock and the write-behind's
// sink, and a World that wires them to one Handlers.
#pragma once

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/answer.h"
#include "fcgi/handlers.h"
#include "fcgi/stamper.h"

namespace popup::handlers_test {

constexpr int64_t kNow = 1'800'000'000;

inline std::shared_ptr<const ConfigSet> config() {
  ConfigSet c;
  c.version = 7;
  Popup p;
  p.id = 1;
  p.show_cooldown_s = 600;
  p.ignore_cooldown_s = 3600;
  p.click_cooldown_s = std::nullopt;  // never again
  p.title = "hello";
  c.popups.push_back(p);
  return std::make_shared<const ConfigSet>(c);
}

class FakeRedis : public UserStore {
 public:
  std::mutex mu;  // the sink writes from the flusher's thread
  bool up = true;
  int reads = 0, fills = 0, conflicts_left = 0;
  std::map<std::string, std::pair<bool, UserStates>> hashes;  // complete, states
  std::vector<Event> committed;
  ConfigCache* cache = nullptr;

  HashRead read(const std::string& uid, bool) override {
    std::lock_guard<std::mutex> l(mu);
    ++reads;
    HashRead h;
    h.cfg = cache->get();
    if (!up) return h;
    h.ok = true;
    auto it = hashes.find(uid);
    if (it != hashes.end()) {
      h.complete = it->second.first;
      h.states = it->second.second;
    }
    return h;
  }
  void fill(const std::string& uid, const UserStates& durable) override {
    std::lock_guard<std::mutex> l(mu);
    ++fills;
    auto& [complete, states] = hashes[uid];
    complete = true;
    for (auto& [id, st] : durable) states.emplace(id, st);
  }
  Commit commit(const Event& ev) override {
    std::lock_guard<std::mutex> l(mu);
    if (!up) return Commit::failed;
    if (conflicts_left > 0) {
      --conflicts_left;
      return Commit::conflict;
    }
    hashes[ev.uid].second[ev.popup_id] = ev.state;
    committed.push_back(ev);
    return Commit::stored;
  }
};

class FakeMysql : public DurableStore {
 public:
  bool up = true;
  int reads = 0;
  std::map<std::string, UserStates> users;
  std::shared_ptr<const ConfigSet> cfg;
  std::optional<UserStates> user_states(const std::string& uid) override {
    ++reads;
    if (!up) return std::nullopt;
    return users[uid];
  }
  std::shared_ptr<const ConfigSet> config() override { return up ? cfg : nullptr; }
};

class FakeNeighbours : public Neighbours {
 public:
  Flusher* flusher = nullptr;  // wait_stored waits for it, as the host's table does
  std::map<std::string, uint64_t> gens;
  int changed_count = 0, queued_count = 0, waits = 0;
  uint64_t generation(std::string_view uid) override { return gens[std::string(uid)]; }
  uint64_t changed(std::string_view uid) override {
    ++changed_count;
    return ++gens[std::string(uid)];
  }
  void queued(std::string_view) override { ++queued_count; }
  bool stuck = false;  // an owner's impressions never get stored
  bool wait_stored(std::string_view) override {
    ++waits;
    if (stuck) return false;
    while (flusher && flusher->waiting() > 0) std::this_thread::yield();
    return true;
  }
};

class FakeClock : public Clock {
 public:
  int64_t ms = 1000;
  int64_t steady_ms() override { return ms; }
};

// The write-behind's sink: keeps what it got and stores the states in the
// fake Redis, as the real EventQueue does; fails while `down`.
class FakeSink : public EventSink {
 public:
  std::mutex mu;
  bool down = false;
  FakeRedis* redis = nullptr;
  std::vector<Pending> got;
  std::vector<Stored> store(const std::vector<Pending>& batch) override {
    std::lock_guard<std::mutex> l(mu);
    if (down) return std::vector<Stored>(batch.size(), Stored::failed);
    std::vector<Stored> out;
    for (const auto& p : batch) {
      bool seen = false;
      for (const auto& g : got) seen = seen || (p.once_ttl_s > 0 && g.event.id == p.event.id);
      out.push_back(seen ? Stored::before : Stored::yes);
      if (seen) continue;
      got.push_back(p);
      if (!redis) continue;
      std::lock_guard<std::mutex> r(redis->mu);
      // The newer state stays, as lib/store.h's kStoreStatesScript keeps it.
      UserState& st = redis->hashes[p.event.uid].second[p.event.popup_id];
      if (st.order == 0 || st.order < p.event.state.order) st = p.event.state;
    }
    return out;
  }
  std::vector<Pending> events() {
    std::lock_guard<std::mutex> l(mu);
    return got;
  }
};

inline FlusherOptions fast() {
  FlusherOptions o;
  o.interval = std::chrono::milliseconds(1);
  o.retry = std::chrono::milliseconds(1);
  return o;
}

struct World {
  Settings s;
  ConfigCache cache;
  FakeRedis redis;
  FakeMysql mysql;
  FakeNeighbours neighbours;
  FakeClock clock;
  FakeSink sink;
  Flusher flusher{sink, fast()};
  UserCache users{1 << 20, 30'000, 4};
  Handlers h{s, cache, flusher, &users, nullptr, Ports{redis, mysql, neighbours, clock}};
  World() {
    cache.set(config());
    redis.cache = &cache;
    sink.redis = &redis;
    neighbours.flusher = &flusher;
    mysql.cfg = config();
  }
  // Until the write-behind stored everything queued.
  void drain() {
    while (flusher.waiting() > 0) std::this_thread::yield();
  }
  // Whether the GET showed the popup.
  bool get(const std::string& uid, int64_t now, bool owner = true) {
    Response r = h.popup(Visit{uid, Platform::web, std::nullopt, std::nullopt}, now, owner);
    BOOST_REQUIRE_EQUAL(r.status, 200);
    return r.body != popup_answer(nullptr);
  }
  int act(const std::string& uid, Action a, int64_t now, bool owner = true,
          const std::string& key = "") {
    return h.action(ActionRequest{uid, 1, a, key}, "", now, owner).status;
  }
};

}  // namespace popup::handlers_test

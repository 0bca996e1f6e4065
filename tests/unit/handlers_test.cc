// The request handlers (fcgi/handlers.h) over fake ports: the owner's
// memory, the fallback ladder (Redis, MySQL, neither), the shared GET's
// retries and the actions' ordering, without a server.
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

using namespace popup;

namespace {

constexpr int64_t kNow = 1'800'000'000;

std::shared_ptr<const ConfigSet> config() {
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

FlusherOptions fast() {
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

}  // namespace

BOOST_AUTO_TEST_SUITE(handlers)

BOOST_AUTO_TEST_CASE(the_owner_reads_redis_once_then_decides_from_memory) {
  World w;
  w.redis.hashes["alice"] = {true, {}};
  BOOST_TEST(w.get("alice", kNow));
  BOOST_TEST(!w.get("alice", kNow + 1));  // the show cooldown, from memory
  BOOST_TEST(!w.get("alice", kNow + 599));
  BOOST_TEST(w.get("alice", kNow + 600));
  BOOST_TEST(w.redis.reads == 1);
  BOOST_TEST(w.mysql.reads == 0);
  BOOST_TEST(w.neighbours.queued_count == 2);
  w.flusher.stop();
  auto ev = w.sink.events();
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(ev[1].event.state.impressions == 2);
  BOOST_TEST(ev[1].event.state.next_show_at == kNow + 1200);
}

BOOST_AUTO_TEST_CASE(a_user_redis_lacks_is_read_from_mysql_and_cached_in_redis) {
  World w;
  w.mysql.users["bob"] = {{1, UserState{kNow + 50, 1, LastAction::show, kNow - 550}}};
  BOOST_TEST(!w.get("bob", kNow));
  BOOST_TEST(w.mysql.reads == 1);
  BOOST_TEST(w.redis.fills == 1);
  BOOST_TEST(w.redis.hashes["bob"].first);
  BOOST_TEST(w.get("bob", kNow + 50));  // from memory now
  BOOST_TEST(w.mysql.reads == 1);
}

BOOST_AUTO_TEST_CASE(with_redis_down_the_owner_answers_from_mysql_but_keeps_nothing) {
  World w;
  w.redis.up = false;
  w.mysql.users["carol"] = {{1, UserState{kNow + 50, 1, LastAction::show, kNow - 550}}};
  BOOST_TEST(!w.get("carol", kNow));
  BOOST_TEST(!w.get("carol", kNow));
  BOOST_TEST(w.mysql.reads == 2);  // MySQL's copy lags the queue: not kept
  BOOST_TEST(w.users.entries() == 0u);
}

BOOST_AUTO_TEST_CASE(with_redis_and_mysql_down_nothing_is_shown_blind) {
  World w;
  w.redis.up = false;
  w.mysql.up = false;
  Response r = w.h.popup(Visit{"dave", Platform::web, std::nullopt, std::nullopt}, kNow, true);
  BOOST_TEST(r.status == 503);
  r = w.h.popup(Visit{"dave", Platform::web, std::nullopt, std::nullopt}, kNow, false);
  BOOST_TEST(r.status == 503);
}

BOOST_AUTO_TEST_CASE(an_incomplete_redis_copy_with_mysql_down_is_unknown_not_empty) {
  // MySQL may hold a "never again" click Redis has not loaded: no popup and
  // no impression, on every path, until MySQL answers.
  World w;
  w.mysql.up = false;
  w.redis.hashes["erin"] = {false, {{1, UserState{kNow + 10, 1, LastAction::show, kNow}}}};
  w.redis.hashes["fred"] = {false, {}};
  for (bool owner : {true, false}) {
    BOOST_TEST(!w.get("erin", kNow + 10, owner));
    BOOST_TEST(!w.get("fred", kNow, owner));
  }
  w.drain();
  BOOST_TEST(w.sink.events().empty());
  BOOST_TEST(w.redis.committed.empty());
  BOOST_TEST(w.users.entries() == 0u);
  w.mysql.up = true;
  w.mysql.users["fred"] = {{1, UserState{kNever, 0, LastAction::click, kNow - 5, 1}}};
  BOOST_TEST(!w.get("fred", kNow));
  BOOST_TEST(w.get("erin", kNow + 10));
}

BOOST_AUTO_TEST_CASE(impressions_of_another_owner_not_yet_stored_make_the_state_unknown) {
  World w;
  w.redis.hashes["gus"] = {true, {}};
  w.neighbours.stuck = true;
  BOOST_TEST(!w.get("gus", kNow, false));  // the shared GET
  BOOST_TEST(!w.get("gus", kNow, true));   // the owner's first read
  w.drain();
  BOOST_TEST(w.sink.events().empty());
  BOOST_TEST(w.redis.committed.empty());
  // An action is recorded all the same: its cooldown needs no earlier state,
  // and it is newer than any impression still on its way.
  BOOST_TEST(w.act("gus", Action::click, kNow, false) == 202);
  BOOST_TEST(w.act("gus", Action::click, kNow, true) == 202);
  w.neighbours.stuck = false;
  BOOST_TEST(!w.get("gus", kNow + 10'000));
}

BOOST_AUTO_TEST_CASE(every_decision_is_ordered_after_the_state_it_was_made_from) {
  // A state stored by a host whose clock runs ahead: what is decided from it
  // is still newer, so keeping the newer state keeps this one.
  World w;
  const int64_t ahead = wall_us() + 3'600'000'000LL;
  w.redis.hashes["hal"] = {true, {{1, UserState{kNow - 1, 1, LastAction::show, kNow - 700, ahead}}}};
  BOOST_TEST(w.get("hal", kNow));
  BOOST_TEST(w.act("hal", Action::ignore, kNow + 1) == 202);
  w.drain();
  auto got = w.sink.events();
  BOOST_REQUIRE(got.size() == 2u);
  BOOST_TEST(got[0].event.order > ahead);
  BOOST_TEST(got[0].event.state.order == got[0].event.order);
  BOOST_TEST(got[1].event.order > got[0].event.order);
  BOOST_TEST(w.redis.hashes["hal"].second[1].order == got[1].event.order);
}

BOOST_AUTO_TEST_CASE(another_process_writing_the_user_makes_the_owner_read_again) {
  World w;
  w.redis.hashes["fay"] = {true, {}};
  BOOST_TEST(w.get("fay", kNow));
  // A click elsewhere, written once the owner's impression was stored (the
  // writer waits for that): Redis has it, the owner's counter moved.
  w.neighbours.wait_stored("fay");
  {
    std::lock_guard<std::mutex> l(w.redis.mu);
    w.redis.hashes["fay"].second[1] = UserState{kNever, 1, LastAction::click, kNow};
  }
  w.neighbours.changed("fay");
  BOOST_TEST(!w.get("fay", kNow + 10'000));
  BOOST_TEST(w.redis.reads == 2);
  BOOST_TEST(w.neighbours.waits == 3);  // each miss waits for queued impressions
}

BOOST_AUTO_TEST_CASE(an_entry_older_than_the_staleness_bound_is_read_again) {
  World w;
  w.s.state_cache_stale_s = 30;
  w.redis.hashes["gus"] = {true, {}};
  BOOST_TEST(w.get("gus", kNow));
  w.clock.ms += 29'999;
  BOOST_TEST(!w.get("gus", kNow + 1));
  BOOST_TEST(w.redis.reads == 1);
  w.clock.ms += 1;
  BOOST_TEST(!w.get("gus", kNow + 2));
  BOOST_TEST(w.redis.reads == 2);
}

BOOST_AUTO_TEST_CASE(a_request_not_routed_by_uid_decides_in_redis_and_tells_the_owner) {
  World w;
  w.redis.hashes["hal"] = {true, {}};
  w.redis.conflicts_left = 2;  // two concurrent visits wrote first
  BOOST_TEST(w.get("hal", kNow, false));
  BOOST_TEST(w.redis.reads == 3);
  BOOST_TEST(w.redis.committed.size() == 1u);
  BOOST_TEST(w.neighbours.changed_count == 1);
  BOOST_TEST(w.users.entries() == 0u);  // no memory on this path
  BOOST_TEST(!w.get("hal", kNow + 1, false));
}

BOOST_AUTO_TEST_CASE(endless_conflicts_fall_back_to_a_waited_write) {
  World w;
  w.redis.hashes["ian"] = {true, {}};
  w.redis.conflicts_left = 1000;
  BOOST_TEST(w.get("ian", kNow, false));
  BOOST_TEST(w.redis.committed.empty());
  BOOST_TEST(w.sink.events().size() == 1u);  // stored before the answer
}

BOOST_AUTO_TEST_CASE(the_shared_path_with_redis_down_records_through_mysql_or_refuses) {
  World w;
  w.redis.up = false;
  BOOST_TEST(w.get("jo", kNow, false));
  BOOST_TEST(w.sink.events().size() == 1u);
  w.sink.down = true;
  Response r = w.h.popup(Visit{"kim", Platform::web, std::nullopt, std::nullopt}, kNow, false);
  BOOST_TEST(r.status == 503);
}

BOOST_AUTO_TEST_CASE(the_owners_action_is_stored_before_its_answer_and_obeyed) {
  World w;
  w.redis.hashes["lee"] = {true, {}};
  BOOST_TEST(w.get("lee", kNow));
  BOOST_TEST(w.act("lee", Action::ignore, kNow + 5) == 202);
  auto ev = w.sink.events();  // no wait: the 202 came after the sink had it
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST((ev[0].event.kind == LastAction::show));  // in the order decided
  BOOST_TEST((ev[1].event.kind == LastAction::ignore));
  BOOST_TEST(ev[1].event.state.impressions == 1);
  BOOST_TEST(!w.get("lee", kNow + 600));  // the ignore cooldown, not the show one
  BOOST_TEST(w.get("lee", kNow + 3605));
  BOOST_TEST(w.redis.reads == 1);
}

BOOST_AUTO_TEST_CASE(a_refused_action_leaves_the_owners_memory_alone) {
  World w;
  w.redis.hashes["max"] = {true, {}};
  BOOST_TEST(w.get("max", kNow));
  w.flusher.store(Pending{});  // the impression is stored
  w.sink.down = true;
  BOOST_TEST(w.act("max", Action::click, kNow + 5) == 503);
  w.sink.down = false;
  BOOST_TEST(w.get("max", kNow + 600));  // no click: shown again
}

BOOST_AUTO_TEST_CASE(a_keyed_action_seen_before_drops_the_owners_entry) {
  World w;
  w.redis.hashes["ned"] = {true, {}};
  BOOST_TEST(w.act("ned", Action::click, kNow, true, "k1") == 202);
  BOOST_TEST(w.act("ned", Action::click, kNow, true, "k1") == 202);
  BOOST_TEST(w.users.entries() == 0u);  // read again next time
  BOOST_TEST(w.sink.events().size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_action_not_routed_by_uid_tells_the_owner_without_waiting_for_it) {
  World w;
  w.redis.hashes["oz"] = {true, {}};
  w.neighbours.stuck = true;  // the owner's impressions are never stored
  BOOST_TEST(w.act("oz", Action::ignore, kNow, false) == 202);
  BOOST_TEST(w.neighbours.waits == 0);
  BOOST_TEST(w.neighbours.changed_count == 1);
  Response r = w.h.action(ActionRequest{"oz", 99, Action::click, ""}, "", kNow, false);
  BOOST_TEST(r.status == 404);
  r = w.h.action(ActionRequest{"oz", 99, Action::click, ""}, "", kNow, true);
  BOOST_TEST(r.status == 404);
}

BOOST_AUTO_TEST_CASE(nginx_request_ids_and_client_keys_make_distinct_event_ids) {
  World w;
  w.redis.hashes["pat"] = {true, {}};
  BOOST_TEST(w.h.action(ActionRequest{"pat", 1, Action::click, ""}, "rid1", kNow, true).status == 202);
  BOOST_TEST(w.h.action(ActionRequest{"pat", 1, Action::click, "rid1"}, "", kNow, true).status == 202);
  auto ev = w.sink.events();
  BOOST_REQUIRE(ev.size() == 2u);
  BOOST_TEST(ev[0].event.id == action_event_id("pat", "nginx", "rid1"));
  BOOST_TEST(ev[0].once_ttl_s == 300);
  BOOST_TEST(ev[1].event.id == action_event_id("pat", "client", "rid1"));
  BOOST_TEST(ev[1].once_ttl_s == w.s.idempotency_ttl_s);
}

BOOST_AUTO_TEST_CASE(without_a_configuration_a_get_refuses) {
  World w;
  w.cache.set(nullptr);
  w.redis.up = false;
  w.mysql.up = false;
  Response r = w.h.popup(Visit{"quin", Platform::web, std::nullopt, std::nullopt}, kNow, true);
  BOOST_TEST(r.status == 503);
  BOOST_TEST(r.body.find("configuration") != std::string::npos);
}

// nginx retried a request of the user on another worker's socket, which
// then kept a copy; the owner's next impression makes that copy stale.
BOOST_AUTO_TEST_CASE(a_second_processes_copy_goes_stale_when_the_owner_writes) {
  World w;
  w.redis.hashes["rae"] = {true, {}};
  UserCache other_users(1 << 20, 30'000, 4);
  Handlers other(w.s, w.cache, w.flusher, &other_users, nullptr,
                 Ports{w.redis, w.mysql, w.neighbours, w.clock});
  Visit v{"rae", Platform::web, std::nullopt, std::nullopt};
  BOOST_TEST(other.popup(v, kNow, true).body != popup_answer(nullptr));  // the retried GET
  BOOST_TEST(!w.get("rae", kNow + 599));  // the owner reads the stored impression
  BOOST_TEST(w.get("rae", kNow + 600));   // and shows it again after the cooldown
  int reads = w.redis.reads;
  // The other worker's copy (next show at kNow + 600) is stale now: read
  // again, it says kNow + 1200.
  BOOST_TEST(other.popup(v, kNow + 601, true).body == popup_answer(nullptr));
  BOOST_TEST(w.redis.reads == reads + 1);
}

BOOST_AUTO_TEST_SUITE_END()

// The configuration loader (fcgi/config_loader.h) over a fake source: the
// version check, the loader lock and MySQL behind it, the waits and the
// failures, with the counters each bumps, without a server.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/config_json.h"
#include "fcgi/config_loader.h"

using namespace popup;

namespace {

ConfigSet config(int64_t version, int popups = 1) {
  ConfigSet c;
  c.version = version;
  for (int i = 1; i <= popups; ++i) {
    Popup p;
    p.id = i;
    p.title = "popup " + std::to_string(i);
    c.popups.push_back(p);
  }
  return c;
}

// What every process of the fake sees: Redis's keys and lock, MySQL.
struct Shared {
  std::optional<std::string> version, set;  // nullopt: the key is missing
  std::string lock;                         // the holder's token, "": free
  bool redis_up = true, breaker_open = false, mysql_up = true, publish_ok = true;
  ConfigSet mysql = config(9, 2);
  int loads = 0, publishes = 0, unlocks = 0;
  void publish(const ConfigSet& c) {
    set = encode_config(c);
    version = std::to_string(c.version);
  }
};

// One process's view of Shared; counts its own calls.
class FakeSource : public ConfigSource {
 public:
  explicit FakeSource(Shared& w) : w(w) {}
  Shared& w;
  int version_reads = 0, set_reads = 0, pauses = 0;
  std::string token;                  // the last lock's
  std::function<void()> before_lock;  // another process, just before this one locks
  std::function<void()> on_pause;     // another process, while this one waits

  KeyRead read(const std::optional<std::string>& key) {
    if (!w.redis_up) return {};
    return key ? KeyRead{KeyRead::found, *key} : KeyRead{KeyRead::missing, ""};
  }
  KeyRead version() override {
    ++version_reads;
    return read(w.version);
  }
  KeyRead set() override {
    ++set_reads;
    return read(w.set);
  }
  std::optional<std::string> published() override {
    if (!w.redis_up || !w.version || !w.set) return std::nullopt;
    return w.set;
  }
  Lock lock(const std::string& t, int ms) override {
    BOOST_TEST(ms > 0);
    if (auto f = std::exchange(before_lock, nullptr)) f();
    if (!w.redis_up) return Lock::failed;
    if (!w.lock.empty()) return Lock::held;
    w.lock = token = t;
    return Lock::taken;
  }
  void unlock(const std::string& t) override {
    ++w.unlocks;
    if (w.lock == t) w.lock.clear();
  }
  bool load(ConfigSet* out, std::string* err) override {
    ++w.loads;
    if (!w.mysql_up) *err = "mysql down";
    else *out = w.mysql;
    return w.mysql_up;
  }
  bool publish(const ConfigSet& c, std::string* err) override {
    ++w.publishes;
    if (!w.publish_ok || !w.redis_up) {
      *err = "redis: publish transaction failed";
      return false;
    }
    w.publish(c);
    return true;
  }
  bool skipped() const override { return w.breaker_open; }
  void pause(int) override {
    ++pauses;
    if (on_pause) on_pause();
  }
};

// One process: its cache, its slot's counters, its loader.
struct Process {
  Settings s;
  ConfigCache cache;
  std::unique_ptr<WorkerSlot> slot = std::make_unique<WorkerSlot>();
  FakeSource source;
  ConfigLoader loader{s, cache, slot.get(), source};
  explicit Process(Shared& w) : source(w) {}
  uint64_t count(Counter c) const { return slot->counters[static_cast<int>(c)].load(); }
  int64_t version() const { return cache.get() ? cache.get()->version : -1; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(config_loader)

BOOST_AUTO_TEST_CASE(an_unchanged_version_keeps_the_set_without_reading_it) {
  Shared w;
  w.publish(config(5));
  Process p(w);
  p.loader.refresh();
  BOOST_TEST(p.version() == 5);
  auto first = p.cache.get();
  p.loader.refresh();
  BOOST_TEST(p.cache.get() == first);  // the same copy
  BOOST_TEST(p.source.set_reads == 1);
  BOOST_TEST(p.count(Counter::config_redis_loads) == 1u);
  BOOST_TEST(w.loads == 0);
}

BOOST_AUTO_TEST_CASE(a_new_version_adopts_the_published_set) {
  Shared w;
  w.publish(config(5));
  Process p(w);
  p.loader.warm_up();
  w.publish(config(6, 3));
  p.loader.warm_up();  // has a set: no check
  BOOST_TEST(p.version() == 5);
  p.loader.refresh();
  BOOST_TEST(p.version() == 6);
  BOOST_TEST(p.cache.get()->popups.size() == 3u);
  BOOST_TEST(p.count(Counter::config_redis_loads) == 2u);
  BOOST_TEST(p.count(Counter::config_mysql_loads) == 0u);
}

BOOST_AUTO_TEST_CASE(a_version_read_in_a_requests_pipeline_is_checked_the_same) {
  Shared w;
  w.publish(config(5));
  Process p(w);
  RedisReply v;
  v.type = RedisReply::kString;
  v.str = "5";
  BOOST_TEST(p.loader.after_version(v)->version == 5);
  BOOST_TEST(p.source.version_reads == 0);
  v.type = RedisReply::kNil;  // lost: MySQL under the lock
  w.version.reset();
  w.set.reset();
  BOOST_TEST(p.loader.after_version(v)->version == 9);
  BOOST_TEST(w.loads == 1);
}

BOOST_AUTO_TEST_CASE(a_lost_set_is_loaded_from_mysql_under_the_lock_and_published) {
  Shared w;
  Process p(w);
  p.loader.refresh();
  BOOST_TEST(p.version() == 9);
  BOOST_TEST(w.loads == 1);
  BOOST_TEST(w.publishes == 1);
  BOOST_TEST(*w.version == "9");
  BOOST_TEST(decode_config(*w.set).value().popups.size() == 2u);
  BOOST_TEST(w.lock.empty());  // released
  BOOST_TEST(w.unlocks == 1);
  BOOST_TEST(!p.source.token.empty());
  BOOST_TEST(p.count(Counter::config_mysql_loads) == 1u);
  p.loader.refresh();  // published now: nothing more
  BOOST_TEST(w.loads == 1);
}

BOOST_AUTO_TEST_CASE(a_version_without_its_set_reloads_from_mysql) {
  Shared w;
  w.version = "12";
  Process p(w);
  p.loader.refresh();
  BOOST_TEST(p.version() == 9);
  BOOST_TEST(w.loads == 1);
  BOOST_TEST(*w.version == "9");
}

BOOST_AUTO_TEST_CASE(two_loaders_racing_load_mysql_once) {
  Shared w;
  Process a(w), b(w);
  // a read "no version"; b reloads and publishes before a takes the lock.
  a.source.before_lock = [&] { b.loader.refresh(); };
  a.loader.refresh();
  BOOST_TEST(b.version() == 9);
  BOOST_TEST(a.version() == 9);
  BOOST_TEST(w.loads == 1);
  BOOST_TEST(w.publishes == 1);
  BOOST_TEST(a.count(Counter::config_mysql_loads) == 0u);
  BOOST_TEST(a.count(Counter::config_redis_loads) == 1u);  // took b's
  BOOST_TEST(b.count(Counter::config_mysql_loads) == 1u);
  BOOST_TEST(w.lock.empty());
  BOOST_TEST(w.unlocks == 2);
}

BOOST_AUTO_TEST_CASE(a_lock_held_elsewhere_keeps_the_current_set) {
  Shared w;
  w.publish(config(5));
  Process p(w);
  p.loader.refresh();
  w.version.reset();
  w.set.reset();
  w.lock = "other:1";
  p.loader.refresh();
  BOOST_TEST(p.version() == 5);
  BOOST_TEST(w.loads == 0);
  BOOST_TEST(p.source.pauses == 0);
  BOOST_TEST(w.lock == "other:1");
  BOOST_TEST(w.unlocks == 0);
}

BOOST_AUTO_TEST_CASE(a_process_without_a_set_waits_for_the_lock_holder) {
  Shared w;
  w.lock = "other:1";
  Process p(w);
  p.source.on_pause = [&] {
    if (p.source.pauses == 3) w.publish(config(4));
  };
  p.loader.warm_up();
  BOOST_TEST(p.version() == 4);
  BOOST_TEST(p.source.pauses == 3);
  BOOST_TEST(w.loads == 0);
  BOOST_TEST(p.count(Counter::config_redis_loads) == 1u);
}

BOOST_AUTO_TEST_CASE(the_wait_for_a_publisher_is_bounded) {
  Shared w;
  w.lock = "other:1";
  Process p(w);
  p.loader.refresh();
  BOOST_TEST(p.version() == -1);
  BOOST_TEST(p.source.pauses == 40);  // 40 x 50 ms
  BOOST_TEST(w.loads == 0);
  p.source.pauses = 0;
  p.source.on_pause = [&] { w.redis_up = false; };
  p.loader.refresh();  // Redis failing while waiting: give up at once
  BOOST_TEST(p.source.pauses == 1);
  BOOST_TEST(p.version() == -1);
}

BOOST_AUTO_TEST_CASE(redis_failing_keeps_the_set_and_counts_errors_or_skips) {
  Shared w;
  w.publish(config(5));
  Process p(w);
  p.loader.refresh();
  w.publish(config(6));
  w.redis_up = false;
  p.loader.refresh();
  BOOST_TEST(p.version() == 5);
  BOOST_TEST(p.count(Counter::redis_errors) == 1u);
  w.breaker_open = true;
  p.loader.refresh();
  BOOST_TEST(p.count(Counter::redis_skips) == 1u);
  BOOST_TEST(p.count(Counter::redis_errors) == 1u);
  RedisReply v;  // a request saw the version, then Redis failed on the set
  v.type = RedisReply::kString;
  v.str = "6";
  BOOST_TEST(p.loader.after_version(v)->version == 5);
  BOOST_TEST(p.count(Counter::redis_skips) == 2u);
  BOOST_TEST(w.loads == 0);
}

BOOST_AUTO_TEST_CASE(redis_failing_on_the_lock_keeps_the_set_and_counts) {
  Shared w;
  Process p(w);
  p.cache.set(std::make_shared<const ConfigSet>(config(3)));
  RedisReply nil;
  w.redis_up = false;
  BOOST_TEST(p.loader.after_version(nil)->version == 3);
  BOOST_TEST(p.count(Counter::redis_errors) == 1u);
  BOOST_TEST(w.loads == 0);
}

BOOST_AUTO_TEST_CASE(a_set_that_does_not_decode_keeps_the_current_one) {
  Shared w;
  w.publish(config(5));
  Process p(w);
  p.loader.refresh();
  w.version = "6";
  w.set = "{not json";
  p.loader.refresh();
  BOOST_TEST(p.version() == 5);
  BOOST_TEST(p.count(Counter::config_redis_loads) == 1u);
  BOOST_TEST(w.loads == 0);
}

BOOST_AUTO_TEST_CASE(mysql_failing_under_the_lock_keeps_the_set_and_releases_the_lock) {
  Shared w;
  w.mysql_up = false;
  Process p(w);
  p.cache.set(std::make_shared<const ConfigSet>(config(3)));
  p.loader.refresh();
  BOOST_TEST(p.version() == 3);
  BOOST_TEST(w.loads == 1);
  BOOST_TEST(w.publishes == 0);
  BOOST_TEST(w.lock.empty());
  BOOST_TEST(p.count(Counter::mysql_errors) == 1u);
  BOOST_TEST(p.count(Counter::config_mysql_loads) == 0u);
}

BOOST_AUTO_TEST_CASE(a_failed_publication_keeps_the_set_and_counts_a_mysql_error) {
  Shared w;
  w.publish_ok = false;
  Process p(w);
  p.loader.refresh();
  BOOST_TEST(p.version() == -1);
  BOOST_TEST(w.loads == 1);
  BOOST_TEST(!w.version);
  BOOST_TEST(w.lock.empty());
  BOOST_TEST(p.count(Counter::mysql_errors) == 1u);
}

BOOST_AUTO_TEST_CASE(mysql_alone_is_the_last_resort) {
  Shared w;
  w.redis_up = false;
  Process p(w);
  BOOST_TEST(p.loader.from_mysql_only()->version == 9);
  BOOST_TEST(p.version() == 9);
  BOOST_TEST(!w.version);  // nothing published
  w.mysql_up = false;
  BOOST_TEST(!p.loader.from_mysql_only());
  BOOST_TEST(p.version() == 9);
}

BOOST_AUTO_TEST_SUITE_END()

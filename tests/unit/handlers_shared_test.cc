// The request handlers (fcgi/handlers.h) over fake ports
// (tests/unit/handlers_fakes.h): the shared GET's retries and fallbacks,
// and the actions' ordering, without a server.
#include "tests/unit/handlers_fakes.h"

using namespace popup;
using namespace popup::handlers_test;

BOOST_AUTO_TEST_SUITE(handlers)

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

// The request handlers (fcgi/handlers.h) over fake ports
// (tests/unit/handlers_fakes.h): the owner's memory and the fallback ladder
// (Redis, MySQL, neither), without a server. The shared path and the
// actions are in handlers_shared_test.cc.
#include "tests/unit/handlers_fakes.h"

using namespace popup;
using namespace popup::handlers_test;

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

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <string>
#include <thread>
#include <vector>

#include "core/user_cache.h"

using namespace popup;

namespace {
UserStates one_state(int64_t id, int64_t impressions) {
  return UserStates{{id, UserState{100, impressions, LastAction::show, 1}}};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(user_cache)

BOOST_AUTO_TEST_CASE(a_filled_user_is_found_until_stale) {
  UserCache c(1 << 20, 1000, 4);
  { c.lock("alice").fill(one_state(7, 1), 5000, 0); }
  {
    auto h = c.lock("alice");
    CachedUser* u = h.find(5999, 0);
    BOOST_REQUIRE(u);
    BOOST_TEST(u->states.at(7).impressions == 1);
  }
  BOOST_TEST(!c.lock("alice").find(6000, 0));  // stale_ms after the fill
  BOOST_TEST(c.entries() == 0u);                // and dropped
  BOOST_TEST(c.bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(another_generation_or_a_clock_going_back_misses) {
  UserCache c(1 << 20, 1000, 4);
  { c.lock("bob").fill({}, 5000, 3); }
  BOOST_TEST(!c.lock("bob").find(5001, 4));
  { c.lock("bob").fill({}, 5000, 3); }
  BOOST_TEST(!c.lock("bob").find(4999, 3));
  { c.lock("bob").fill({}, 5000, 3); }
  BOOST_TEST(c.lock("bob").find(5000, 3) != nullptr);
}

BOOST_AUTO_TEST_CASE(stale_zero_never_hits) {
  UserCache c(1 << 20, 0, 1);
  { c.lock("u").fill({}, 1, 0); }
  BOOST_TEST(!c.lock("u").find(1, 0));
}

BOOST_AUTO_TEST_CASE(changes_through_the_handle_are_kept_and_counted) {
  UserCache c(1 << 20, 1000, 1);
  {
    auto h = c.lock("carol");
    CachedUser& u = h.fill({}, 0, 0);
    BOOST_TEST(c.bytes() == UserCache::entry_bytes("carol", {}));
    u.states[1] = UserState{5, 1, LastAction::show, 0};
    u.states[2] = UserState{5, 1, LastAction::show, 0};
    h.changed();
  }
  BOOST_TEST(c.bytes() == UserCache::entry_bytes("carol", one_state(1, 1)) + 64);
  auto h = c.lock("carol");
  BOOST_TEST(h.find(1, 0)->states.size() == 2u);
  h.drop();
  BOOST_TEST(c.bytes() == 0u);
  BOOST_TEST(c.entries() == 0u);
}

BOOST_AUTO_TEST_CASE(the_budget_holds_and_the_least_recently_used_go_first) {
  size_t per = UserCache::entry_bytes("u00000", one_state(1, 1));
  UserCache c(per * 10, 1'000'000, 1);
  for (int i = 0; i < 10; ++i) c.lock("u0000" + std::to_string(i)).fill(one_state(1, 1), 0, 0);
  BOOST_TEST(c.entries() == 10u);
  // u00000 used again: now u00001 is the least recently used.
  BOOST_TEST(c.lock("u00000").find(1, 0) != nullptr);
  c.lock("u00010").fill(one_state(1, 1), 0, 0);
  BOOST_TEST(c.entries() == 10u);
  BOOST_TEST(c.bytes() <= c.budget());
  BOOST_TEST(c.evictions() == 1u);
  BOOST_TEST(c.lock("u00000").find(1, 0) != nullptr);
  BOOST_TEST(!c.lock("u00001").find(1, 0));
}

BOOST_AUTO_TEST_CASE(many_users_stay_within_the_budget) {
  UserCache c(64 * 1024, 1'000'000, 8);
  for (int i = 0; i < 20000; ++i) {
    auto h = c.lock("user" + std::to_string(i));
    h.fill(one_state(i % 5, 1), 0, 0);
    BOOST_REQUIRE(c.bytes() <= c.budget());
  }
  BOOST_TEST(c.entries() > 100u);
  BOOST_TEST(c.entries() < 20000u);
  c.clear();
  BOOST_TEST(c.entries() == 0u);
  BOOST_TEST(c.bytes() == 0u);
}

// Two threads that add one impression each to one user, 10,000 times:
// without the stripe lock, updates would be lost.
BOOST_AUTO_TEST_CASE(one_user_is_changed_by_one_thread_at_a_time) {
  UserCache c(1 << 20, 1'000'000, 4);
  { c.lock("dave").fill(one_state(1, 0), 0, 0); }
  auto work = [&c] {
    for (int i = 0; i < 10000; ++i) {
      auto h = c.lock("dave");
      CachedUser* u = h.find(1, 0);
      if (u) u->states[1].impressions += 1;
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  BOOST_TEST(c.lock("dave").find(1, 0)->states.at(1).impressions == 20000);
}

BOOST_AUTO_TEST_SUITE_END()

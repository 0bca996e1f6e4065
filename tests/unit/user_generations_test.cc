// The host's generation and pending tables (fcgi/user_generations.h), in
// private memory (no state_dir).
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "fcgi/user_generations.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(user_generations)

BOOST_AUTO_TEST_CASE(a_bump_moves_only_its_users_generation) {
  UserGenerations g("", 2);
  BOOST_TEST(!g.shared());
  uint64_t a = g.get("alice"), b = g.get("bob");
  BOOST_TEST(g.bump("alice") == a + 1);
  BOOST_TEST(g.get("alice") == a + 1);
  if (UserGenerations::index("alice") != UserGenerations::index("bob")) BOOST_TEST(g.get("bob") == b);
}

BOOST_AUTO_TEST_CASE(the_index_is_fnv1a_so_every_process_agrees) {
  // FNV-1a 64 of "" is the offset basis; of "a" a known constant.
  BOOST_TEST(UserGenerations::index("") == 14695981039346656037ULL % UserGenerations::kSize);
  BOOST_TEST(UserGenerations::index("a") == 0xaf63dc4c8601ec8cULL % UserGenerations::kSize);
}

BOOST_AUTO_TEST_CASE(waits_only_while_an_owner_has_unstored_impressions) {
  UserGenerations g("", 2);
  BOOST_TEST(g.wait_stored("carol", 0));
  g.pending_add(1, "carol");
  BOOST_TEST(!g.wait_stored("carol", 1));  // times out
  g.pending_done(1, "carol");
  BOOST_TEST(g.wait_stored("carol", 0));
}

BOOST_AUTO_TEST_CASE(a_count_down_after_a_reset_does_not_wrap) {
  UserGenerations g("", 2);
  g.pending_add(0, "dave");
  g.reset_slot(0);  // a reload's new worker
  g.pending_done(0, "dave");  // the old worker stores what it had
  BOOST_TEST(g.wait_stored("dave", 0));
}

BOOST_AUTO_TEST_CASE(slots_beyond_the_pool_are_not_read) {
  UserGenerations g("", 1);
  g.pending_add(5, "erin");  // no such worker in a pool of one
  BOOST_TEST(g.wait_stored("erin", 0));
}

BOOST_AUTO_TEST_SUITE_END()

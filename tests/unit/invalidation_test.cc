#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <climits>
#include <optional>
#include <string>
#include <vector>

#include "core/invalidation.h"
#include "core/user_cache.h"

using namespace popup;

namespace {
UserState state(int64_t impressions, int64_t order) {
  return UserState{100, impressions, LastAction::show, 1, order};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(invalidation)

BOOST_AUTO_TEST_CASE(a_nil_payload_means_every_key) {
  Invalidation inv = parse_invalidation(std::nullopt, "popup:u:");
  BOOST_TEST(inv.all);
  BOOST_TEST(inv.uids.empty());
}

BOOST_AUTO_TEST_CASE(user_keys_give_their_uids_and_other_keys_are_left_out) {
  std::vector<std::string> keys{"popup:u:alice", "popup:events", "popup:u:", "other:u:bob",
                                "popup:u:b:c", "popup:u"};
  Invalidation inv = parse_invalidation(keys, "popup:u:");
  BOOST_TEST(!inv.all);
  BOOST_TEST(inv.uids == (std::vector<std::string>{"alice", "b:c"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_empty_key_list_names_nobody) {
  Invalidation inv = parse_invalidation(std::vector<std::string>{}, "popup:u:");
  BOOST_TEST(!inv.all);
  BOOST_TEST(inv.uids.empty());
}

BOOST_AUTO_TEST_CASE(the_owners_own_flush_is_covered) {
  UserStates cached{{7, state(2, 200)}, {8, state(1, 150)}};
  BOOST_TEST(cache_covers(cached, cached));  // stored exactly what memory has
}

BOOST_AUTO_TEST_CASE(an_impression_not_yet_stored_is_covered) {
  UserStates cached{{7, state(3, 300)}, {9, state(1, 310)}};  // 9: not flushed yet
  UserStates stored{{7, state(2, 200)}};
  BOOST_TEST(cache_covers(cached, stored));
}

BOOST_AUTO_TEST_CASE(a_newer_foreign_state_is_not_covered) {
  UserStates cached{{7, state(2, 200)}};
  UserStates stored{{7, state(2, 250)}};
  BOOST_TEST(!cache_covers(cached, stored));
}

BOOST_AUTO_TEST_CASE(a_popup_memory_lacks_is_not_covered) {
  UserStates cached{{7, state(2, 200)}};
  UserStates stored{{7, state(2, 200)}, {8, state(1, 100)}};
  BOOST_TEST(!cache_covers(cached, stored));
}

BOOST_AUTO_TEST_CASE(the_same_order_with_other_fields_is_not_covered) {
  UserStates cached{{7, state(2, 200)}};
  UserStates stored{{7, state(5, 200)}};
  BOOST_TEST(!cache_covers(cached, stored));
}

BOOST_AUTO_TEST_CASE(a_stored_state_without_order_is_covered_only_when_equal) {
  UserStates cached{{7, state(2, 200)}};
  BOOST_TEST(!cache_covers(cached, UserStates{{7, state(1, 0)}}));
  UserStates legacy{{7, state(1, 0)}};
  BOOST_TEST(cache_covers(legacy, legacy));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(user_cache_trust)

BOOST_AUTO_TEST_CASE(entries_filled_before_the_trusted_moment_miss) {
  UserCache c(1 << 20, 30000, 4);
  { c.lock("old").fill(UserStates{{7, state(1, 1)}}, 1000, 0); }
  c.distrust_before(2000);
  { c.lock("new").fill(UserStates{{7, state(1, 1)}}, 2000, 0); }
  BOOST_TEST(!c.lock("old").find(2500, 0));
  BOOST_TEST(c.lock("new").find(2500, 0));
  BOOST_TEST(c.entries() == 1u);  // the untrusted one was dropped
}

BOOST_AUTO_TEST_CASE(distrusting_everything_makes_every_lookup_miss) {
  UserCache c(1 << 20, 30000, 4);
  c.distrust_before(INT64_MAX);
  { c.lock("u").fill(UserStates{{7, state(1, 1)}}, 1000, 0); }
  BOOST_TEST(!c.lock("u").find(1001, 0));
  c.distrust_before(0);
  { c.lock("u").fill(UserStates{{7, state(1, 1)}}, 1000, 0); }
  BOOST_TEST(c.lock("u").find(1001, 0));
}

BOOST_AUTO_TEST_CASE(entry_sees_an_entry_whatever_its_age) {
  UserCache c(1 << 20, 1000, 4);
  { c.lock("u").fill(UserStates{{7, state(1, 1)}}, 1000, 5); }
  {
    auto h = c.lock("u");
    BOOST_REQUIRE(h.entry());
    BOOST_TEST(h.entry()->generation == 5u);
  }
  BOOST_TEST(!c.lock("nobody").entry());
}

BOOST_AUTO_TEST_SUITE_END()

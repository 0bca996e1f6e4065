#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/repair.h"

using namespace popup;

namespace {
StateWrite w(const char* uid, int64_t popup_id, int64_t impressions, LastAction a) {
  StateWrite s;
  s.uid = uid;
  s.popup_id = popup_id;
  s.state.impressions = impressions;
  s.state.last_action = a;
  s.state.updated_at = 100;  // the same second: order decides
  return s;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(repair)

BOOST_AUTO_TEST_CASE(keeps_the_last_write_per_user_and_popup_in_order) {
  auto out = latest_writes({w("a", 1, 1, LastAction::show), w("b", 1, 1, LastAction::show),
                            w("a", 2, 1, LastAction::show), w("a", 1, 1, LastAction::click),
                            w("b", 1, 2, LastAction::show)});
  BOOST_REQUIRE_EQUAL(out.size(), 3u);
  BOOST_TEST(out[0].uid == "a");
  BOOST_TEST(out[0].popup_id == 2);
  BOOST_TEST(out[1].uid == "a");
  BOOST_TEST(out[1].popup_id == 1);
  BOOST_TEST((out[1].state.last_action == LastAction::click));
  BOOST_TEST(out[2].uid == "b");
  BOOST_TEST(out[2].state.impressions == 2);
}

BOOST_AUTO_TEST_CASE(nothing_in_nothing_out) { BOOST_TEST(latest_writes({}).empty()); }

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/rules.h"

using namespace popup;

namespace {
Popup popup_with_cooldowns() {
  Popup p;
  p.id = 1;
  p.show_cooldown_s = 600;
  p.ignore_cooldown_s = 1200;
  p.click_cooldown_s = 3600;
  return p;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rules)

BOOST_AUTO_TEST_CASE(no_state_means_eligible) {
  BOOST_TEST(state_allows(popup_with_cooldowns(), nullptr, 0));
}

BOOST_AUTO_TEST_CASE(impression_starts_the_show_cooldown) {
  Popup p = popup_with_cooldowns();
  UserState s = after_impression(p, nullptr, 1000);
  BOOST_TEST(s.impressions == 1);
  BOOST_TEST(s.next_show_at == 1600);
  BOOST_TEST((s.last_action == LastAction::show));
  BOOST_TEST(s.updated_at == 1000);
  BOOST_TEST(!state_allows(p, &s, 1599));
  BOOST_TEST(state_allows(p, &s, 1600));  // boundary: now == next_show_at
  UserState s2 = after_impression(p, &s, 1600);
  BOOST_TEST(s2.impressions == 2);
}

BOOST_AUTO_TEST_CASE(ignore_and_click_set_their_cooldowns_and_keep_impressions) {
  Popup p = popup_with_cooldowns();
  UserState shown = after_impression(p, nullptr, 1000);
  UserState ig = after_action(p, &shown, Action::ignore, 1010);
  BOOST_TEST(ig.next_show_at == 2210);
  BOOST_TEST((ig.last_action == LastAction::ignore));
  BOOST_TEST(ig.impressions == 1);
  UserState cl = after_action(p, &shown, Action::click, 1010);
  BOOST_TEST(cl.next_show_at == 4610);
  BOOST_TEST((cl.last_action == LastAction::click));
  UserState none = after_action(p, nullptr, Action::click, 5);
  BOOST_TEST(none.impressions == 0);
}

BOOST_AUTO_TEST_CASE(click_without_cooldown_means_never_again) {
  Popup p = popup_with_cooldowns();
  p.click_cooldown_s.reset();
  UserState s = after_action(p, nullptr, Action::click, 1000);
  BOOST_TEST(s.next_show_at == kNever);
  BOOST_TEST(!state_allows(p, &s, 1000));
  BOOST_TEST(!state_allows(p, &s, INT64_MAX / 2));
}

BOOST_AUTO_TEST_CASE(max_impressions_caps_the_count) {
  Popup p = popup_with_cooldowns();
  p.max_impressions = 2;
  UserState s{0, 1, LastAction::show, 0};
  BOOST_TEST(state_allows(p, &s, 10));
  s.impressions = 2;
  BOOST_TEST(!state_allows(p, &s, 10));
  p.max_impressions = 0;
  BOOST_TEST(!state_allows(p, nullptr, 10));
}

BOOST_AUTO_TEST_SUITE_END()

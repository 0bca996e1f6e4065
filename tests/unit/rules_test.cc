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
UserState state(int64_t next_show_at, int64_t impressions, LastAction a = LastAction::show) {
  return UserState{next_show_at, impressions, a, 0};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rules)

BOOST_AUTO_TEST_CASE(no_state_means_eligible) {
  Popup p = popup_with_cooldowns();
  BOOST_TEST(state_allows(p, nullptr, 0));
  p.max_impressions = 1;
  BOOST_TEST(state_allows(p, nullptr, 0));
}

BOOST_AUTO_TEST_CASE(cooldown_boundary_now_equal_next_show_at_is_allowed) {
  Popup p = popup_with_cooldowns();
  UserState s = state(1600, 1);
  BOOST_TEST(!state_allows(p, &s, 1599));
  BOOST_TEST(state_allows(p, &s, 1600));
  BOOST_TEST(state_allows(p, &s, 1601));
}

BOOST_AUTO_TEST_CASE(impression_counts_and_starts_the_show_cooldown) {
  Popup p = popup_with_cooldowns();
  UserState s = after_impression(p, nullptr, 1000);
  BOOST_TEST(s.impressions == 1);
  BOOST_TEST(s.next_show_at == 1600);
  BOOST_TEST((s.last_action == LastAction::show));
  BOOST_TEST(s.updated_at == 1000);
  UserState s2 = after_impression(p, &s, 1600);
  BOOST_TEST(s2.impressions == 2);
  BOOST_TEST(s2.next_show_at == 2200);
  BOOST_TEST(s2.updated_at == 1600);
}

BOOST_AUTO_TEST_CASE(impression_after_an_action_resets_last_action_to_show) {
  Popup p = popup_with_cooldowns();
  UserState clicked = state(900, 4, LastAction::click);
  UserState s = after_impression(p, &clicked, 1000);
  BOOST_TEST((s.last_action == LastAction::show));
  BOOST_TEST(s.impressions == 5);
}

BOOST_AUTO_TEST_CASE(zero_show_cooldown_allows_the_next_request_at_once) {
  Popup p = popup_with_cooldowns();
  p.show_cooldown_s = 0;
  UserState s = after_impression(p, nullptr, 1000);
  BOOST_TEST(s.next_show_at == 1000);
  BOOST_TEST(state_allows(p, &s, 1000));
}

BOOST_AUTO_TEST_CASE(ignore_sets_the_ignore_cooldown_and_keeps_impressions) {
  Popup p = popup_with_cooldowns();
  UserState shown = state(1600, 3);
  UserState ig = after_action(p, &shown, Action::ignore, 1010);
  BOOST_TEST(ig.next_show_at == 2210);
  BOOST_TEST((ig.last_action == LastAction::ignore));
  BOOST_TEST(ig.impressions == 3);
  BOOST_TEST(ig.updated_at == 1010);
  BOOST_TEST(!state_allows(p, &ig, 2209));
  BOOST_TEST(state_allows(p, &ig, 2210));
}

BOOST_AUTO_TEST_CASE(click_sets_the_click_cooldown_and_keeps_impressions) {
  Popup p = popup_with_cooldowns();
  UserState shown = state(1600, 2);
  UserState cl = after_action(p, &shown, Action::click, 1010);
  BOOST_TEST(cl.next_show_at == 4610);
  BOOST_TEST((cl.last_action == LastAction::click));
  BOOST_TEST(cl.impressions == 2);
  BOOST_TEST(cl.updated_at == 1010);
  BOOST_TEST(!state_allows(p, &cl, 4609));
  BOOST_TEST(state_allows(p, &cl, 4610));
}

BOOST_AUTO_TEST_CASE(action_without_previous_state_has_zero_impressions) {
  Popup p = popup_with_cooldowns();
  BOOST_TEST(after_action(p, nullptr, Action::click, 5).impressions == 0);
  BOOST_TEST(after_action(p, nullptr, Action::ignore, 5).impressions == 0);
  BOOST_TEST(after_action(p, nullptr, Action::ignore, 5).next_show_at == 1205);
}

BOOST_AUTO_TEST_CASE(click_with_null_cooldown_means_never_again) {
  Popup p = popup_with_cooldowns();
  p.click_cooldown_s.reset();
  UserState s = after_action(p, nullptr, Action::click, 1000);
  BOOST_TEST(s.next_show_at == kNever);
  BOOST_TEST((s.last_action == LastAction::click));
  BOOST_TEST(!state_allows(p, &s, 1000));
  BOOST_TEST(!state_allows(p, &s, INT64_MAX));
}

BOOST_AUTO_TEST_CASE(click_with_zero_cooldown_is_not_never) {
  Popup p = popup_with_cooldowns();
  p.click_cooldown_s = 0;
  UserState s = after_action(p, nullptr, Action::click, 1000);
  BOOST_TEST(s.next_show_at == 1000);
  BOOST_TEST(state_allows(p, &s, 1000));
}

BOOST_AUTO_TEST_CASE(never_blocks_whatever_the_other_fields) {
  Popup p = popup_with_cooldowns();
  UserState never = state(kNever, 0, LastAction::click);
  BOOST_TEST(!state_allows(p, &never, 0));
  BOOST_TEST(!state_allows(p, &never, -5));
}

BOOST_AUTO_TEST_CASE(ignore_after_a_never_click_reopens_on_the_ignore_cooldown) {
  Popup p = popup_with_cooldowns();
  p.click_cooldown_s.reset();
  UserState never = after_action(p, nullptr, Action::click, 1000);
  UserState ig = after_action(p, &never, Action::ignore, 1100);
  BOOST_TEST(ig.next_show_at == 2300);
}

BOOST_AUTO_TEST_CASE(max_impressions_allows_only_below_the_cap) {
  Popup p = popup_with_cooldowns();
  p.max_impressions = 2;
  UserState s = state(0, 1);
  BOOST_TEST(state_allows(p, &s, 10));
  s.impressions = 2;
  BOOST_TEST(!state_allows(p, &s, 10));
  s.impressions = 3;
  BOOST_TEST(!state_allows(p, &s, 10));
  p.max_impressions.reset();
  BOOST_TEST(state_allows(p, &s, 10));  // unlimited
}

BOOST_AUTO_TEST_CASE(max_impressions_zero_shows_to_nobody) {
  Popup p = popup_with_cooldowns();
  p.max_impressions = 0;
  BOOST_TEST(!state_allows(p, nullptr, 10));
}

BOOST_AUTO_TEST_CASE(max_impressions_reached_by_successive_impressions) {
  Popup p = popup_with_cooldowns();
  p.show_cooldown_s = 0;
  p.max_impressions = 3;
  UserState s = after_impression(p, nullptr, 1);
  int shown = 1;
  while (state_allows(p, &s, 1) && shown < 10) {
    s = after_impression(p, &s, 1);
    ++shown;
  }
  BOOST_TEST(shown == 3);
}

BOOST_AUTO_TEST_CASE(arithmetic_saturates_instead_of_overflowing) {
  Popup p = popup_with_cooldowns();
  p.show_cooldown_s = INT64_MAX;
  UserState huge = state(0, INT64_MAX);
  UserState s = after_impression(p, &huge, 1000);
  BOOST_TEST(s.impressions == INT64_MAX);
  BOOST_TEST(s.next_show_at == INT64_MAX);
  p.click_cooldown_s = INT64_MAX;
  BOOST_TEST(after_action(p, nullptr, Action::click, 1).next_show_at == INT64_MAX);
}

BOOST_AUTO_TEST_CASE(a_negative_clock_never_yields_never) {
  Popup p = popup_with_cooldowns();
  p.show_cooldown_s = 0;
  BOOST_TEST(after_impression(p, nullptr, -1).next_show_at == 0);
  BOOST_TEST(after_action(p, nullptr, Action::ignore, -5000).next_show_at == 0);
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "core/rules.h"
#include "core/select.h"

using namespace popup;

namespace {
Popup make(int64_t id, int64_t priority) {
  Popup p;
  p.id = id;
  p.priority = priority;
  p.show_cooldown_s = 60;
  return p;
}
Visit visit() {
  Visit v;
  v.uid = "alice";
  return v;
}
int64_t selected_id(const ConfigSet& cfg, const UserStates& st = {}, int64_t now = 0) {
  const Popup* p = select_popup(cfg, visit(), st, now);
  return p ? p->id : 0;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(selection)

BOOST_AUTO_TEST_CASE(highest_priority_wins_whatever_the_order) {
  ConfigSet cfg{1, {make(5, 10), make(3, 50), make(9, 1)}};
  BOOST_TEST(selected_id(cfg) == 3);
  std::reverse(cfg.popups.begin(), cfg.popups.end());
  BOOST_TEST(selected_id(cfg) == 3);
  sort_for_selection(cfg.popups);
  BOOST_TEST(selected_id(cfg) == 3);
}

BOOST_AUTO_TEST_CASE(ties_go_to_the_lowest_id_whatever_the_order) {
  ConfigSet cfg{1, {make(8, 50), make(4, 50), make(6, 50), make(2, 10)}};
  BOOST_TEST(selected_id(cfg) == 4);
  std::reverse(cfg.popups.begin(), cfg.popups.end());
  BOOST_TEST(selected_id(cfg) == 4);
}

BOOST_AUTO_TEST_CASE(negative_priorities_order_below_zero) {
  ConfigSet cfg{1, {make(1, -5), make(2, 0), make(3, -1)}};
  BOOST_TEST(selected_id(cfg) == 2);
  cfg.popups.erase(cfg.popups.begin() + 1);
  BOOST_TEST(selected_id(cfg) == 3);
}

BOOST_AUTO_TEST_CASE(sort_for_selection_is_priority_desc_then_id_asc) {
  std::vector<Popup> v{make(8, 50), make(4, 50), make(1, 10), make(6, 90), make(2, 50)};
  sort_for_selection(v);
  std::vector<int64_t> ids;
  for (const auto& p : v) ids.push_back(p.id);
  BOOST_TEST(ids == (std::vector<int64_t>{6, 2, 4, 8, 1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_popup_in_cooldown_yields_to_the_next) {
  ConfigSet cfg{1, {make(1, 90), make(2, 10)}};
  UserStates st{{1, UserState{100, 1, LastAction::show, 40}}};
  BOOST_TEST(selected_id(cfg, st, 99) == 2);
  BOOST_TEST(selected_id(cfg, st, 100) == 1);
}

BOOST_AUTO_TEST_CASE(a_never_again_popup_yields_to_the_next) {
  ConfigSet cfg{1, {make(1, 90), make(2, 10)}};
  UserStates st{{1, UserState{kNever, 1, LastAction::click, 40}}};
  BOOST_TEST(selected_id(cfg, st, 1000000) == 2);
}

BOOST_AUTO_TEST_CASE(a_capped_popup_yields_to_the_next) {
  ConfigSet cfg{1, {make(1, 90), make(2, 10)}};
  cfg.popups[0].max_impressions = 1;
  UserStates st{{1, UserState{0, 1, LastAction::show, 40}}};
  BOOST_TEST(selected_id(cfg, st, 1000) == 2);
}

BOOST_AUTO_TEST_CASE(state_of_another_popup_does_not_matter) {
  ConfigSet cfg{1, {make(1, 90)}};
  UserStates st{{2, UserState{kNever, 9, LastAction::click, 40}}};
  BOOST_TEST(selected_id(cfg, st, 0) == 1);
}

BOOST_AUTO_TEST_CASE(inactive_and_untargeted_popups_are_skipped) {
  ConfigSet cfg{1, {make(1, 90), make(2, 80), make(3, 70), make(4, 60), make(5, 1)}};
  cfg.popups[0].enabled = false;
  cfg.popups[1].ends_at = 100;
  cfg.popups[2].platforms = {Platform::ios};
  cfg.popups[3].rollout_percent = 0;
  BOOST_TEST(selected_id(cfg, {}, 100) == 5);
  BOOST_TEST(selected_id(cfg, {}, 99) == 2);
}

BOOST_AUTO_TEST_CASE(nothing_eligible_gives_null) {
  ConfigSet empty;
  BOOST_TEST(select_popup(empty, visit(), {}, 0) == nullptr);
  ConfigSet cfg{1, {make(1, 1)}};
  cfg.popups[0].enabled = false;
  BOOST_TEST(select_popup(cfg, visit(), {}, 0) == nullptr);
}

BOOST_AUTO_TEST_CASE(the_answer_points_into_the_set) {
  ConfigSet cfg{1, {make(1, 1), make(2, 5)}};
  BOOST_TEST(select_popup(cfg, visit(), {}, 0) == &cfg.popups[1]);
}

BOOST_AUTO_TEST_CASE(find_popup_by_id) {
  ConfigSet cfg{1, {make(1, 1), make(7, 1)}};
  cfg.popups[1].enabled = false;
  BOOST_TEST(find_popup(cfg, 7) == &cfg.popups[1]);
  BOOST_TEST(find_popup(cfg, 1) == &cfg.popups[0]);
  BOOST_TEST(find_popup(cfg, 2) == nullptr);
  BOOST_TEST(find_popup(ConfigSet{}, 1) == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

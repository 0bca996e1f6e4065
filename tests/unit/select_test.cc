#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

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
}  // namespace

BOOST_AUTO_TEST_SUITE(selection)

BOOST_AUTO_TEST_CASE(highest_priority_wins_whatever_the_order) {
  ConfigSet cfg{1, {make(5, 10), make(3, 50), make(9, 1)}};
  BOOST_TEST(select_popup(cfg, visit(), {}, 0)->id == 3);
  sort_for_selection(cfg.popups);
  BOOST_TEST(cfg.popups.front().id == 3);
  BOOST_TEST(select_popup(cfg, visit(), {}, 0)->id == 3);
}

BOOST_AUTO_TEST_CASE(ties_go_to_the_lowest_id) {
  ConfigSet cfg{1, {make(8, 50), make(4, 50), make(6, 50)}};
  BOOST_TEST(select_popup(cfg, visit(), {}, 0)->id == 4);
  sort_for_selection(cfg.popups);
  BOOST_TEST(cfg.popups[0].id == 4);
  BOOST_TEST(cfg.popups[1].id == 6);
}

BOOST_AUTO_TEST_CASE(a_popup_in_cooldown_yields_to_the_next) {
  ConfigSet cfg{1, {make(1, 90), make(2, 10)}};
  UserStates st{{1, UserState{100, 1, LastAction::show, 40}}};
  BOOST_TEST(select_popup(cfg, visit(), st, 99)->id == 2);
  BOOST_TEST(select_popup(cfg, visit(), st, 100)->id == 1);
}

BOOST_AUTO_TEST_CASE(nothing_eligible_gives_null) {
  ConfigSet empty;
  BOOST_TEST(select_popup(empty, visit(), {}, 0) == nullptr);
  ConfigSet cfg{1, {make(1, 1)}};
  cfg.popups[0].enabled = false;
  BOOST_TEST(select_popup(cfg, visit(), {}, 0) == nullptr);
  BOOST_TEST(find_popup(cfg, 1) != nullptr);
  BOOST_TEST(find_popup(cfg, 2) == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

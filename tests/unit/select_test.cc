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

BOOST_AUTO_TEST_CASE(candidates_are_active_targeted_popups_in_selection_order) {
  ConfigSet cfg{1, {make(5, 1), make(1, 90), make(2, 80), make(3, 70), make(4, 60), make(6, 60)}};
  cfg.popups[1].enabled = false;
  cfg.popups[2].ends_at = 100;
  cfg.popups[3].platforms = {Platform::ios};
  std::vector<int64_t> ids;
  for (const Popup* p : candidates(cfg, visit(), 100)) ids.push_back(p->id);
  BOOST_TEST(ids == (std::vector<int64_t>{4, 6, 5}), boost::test_tools::per_element());
  BOOST_TEST(candidates(ConfigSet{}, visit(), 0).empty());
}

BOOST_AUTO_TEST_CASE(packed_candidates_carry_id_max_and_next_show_time) {
  ConfigSet cfg{1, {make(7, 1), make(3, 2), make(12, 3)}};
  cfg.popups[0].max_impressions = 2;
  cfg.popups[0].show_cooldown_s = 60;
  cfg.popups[1].max_impressions = -4;  // below zero: never shown, not unlimited
  cfg.popups[1].show_cooldown_s = 5;
  cfg.popups[2].show_cooldown_s = 0;
  std::vector<const Popup*> list{&cfg.popups[2], &cfg.popups[0], &cfg.popups[1]};
  BOOST_TEST(pack_candidates(list, 1000) == "12,-1,1000;7,2,1060;3,0,1005;");
  BOOST_TEST(pack_candidates({}, 1000).empty());
}

// The show script in Redis walks the candidates and takes the first whose
// state allows it: that must be select_popup's answer for every state.
BOOST_AUTO_TEST_CASE(first_allowed_candidate_is_the_selection) {
  ConfigSet cfg;
  for (int64_t id = 1; id <= 12; ++id) {
    Popup p = make(id, id % 4);
    if (id % 3 == 0) p.max_impressions = 2;
    if (id == 5) p.enabled = false;
    if (id == 7) p.platforms = {Platform::android};
    cfg.popups.push_back(p);
  }
  uint64_t seed = 42;
  auto next = [&seed] { return seed = seed * 6364136223846793005ULL + 1442695040888963407ULL; };
  const int64_t now = 1000;
  for (int round = 0; round < 500; ++round) {
    UserStates st;
    for (int64_t id = 1; id <= 12; ++id) {
      switch (next() >> 61) {
        case 0: st[id] = UserState{now + 10, 1, LastAction::show, now}; break;
        case 1: st[id] = UserState{kNever, 0, LastAction::click, now}; break;
        case 2: st[id] = UserState{now - 10, 2, LastAction::ignore, now}; break;
        case 3: st[id] = UserState{now, 1, LastAction::show, now}; break;
        default: break;  // no state
      }
    }
    const Popup* want = select_popup(cfg, visit(), st, now);
    const Popup* got = nullptr;
    for (const Popup* p : candidates(cfg, visit(), now)) {
      auto it = st.find(p->id);
      if (state_allows(*p, it == st.end() ? nullptr : &it->second, now)) {
        got = p;
        break;
      }
    }
    BOOST_TEST(want == got);
  }
}

BOOST_AUTO_TEST_SUITE_END()

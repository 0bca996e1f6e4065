#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/explain.h"
#include "core/rules.h"
#include "core/select.h"
#include "core/targeting.h"
#include "core/version.h"

using namespace popup;

namespace {
Popup make_popup(int64_t id, int64_t priority) {
  Popup p;
  p.id = id;
  p.name = "p" + std::to_string(id);
  p.priority = priority;
  return p;
}
const Verdict& verdict(const Explanation& e, int64_t id) {
  for (const auto& v : e.popups)
    if (v.id == id) return v;
  throw std::runtime_error("no verdict");
}
bool has(const Verdict& v, const std::string& reason) {
  for (const auto& r : v.reasons)
    if (r == reason) return true;
  return false;
}
constexpr int64_t kNow = 1800000000;
}  // namespace

BOOST_AUTO_TEST_SUITE(explain_suite)

BOOST_AUTO_TEST_CASE(each_rule_gives_its_reason) {
  ConfigSet cfg;
  Popup off = make_popup(1, 9), early = make_popup(2, 8), late = make_popup(3, 7), ios = make_popup(4, 6),
        ver = make_popup(5, 5), lang = make_popup(6, 4), none = make_popup(7, 3);
  off.enabled = false;
  early.starts_at = kNow + 1;
  late.ends_at = kNow;
  ios.platforms = {Platform::ios};
  ver.min_version = parse_version("2");
  lang.langs = {"de"};
  none.rollout_percent = 0;
  cfg.popups = {none, lang, ver, ios, late, early, off};
  Visit v{"alice", Platform::web, parse_version("1.5"), std::string("fr")};
  auto e = explain(cfg, v, {}, kNow);
  BOOST_TEST(!e.answer.has_value());
  BOOST_TEST(e.popups.front().id == 1);  // selection order
  BOOST_TEST(has(verdict(e, 1), "disabled"));
  BOOST_TEST(has(verdict(e, 2), "not started: starts 2027-01-15T08:00:01Z"));
  BOOST_TEST(has(verdict(e, 3), "ended 2027-01-15T08:00:00Z"));
  BOOST_TEST(has(verdict(e, 4), "platform web not in ios"));
  BOOST_TEST(has(verdict(e, 5), "version 1.5 outside 2..*"));
  BOOST_TEST(has(verdict(e, 6), "language fr not in de"));
  BOOST_TEST(has(verdict(e, 7), "rollout: bucket " + std::to_string(rollout_bucket("alice", 7)) +
                                    " is not below 0%"));
  for (const auto& vd : e.popups) BOOST_TEST(vd.reasons.size() == 1u);
}

BOOST_AUTO_TEST_CASE(state_reasons_and_the_answer_follow_select_popup) {
  ConfigSet cfg;
  Popup a = make_popup(1, 9), b = make_popup(2, 8), c = make_popup(3, 7), d = make_popup(4, 1);
  a.max_impressions = 2;
  cfg.popups = {a, b, c, d};
  UserStates st;
  st[1] = UserState{0, 2, LastAction::show, 0};
  st[2] = UserState{kNever, 1, LastAction::click, 0};
  st[3] = UserState{kNow + 60, 1, LastAction::ignore, 0};
  Visit v{"bob", Platform::web, std::nullopt, std::nullopt};
  auto e = explain(cfg, v, st, kNow);
  BOOST_TEST(*e.answer == select_popup(cfg, v, st, kNow)->id);
  BOOST_TEST(*e.answer == 4);
  BOOST_TEST(verdict(e, 4).shown);
  BOOST_TEST(verdict(e, 4).reasons.empty());
  BOOST_TEST(has(verdict(e, 1), "impressions cap reached: 2 of 2"));
  BOOST_TEST(has(verdict(e, 2), "never again after a click"));
  BOOST_TEST(has(verdict(e, 3), "cooldown after ignore until 2027-01-15T08:01:00Z"));
  BOOST_TEST(verdict(e, 3).state->impressions == 1);
  // Once the cooldown is over, popup 3 wins and popup 4 is only outranked.
  auto later = explain(cfg, v, st, kNow + 60);
  BOOST_TEST(*later.answer == 3);
  BOOST_TEST(has(verdict(later, 4), "eligible, but popup 3 comes first (priority)"));
  BOOST_TEST(format_explanation(later).find("answer: popup 3\n") == 0u);
}

BOOST_AUTO_TEST_CASE(the_answer_matches_select_popup_over_many_visits) {
  ConfigSet cfg;
  for (int i = 1; i <= 8; ++i) {
    Popup p = make_popup(i, i % 3);
    p.rollout_percent = 10 * i;
    if (i % 2) p.platforms = {Platform::ios, Platform::web};
    if (i % 4 == 0) p.langs = {"en"};
    cfg.popups.push_back(p);
  }
  for (int u = 0; u < 300; ++u) {
    Visit v{"u" + std::to_string(u), u % 3 ? Platform::web : Platform::android, std::nullopt,
            u % 2 ? std::optional<std::string>("en") : std::nullopt};
    auto e = explain(cfg, v, {}, kNow);
    const Popup* want = select_popup(cfg, v, {}, kNow);
    BOOST_TEST(e.answer.value_or(0) == (want ? want->id : 0));
    for (const auto& vd : e.popups) BOOST_TEST(vd.shown == (want && want->id == vd.id));
  }
}

BOOST_AUTO_TEST_CASE(live_reasons_and_targeting_summary) {
  Popup p = make_popup(1, 0);
  BOOST_TEST(live_reasons(p, kNow).empty());
  BOOST_TEST(targeting_summary(p) == "everyone");
  p.enabled = false;
  p.ends_at = kNow;
  BOOST_TEST(live_reasons(p, kNow).size() == 2u);
  p.platforms = {Platform::web, Platform::android};
  p.max_version = parse_version("3.1");
  p.langs = {"de", "en"};
  BOOST_TEST(targeting_summary(p) == "web,android v*..3.1 de,en");
}

BOOST_AUTO_TEST_SUITE_END()

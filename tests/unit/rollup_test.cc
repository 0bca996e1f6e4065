#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/rollup.h"

using namespace popup;

namespace {
Event ev(const char* uid, int64_t popup_id, LastAction kind, int64_t ts) {
  Event e;
  e.uid = uid;
  e.popup_id = popup_id;
  e.kind = kind;
  e.ts = ts;
  return e;
}
constexpr int64_t kDay = 86400;
constexpr int64_t kT = 20000 * kDay;  // 2024-10-04 00:00 UTC
}  // namespace

BOOST_AUTO_TEST_SUITE(rollup_suite)

BOOST_AUTO_TEST_CASE(unix_day_is_mysql_div) {
  BOOST_TEST(unix_day(0) == 0);
  BOOST_TEST(unix_day(kDay - 1) == 0);
  BOOST_TEST(unix_day(kDay) == 1);
  BOOST_TEST(unix_day(-1) == 0);  // DIV truncates toward zero
  BOOST_TEST(unix_day(-kDay) == -1);
}

BOOST_AUTO_TEST_CASE(counts_by_popup_day_and_kind) {
  Rollup r = rollup({ev("a", 7, LastAction::show, kT), ev("b", 7, LastAction::show, kT + 5),
                     ev("a", 7, LastAction::click, kT + 9), ev("a", 7, LastAction::show, kT + kDay),
                     ev("c", 3, LastAction::ignore, kT + 1), ev("a", 7, LastAction::show, kT + 7)});
  std::vector<DailyCount> want{{3, 20000, 0, 0, 1}, {7, 20000, 3, 1, 0}, {7, 20001, 1, 0, 0}};
  BOOST_CHECK(r.counts == want);
  // Users with a show, once per (popup, day): a's second show that day and
  // c's ignore add nobody.
  std::vector<DailyUser> users{{7, 20000, "a"}, {7, 20000, "b"}, {7, 20001, "a"}};
  BOOST_CHECK(r.users == users);
}

BOOST_AUTO_TEST_CASE(nothing_in_nothing_out) {
  Rollup r = rollup({});
  BOOST_TEST(r.counts.empty());
  BOOST_TEST(r.users.empty());
}

BOOST_AUTO_TEST_SUITE_END()

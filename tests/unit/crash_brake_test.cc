#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/crash_brake.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(crash_brake)

BOOST_AUTO_TEST_CASE(the_countth_crash_within_the_window_pauses_until_now_plus_pause) {
  CrashBrake b;
  CrashStormLimits lim{3, 10, 5};
  BOOST_TEST(!b.note_crash(100, lim).pause);
  BOOST_TEST(!b.note_crash(101, lim).pause);
  auto v = b.note_crash(102, lim);
  BOOST_TEST(v.pause);
  BOOST_TEST(v.until == 107);
}

BOOST_AUTO_TEST_CASE(crashes_spread_wider_than_the_window_never_pause) {
  CrashBrake b;
  CrashStormLimits lim{3, 10, 5};
  for (int64_t t = 0; t < 200; t += 6) BOOST_TEST(!b.note_crash(t, lim).pause);
  BOOST_TEST(b.recent() == 2);  // t - 6 and t are inside 10 s, t - 12 is not
}

BOOST_AUTO_TEST_CASE(a_crash_exactly_window_seconds_old_still_counts) {
  CrashBrake b;
  CrashStormLimits lim{2, 10, 5};
  BOOST_TEST(!b.note_crash(0, lim).pause);
  BOOST_TEST(b.note_crash(10, lim).pause);
}

BOOST_AUTO_TEST_CASE(after_a_pause_the_next_storm_needs_count_new_crashes) {
  CrashBrake b;
  CrashStormLimits lim{2, 10, 5};
  b.note_crash(0, lim);
  BOOST_TEST(b.note_crash(1, lim).pause);
  BOOST_TEST(b.recent() == 0);
  BOOST_TEST(!b.note_crash(6, lim).pause);  // the first of a new storm
  BOOST_TEST(b.note_crash(7, lim).until == 12);
}

BOOST_AUTO_TEST_CASE(count_one_pauses_on_every_crash) {
  CrashBrake b;
  CrashStormLimits lim{1, 10, 3};
  BOOST_TEST(b.note_crash(5, lim).until == 8);
  BOOST_TEST(b.note_crash(9, lim).until == 12);
}

BOOST_AUTO_TEST_CASE(limits_changed_by_a_reload_apply_to_the_crashes_already_counted) {
  CrashBrake b;
  b.note_crash(0, CrashStormLimits{5, 10, 5});
  b.note_crash(1, CrashStormLimits{5, 10, 5});
  BOOST_TEST(b.note_crash(2, CrashStormLimits{3, 10, 5}).pause);
}

BOOST_AUTO_TEST_CASE(holding_until_the_pause_ends) {
  CrashBrake b;
  CrashStormLimits l{2, 10, 5};
  BOOST_TEST(!b.holding(100));
  b.note_crash(100, l);
  BOOST_TEST(!b.holding(100));
  b.note_crash(101, l);  // the storm: paused until 106
  BOOST_TEST(b.holding(101));
  BOOST_TEST(b.holding(105));
  BOOST_TEST(!b.holding(106));
}

BOOST_AUTO_TEST_CASE(crashes_with_a_request_in_hand_never_pause) {
  CrashBrake b;
  CrashStormLimits lim{3, 10, 5};
  for (int64_t t = 0; t < 10; ++t)
    BOOST_TEST(!b.note_crash(t, lim, CrashKind::in_request).pause);
  BOOST_TEST(b.recent() == 0);
  BOOST_TEST(b.in_request_crashes() == 10);
  BOOST_TEST(!b.holding(5));
}

BOOST_AUTO_TEST_CASE(input_crashes_between_start_up_crashes_neither_add_nor_reset_the_storm) {
  CrashBrake b;
  CrashStormLimits lim{3, 10, 5};
  BOOST_TEST(!b.note_crash(0, lim).pause);
  BOOST_TEST(!b.note_crash(1, lim, CrashKind::in_request).pause);
  BOOST_TEST(!b.note_crash(2, lim).pause);
  BOOST_TEST(!b.note_crash(3, lim, CrashKind::in_request).pause);
  BOOST_TEST(b.recent() == 2);
  auto v = b.note_crash(4, lim);  // the third idle crash: the storm
  BOOST_TEST(v.pause);
  BOOST_TEST(v.until == 9);
}

BOOST_AUTO_TEST_SUITE_END()

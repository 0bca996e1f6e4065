// Impression ids and order stamps (fcgi/stamper.h): an id is the order
// stamp in 16 hex digits, then 64 random bits, so ids sort by time (MariaDB
// appends to popup_events' primary key) and stay apart across threads.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

#include "fcgi/stamper.h"

using namespace popup;

namespace {

constexpr int64_t kNow = 1'800'000'000;

Event make(EventStamper& s) {
  UserState st;
  st.impressions = 1;
  st.last_action = LastAction::show;
  return s.make("alice", 7, LastAction::show, st, kNow);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stamper)

BOOST_AUTO_TEST_CASE(an_id_is_its_order_stamp_then_random_bits) {
  EventStamper s;
  int64_t before = wall_us();
  Event e = make(s);
  BOOST_TEST(e.id.size() == 32u);
  BOOST_TEST(e.id.find_first_not_of("0123456789abcdef") == std::string::npos);
  BOOST_TEST(e.order >= before);
  std::string stamp = format_event_id(static_cast<uint64_t>(e.order), 0).substr(0, 16);
  BOOST_TEST(e.id.substr(0, 16) == stamp);
  BOOST_TEST(e.uid == "alice");
  BOOST_TEST(e.popup_id == 7);
  BOOST_TEST(e.ts == kNow);
}

BOOST_AUTO_TEST_CASE(ids_sort_as_their_stamps_and_never_repeat) {
  // Two stampers stand for two threads (or hosts) stamping in the same
  // microseconds: their orders collide, their ids must not.
  EventStamper a, b;
  std::set<std::string> ids;
  std::string last_a;
  int64_t last_order = 0;
  for (int i = 0; i < 20000; ++i) {
    Event ea = make(a), eb = make(b);
    BOOST_TEST_REQUIRE(ea.order > last_order);  // strictly increasing per stamper
    last_order = ea.order;
    BOOST_TEST_REQUIRE(ea.id > last_a);  // fixed width: text order is stamp order
    last_a = ea.id;
    BOOST_TEST_REQUIRE(ids.insert(ea.id).second);
    BOOST_TEST_REQUIRE(ids.insert(eb.id).second);
  }
  BOOST_TEST(ids.size() == 40000u);
}

BOOST_AUTO_TEST_CASE(an_event_is_ordered_after_the_state_it_was_decided_from) {
  EventStamper s;
  UserState base;
  base.order = wall_us() + 60'000'000;  // written by a host whose clock is a minute ahead
  Event e = s.make("alice", 7, LastAction::click, UserState{}, kNow, &base);
  BOOST_TEST(e.order > base.order);
  BOOST_TEST(e.state.order == e.order);
  Event next = make(s);  // and the thread's later events after it
  BOOST_TEST(next.order > e.order);
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <string>

#include "core/event.h"
#include "core/health.h"

using namespace popup;

namespace {
HealthFacts all_well() {
  HealthFacts f;
  f.config = f.redis = f.mysql = true;
  f.writers_alive = 1;
  f.queue_oldest_age_s = 0;
  return f;
}

std::string event_at(int64_t order) {
  Event e;
  e.id = format_event_id(1, static_cast<uint64_t>(order));
  e.uid = "alice";
  e.popup_id = 7;
  e.ts = order / 1000000;
  e.order = order;
  e.state = UserState{e.ts + 60, 1, LastAction::show, e.ts};
  return encode_event(e);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(health)

BOOST_AUTO_TEST_CASE(everything_up_with_a_writer_and_a_fresh_queue_is_ok) {
  auto v = judge_health(all_well(), 30);
  BOOST_TEST(v.http_status == 200);
  BOOST_TEST(std::string(v.status) == "ok");
}

BOOST_AUTO_TEST_CASE(no_writer_alive_is_degraded_but_still_200) {
  auto f = all_well();
  f.writers_alive = 0;
  auto v = judge_health(f, 30);
  BOOST_TEST(v.http_status == 200);
  BOOST_TEST(std::string(v.status) == "degraded");
}

BOOST_AUTO_TEST_CASE(an_oldest_event_past_the_limit_is_degraded_and_at_the_limit_is_not) {
  auto f = all_well();
  f.queue_oldest_age_s = 30;
  BOOST_TEST(std::string(judge_health(f, 30).status) == "ok");
  f.queue_oldest_age_s = 31;
  BOOST_TEST(std::string(judge_health(f, 30).status) == "degraded");
}

BOOST_AUTO_TEST_CASE(one_store_down_is_degraded_both_down_or_no_configuration_unavailable) {
  auto f = all_well();
  f.redis = false;
  f.writers_alive = f.queue_oldest_age_s = -1;  // unknown without Redis
  BOOST_TEST(std::string(judge_health(f, 30).status) == "degraded");
  f.mysql = false;
  BOOST_TEST(judge_health(f, 30).http_status == 503);
  BOOST_TEST(std::string(judge_health(f, 30).status) == "unavailable");
  auto g = all_well();
  g.mysql = false;
  BOOST_TEST(std::string(judge_health(g, 30).status) == "degraded");
  g = all_well();
  g.config = false;
  BOOST_TEST(judge_health(g, 30).http_status == 503);
}

BOOST_AUTO_TEST_CASE(oldest_age_is_that_of_the_smallest_order_and_skips_garbage) {
  int64_t now = 1800000000000000;
  std::vector<std::string> items = {event_at(now - 2000000), "not an event",
                                    event_at(now - 45500000), event_at(now - 10)};
  BOOST_TEST(oldest_event_age_us(items, now) == 45500000);
}

BOOST_AUTO_TEST_CASE(oldest_age_of_nothing_or_of_future_events_is_zero) {
  int64_t now = 1800000000000000;
  BOOST_TEST(oldest_event_age_us({}, now) == 0);
  BOOST_TEST(oldest_event_age_us({"{}"}, now) == 0);
  BOOST_TEST(oldest_event_age_us({event_at(now + 5000000)}, now) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

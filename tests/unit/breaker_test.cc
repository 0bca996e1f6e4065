#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <thread>
#include <vector>

#include "core/breaker.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(breaker)

BOOST_AUTO_TEST_CASE(opens_after_threshold_failures_in_a_row_and_only_then) {
  Breaker b(3, 1000);
  BOOST_TEST(b.allow(0));
  BOOST_TEST(!b.failure(10));
  BOOST_TEST(!b.failure(20));
  BOOST_TEST(b.allow(20));
  BOOST_TEST(b.failure(30));  // the third opens it
  BOOST_TEST(!b.allow(30));
  BOOST_TEST(!b.allow(1029));
  BOOST_TEST(b.allow(1030));  // open_ms later: calls go through again
}

BOOST_AUTO_TEST_CASE(a_success_resets_the_count) {
  Breaker b(3, 1000);
  b.failure(0);
  b.failure(1);
  b.success();
  BOOST_TEST(!b.failure(2));
  BOOST_TEST(!b.failure(3));
  BOOST_TEST(b.allow(3));
}

BOOST_AUTO_TEST_CASE(after_the_open_time_one_failure_opens_it_again_and_one_success_closes_it) {
  Breaker b(2, 500);
  b.failure(0);
  b.failure(0);
  BOOST_TEST(!b.allow(499));
  BOOST_TEST(b.allow(500));
  BOOST_TEST(b.failure(600));  // the probe failed
  BOOST_TEST(!b.allow(1099));
  BOOST_TEST(b.allow(1100));
  b.success();  // the probe worked
  BOOST_TEST(!b.failure(1200));
  BOOST_TEST(b.allow(1200));
}

BOOST_AUTO_TEST_CASE(a_failure_while_open_extends_it_but_does_not_count_as_opening) {
  Breaker b(1, 100);
  BOOST_TEST(b.failure(0));
  BOOST_TEST(!b.failure(50));  // a call that started before it opened
  BOOST_TEST(!b.allow(149));
  BOOST_TEST(b.allow(150));
}

BOOST_AUTO_TEST_CASE(a_success_closes_an_open_breaker) {
  Breaker b(1, 1000);
  BOOST_TEST(b.failure(0));
  BOOST_TEST(!b.allow(10));
  b.success();
  BOOST_TEST(b.allow(10));
  BOOST_TEST(b.failure(20));  // and the next failure opens it again
  BOOST_TEST(!b.allow(30));
}

BOOST_AUTO_TEST_CASE(threshold_zero_never_opens) {
  Breaker b(0, 1000);
  for (int i = 0; i < 100; ++i) BOOST_TEST(!b.failure(i));
  BOOST_TEST(b.allow(100));
}

BOOST_AUTO_TEST_CASE(concurrent_failures_open_it_once) {
  Breaker b(5, 1000);
  std::atomic<int> opened{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        if (b.failure(7)) opened.fetch_add(1);
    });
  for (auto& t : ts) t.join();
  BOOST_TEST(opened.load() == 1);
  BOOST_TEST(!b.allow(1006));
  BOOST_TEST(b.allow(1007));
}

BOOST_AUTO_TEST_SUITE_END()

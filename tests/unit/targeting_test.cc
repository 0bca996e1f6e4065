#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/targeting.h"
#include "core/version.h"

using namespace popup;

namespace {
Visit visit(const char* uid = "alice") {
  Visit v;
  v.uid = uid;
  return v;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(targeting)

BOOST_AUTO_TEST_CASE(crc32_matches_zlib) {
  BOOST_TEST(crc32_ieee("") == 0u);
  BOOST_TEST(crc32_ieee("123456789") == 0xCBF43926u);
  BOOST_TEST(crc32_ieee("alice:1") == 1212271959u);  // python3: zlib.crc32(b"alice:1")
}

BOOST_AUTO_TEST_CASE(rollout_bucket_is_crc_of_uid_colon_id_mod_100) {
  BOOST_TEST(rollout_bucket("alice", 1) == 59);  // 1212271959 % 100
  BOOST_TEST(rollout_bucket("alice", 1) == static_cast<int>(crc32_ieee("alice:1") % 100));
  BOOST_TEST(rollout_bucket("bob", 42) == static_cast<int>(crc32_ieee("bob:42") % 100));
}

BOOST_AUTO_TEST_CASE(rollout_0_reaches_nobody_and_100_everybody) {
  Popup p;
  p.id = 3;
  for (int i = 0; i < 200; ++i) {
    std::string uid = "u" + std::to_string(i);
    p.rollout_percent = 0;
    BOOST_TEST(!targets(p, visit(uid.c_str())));
    p.rollout_percent = 100;
    BOOST_TEST(targets(p, visit(uid.c_str())));
  }
}

BOOST_AUTO_TEST_CASE(rollout_admits_buckets_below_the_percent) {
  Popup p;
  p.id = 9;
  int b = rollout_bucket("carol", 9);
  p.rollout_percent = b;
  BOOST_TEST(!targets(p, visit("carol")));
  p.rollout_percent = b + 1;
  BOOST_TEST(targets(p, visit("carol")));
}

BOOST_AUTO_TEST_CASE(active_window_is_starts_inclusive_ends_exclusive) {
  Popup p;
  p.starts_at = 100;
  p.ends_at = 200;
  BOOST_TEST(!is_active(p, 99));
  BOOST_TEST(is_active(p, 100));
  BOOST_TEST(is_active(p, 199));
  BOOST_TEST(!is_active(p, 200));
  p.starts_at.reset();
  p.ends_at.reset();
  BOOST_TEST(is_active(p, 0));
  p.enabled = false;
  BOOST_TEST(!is_active(p, 150));
}

BOOST_AUTO_TEST_CASE(empty_platform_set_means_all) {
  Popup p;
  Visit v = visit();
  for (auto pl : {Platform::web, Platform::ios, Platform::android}) {
    v.platform = pl;
    BOOST_TEST(targets(p, v));
  }
  p.platforms = {Platform::ios};
  v.platform = Platform::web;
  BOOST_TEST(!targets(p, v));
  v.platform = Platform::ios;
  BOOST_TEST(targets(p, v));
}

BOOST_AUTO_TEST_CASE(version_bounds_are_inclusive_and_need_a_version) {
  Popup p;
  p.min_version = *parse_version("1.9");
  p.max_version = *parse_version("2.0");
  Visit v = visit();
  BOOST_TEST(!targets(p, v));  // no version: only unbounded popups
  for (const char* ok : {"1.9", "1.10", "2", "2.0.0.0"}) {
    v.version = *parse_version(ok);
    BOOST_TEST(targets(p, v), ok);
  }
  for (const char* no : {"1.8.99", "2.0.0.1", "10"}) {
    v.version = *parse_version(no);
    BOOST_TEST(!targets(p, v), no);
  }
  Popup unbounded;
  BOOST_TEST(targets(unbounded, v));
  Popup only_min;
  only_min.min_version = *parse_version("3");
  v.version = *parse_version("12.0");
  BOOST_TEST(targets(only_min, v));
}

BOOST_AUTO_TEST_CASE(languages_case_insensitive_and_required_when_set) {
  Popup p;
  p.langs = {"de", "fr"};
  Visit v = visit();
  BOOST_TEST(!targets(p, v));
  v.lang = "FR";
  BOOST_TEST(targets(p, v));
  v.lang = "en";
  BOOST_TEST(!targets(p, v));
  Popup all;
  BOOST_TEST(targets(all, v));
  v.lang.reset();
  BOOST_TEST(targets(all, v));
}

BOOST_AUTO_TEST_SUITE_END()

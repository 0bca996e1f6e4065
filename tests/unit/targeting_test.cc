#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/targeting.h"
#include "core/version.h"

using namespace popup;

namespace {
Visit visit(const std::string& uid = "alice") {
  Visit v;
  v.uid = uid;
  return v;
}
Version ver(const char* s) { return *parse_version(s); }
}  // namespace

BOOST_AUTO_TEST_SUITE(targeting)

// Expected values from python3: zlib.crc32(b"...").
BOOST_AUTO_TEST_CASE(crc32_matches_zlib) {
  BOOST_TEST(crc32_ieee("") == 0u);
  BOOST_TEST(crc32_ieee("123456789") == 0xCBF43926u);
  BOOST_TEST(crc32_ieee("alice:1") == 1212271959u);
  BOOST_TEST(crc32_ieee("alice:7") == 2703386722u);
  BOOST_TEST(crc32_ieee("u1:3") == 3262496634u);
  BOOST_TEST(crc32_ieee(std::string_view("\0\xff", 2)) != crc32_ieee(std::string_view("\0", 1)));
}

BOOST_AUTO_TEST_CASE(rollout_bucket_is_crc_of_uid_colon_decimal_id_mod_100) {
  BOOST_TEST(rollout_bucket("alice", 1) == 59);           // 1212271959 % 100
  BOOST_TEST(rollout_bucket("bob", 42) == 7);             // 615650007 % 100
  BOOST_TEST(rollout_bucket("carol", 9) == 10);           // 1068262710 % 100
  BOOST_TEST(rollout_bucket("user-123", 1000) == 33);     // 3514670733 % 100
  BOOST_TEST(rollout_bucket("alice", 1) == static_cast<int>(crc32_ieee("alice:1") % 100));
  BOOST_TEST(rollout_bucket("x", 9223372036854775807) ==
             static_cast<int>(crc32_ieee("x:9223372036854775807") % 100));
}

BOOST_AUTO_TEST_CASE(rollout_0_reaches_nobody_and_100_everybody) {
  Popup p;
  p.id = 3;
  for (int i = 0; i < 500; ++i) {
    std::string uid = "u" + std::to_string(i);
    p.rollout_percent = 0;
    BOOST_TEST(!targets(p, visit(uid)), uid);
    p.rollout_percent = 100;
    BOOST_TEST(targets(p, visit(uid)), uid);
  }
}

BOOST_AUTO_TEST_CASE(rollout_admits_exactly_the_buckets_below_the_percent) {
  Popup p;
  p.id = 9;
  BOOST_REQUIRE(rollout_bucket("carol", 9) == 10);
  p.rollout_percent = 10;
  BOOST_TEST(!targets(p, visit("carol")));  // bucket == percent: out
  p.rollout_percent = 11;
  BOOST_TEST(targets(p, visit("carol")));
  p.id = 1;
  p.rollout_percent = 60;  // alice's bucket for popup 1 is 59
  BOOST_TEST(targets(p, visit("alice")));
  p.rollout_percent = 59;
  BOOST_TEST(!targets(p, visit("alice")));
}

BOOST_AUTO_TEST_CASE(rollout_50_admits_about_half) {
  Popup p;
  p.id = 77;
  p.rollout_percent = 50;
  int in = 0;
  for (int i = 0; i < 2000; ++i) in += targets(p, visit("user" + std::to_string(i)));
  BOOST_TEST(in > 900);
  BOOST_TEST(in < 1100);
}

BOOST_AUTO_TEST_CASE(active_window_is_starts_inclusive_ends_exclusive) {
  Popup p;
  p.starts_at = 100;
  p.ends_at = 200;
  BOOST_TEST(!is_active(p, 99));
  BOOST_TEST(is_active(p, 100));  // now == starts_at: active
  BOOST_TEST(is_active(p, 199));
  BOOST_TEST(!is_active(p, 200));  // now == ends_at: over
}

BOOST_AUTO_TEST_CASE(absent_bounds_are_unbounded) {
  Popup p;
  BOOST_TEST(is_active(p, INT64_MIN));
  BOOST_TEST(is_active(p, INT64_MAX));
  p.starts_at = 100;
  BOOST_TEST(!is_active(p, 99));
  BOOST_TEST(is_active(p, INT64_MAX));
  p.starts_at.reset();
  p.ends_at = 100;
  BOOST_TEST(is_active(p, 0));
  BOOST_TEST(!is_active(p, 100));
}

BOOST_AUTO_TEST_CASE(disabled_popup_is_never_active) {
  Popup p;
  p.enabled = false;
  BOOST_TEST(!is_active(p, 150));
  p.starts_at = 100;
  p.ends_at = 200;
  BOOST_TEST(!is_active(p, 150));
}

BOOST_AUTO_TEST_CASE(empty_platform_set_means_all) {
  Popup p;
  Visit v = visit();
  for (auto pl : {Platform::web, Platform::ios, Platform::android}) {
    v.platform = pl;
    BOOST_TEST(targets(p, v), to_string(pl));
  }
}

BOOST_AUTO_TEST_CASE(platform_set_admits_only_its_members) {
  Popup p;
  p.platforms = {Platform::ios, Platform::android};
  Visit v = visit();
  v.platform = Platform::web;
  BOOST_TEST(!targets(p, v));
  v.platform = Platform::ios;
  BOOST_TEST(targets(p, v));
  v.platform = Platform::android;
  BOOST_TEST(targets(p, v));
}

BOOST_AUTO_TEST_CASE(version_bounds_are_inclusive) {
  Popup p;
  p.min_version = ver("1.9");
  p.max_version = ver("2.0");
  Visit v = visit();
  for (const char* ok : {"1.9", "1.10", "1.9.0.1", "2", "2.0.0.0"}) {
    v.version = ver(ok);
    BOOST_TEST(targets(p, v), ok);
  }
  for (const char* no : {"1.8.99", "1.1", "2.0.0.1", "10"}) {
    v.version = ver(no);
    BOOST_TEST(!targets(p, v), no);
  }
}

BOOST_AUTO_TEST_CASE(one_sided_version_bounds) {
  Popup only_min;
  only_min.min_version = ver("3");
  Popup only_max;
  only_max.max_version = ver("3");
  Visit v = visit();
  v.version = ver("12.0");
  BOOST_TEST(targets(only_min, v));
  BOOST_TEST(!targets(only_max, v));
  v.version = ver("2.99");
  BOOST_TEST(!targets(only_min, v));
  BOOST_TEST(targets(only_max, v));
}

BOOST_AUTO_TEST_CASE(visit_without_version_matches_only_unbounded_popups) {
  Visit v = visit();
  Popup unbounded;
  BOOST_TEST(targets(unbounded, v));
  Popup with_min;
  with_min.min_version = ver("0");
  BOOST_TEST(!targets(with_min, v));
  Popup with_max;
  with_max.max_version = ver("999");
  BOOST_TEST(!targets(with_max, v));
  v.version = ver("1");
  BOOST_TEST(targets(unbounded, v));
}

BOOST_AUTO_TEST_CASE(languages_compare_case_insensitively) {
  Popup p;
  p.langs = {"de", "fr"};
  Visit v = visit();
  v.lang = "FR";
  BOOST_TEST(targets(p, v));
  v.lang = "de";
  BOOST_TEST(targets(p, v));
  v.lang = "en";
  BOOST_TEST(!targets(p, v));
  v.lang = "d";
  BOOST_TEST(!targets(p, v));
  p.langs = {"PT-br"};  // stored lower-case, but compared defensively anyway
  v.lang = "pt-BR";
  BOOST_TEST(targets(p, v));
}

BOOST_AUTO_TEST_CASE(empty_language_set_means_all_even_without_lang) {
  Popup all;
  Visit v = visit();
  BOOST_TEST(targets(all, v));
  v.lang = "ja";
  BOOST_TEST(targets(all, v));
}

BOOST_AUTO_TEST_CASE(visit_without_lang_matches_only_popups_without_languages) {
  Popup p;
  p.langs = {"de"};
  BOOST_TEST(!targets(p, visit()));
}

BOOST_AUTO_TEST_CASE(every_dimension_must_admit_the_visit) {
  Popup p;
  p.id = 1;
  p.platforms = {Platform::ios};
  p.min_version = ver("2");
  p.langs = {"de"};
  p.rollout_percent = 60;  // alice: bucket 59
  Visit v = visit("alice");
  v.platform = Platform::ios;
  v.version = ver("2.1");
  v.lang = "de";
  BOOST_TEST(targets(p, v));
  Visit w = v;
  w.platform = Platform::web;
  BOOST_TEST(!targets(p, w));
  w = v;
  w.version = ver("1.9");
  BOOST_TEST(!targets(p, w));
  w = v;
  w.lang = "fr";
  BOOST_TEST(!targets(p, w));
  p.rollout_percent = 59;
  BOOST_TEST(!targets(p, v));
}

BOOST_AUTO_TEST_SUITE_END()

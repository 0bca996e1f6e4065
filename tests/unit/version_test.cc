#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/version.h"

using namespace popup;

namespace {
Version v(const char* s) {
  auto parsed = parse_version(s);
  BOOST_REQUIRE_MESSAGE(parsed.has_value(), s);
  return *parsed;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(version)

BOOST_AUTO_TEST_CASE(parts_compare_as_integers_so_1_10_is_above_1_9) {
  BOOST_TEST((v("1.10") > v("1.9")));
  BOOST_TEST((v("1.9") < v("1.10")));
  BOOST_TEST((v("2") > v("1.99.99.99")));
  BOOST_TEST((v("1.2.10") > v("1.2.9")));
  BOOST_TEST((v("1.2.3.10") > v("1.2.3.9")));
}

BOOST_AUTO_TEST_CASE(missing_parts_are_zero) {
  BOOST_TEST((v("1.2") == v("1.2.0.0")));
  BOOST_TEST((v("1") == v("1.0")));
  BOOST_TEST((v("1.0.0.1") > v("1")));
  BOOST_TEST((v("1.2.0") < v("1.2.0.1")));
}

BOOST_AUTO_TEST_CASE(one_to_four_parts_of_up_to_nine_digits) {
  BOOST_TEST(v("7").parts[0] == 7u);
  auto four = v("1.2.3.4");
  BOOST_TEST(four.parts[0] == 1u);
  BOOST_TEST(four.parts[3] == 4u);
  BOOST_TEST(v("999999999.0").parts[0] == 999999999u);
  BOOST_TEST(v("007").parts[0] == 7u);
  BOOST_TEST(v("0").parts[0] == 0u);
}

BOOST_AUTO_TEST_CASE(malformed_versions_are_refused) {
  for (const char* bad : {"", ".", "1.", ".1", "1..2", "a", "1.b", "1.2.3.4.5", "-1", "+1", " 1",
                          "1 ", "1234567890", "1.1234567890", "1,2", "1.2a", "v1.2", "0x10",
                          "1.-2", "１"})
    BOOST_TEST(!parse_version(bad).has_value(), bad);
  BOOST_TEST(!parse_version(std::string_view("1\0", 2)).has_value());
}

BOOST_AUTO_TEST_CASE(format_drops_trailing_zero_parts_but_keeps_one) {
  BOOST_TEST(format_version(v("1.10.0.0")) == "1.10");
  BOOST_TEST(format_version(v("0")) == "0");
  BOOST_TEST(format_version(v("0.0.0.0")) == "0");
  BOOST_TEST(format_version(v("1.0.2")) == "1.0.2");
  BOOST_TEST(format_version(v("1.0.0.3")) == "1.0.0.3");
  BOOST_TEST(format_version(v("007.01")) == "7.1");
  BOOST_TEST(format_version(Version{}) == "0");
}

BOOST_AUTO_TEST_CASE(format_then_parse_is_the_same_version) {
  for (const char* s : {"0", "1", "1.10", "2.0.1", "9.8.7.6", "999999999.999999999.999999999.999999999"})
    BOOST_TEST((v(format_version(v(s)).c_str()) == v(s)), s);
}

BOOST_AUTO_TEST_SUITE_END()

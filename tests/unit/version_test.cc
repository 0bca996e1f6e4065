#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/version.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(version)

BOOST_AUTO_TEST_CASE(parts_compare_as_integers_so_1_10_is_above_1_9) {
  BOOST_TEST((*parse_version("1.10") > *parse_version("1.9")));
  BOOST_TEST((*parse_version("2") > *parse_version("1.99.99.99")));
}

BOOST_AUTO_TEST_CASE(missing_parts_are_zero) {
  BOOST_TEST((*parse_version("1.2") == *parse_version("1.2.0.0")));
  BOOST_TEST((*parse_version("1") == *parse_version("1.0")));
  BOOST_TEST((*parse_version("1.0.0.1") > *parse_version("1")));
}

BOOST_AUTO_TEST_CASE(malformed_versions_are_refused) {
  for (const char* bad : {"", ".", "1.", ".1", "1..2", "a", "1.b", "1.2.3.4.5", "-1", "+1", " 1",
                          "1 ", "1234567890", "1,2"})
    BOOST_TEST(!parse_version(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(format_drops_trailing_zero_parts) {
  BOOST_TEST(format_version(*parse_version("1.10.0.0")) == "1.10");
  BOOST_TEST(format_version(*parse_version("0")) == "0");
  BOOST_TEST(format_version(*parse_version("1.0.2")) == "1.0.2");
}

BOOST_AUTO_TEST_SUITE_END()

// core/list.h: the comma-separated lists of the settings.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/list.h"

using namespace popup;

namespace {
std::vector<std::string> items(std::string_view list) {
  auto r = split_comma_list(list);
  BOOST_REQUIRE_MESSAGE(r.ok(), std::string(list) + ": " + r.error().message);
  return {r.value().begin(), r.value().end()};
}

std::string refusal(std::string_view list) {
  auto r = split_comma_list(list);
  BOOST_REQUIRE_MESSAGE(!r.ok(), std::string(list) + " was accepted");
  return r.error().message;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(comma_list)

BOOST_AUTO_TEST_CASE(items_lose_the_white_space_around_them_and_keep_their_order) {
  BOOST_TEST(items("a, b ,c") == (std::vector<std::string>{"a", "b", "c"}),
             boost::test_tools::per_element());
  BOOST_TEST(items("\tx:1 ,  y z  ") == (std::vector<std::string>{"x:1", "y z"}),
             boost::test_tools::per_element());
  BOOST_TEST(items("one") == (std::vector<std::string>{"one"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_empty_or_blank_list_has_no_items) {
  BOOST_TEST(items("").empty());
  BOOST_TEST(items("  \t ").empty());
}

BOOST_AUTO_TEST_CASE(an_empty_item_is_refused_with_its_position) {
  BOOST_TEST(refusal("a,,b") == "item 2 of 3 is empty (two commas in a row, or one at an end)");
  BOOST_TEST(refusal("a, ,b") == "item 2 of 3 is empty (two commas in a row, or one at an end)");
  BOOST_TEST(refusal("a,b,") == "item 3 of 3 is empty (two commas in a row, or one at an end)");
  BOOST_TEST(refusal(" ,a") == "item 1 of 2 is empty (two commas in a row, or one at an end)");
  BOOST_TEST(refusal(",") == "item 1 of 2 is empty (two commas in a row, or one at an end)");
}

BOOST_AUTO_TEST_SUITE_END()

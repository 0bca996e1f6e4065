#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/popup.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(model)

BOOST_AUTO_TEST_CASE(platform_names_round_trip) {
  for (auto p : {Platform::web, Platform::ios, Platform::android})
    BOOST_TEST((parse_platform(to_string(p)) == p), to_string(p));
  BOOST_TEST(std::string(to_string(Platform::android)) == "android");
  for (const char* bad : {"", "tv", "IOS", "Web", " web", "web "})
    BOOST_TEST(!parse_platform(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(last_action_names_round_trip) {
  for (auto a : {LastAction::show, LastAction::ignore, LastAction::click})
    BOOST_TEST((parse_last_action(to_string(a)) == a), to_string(a));
  BOOST_TEST(std::string(to_string(LastAction::show)) == "show");
  for (const char* bad : {"", "shown", "CLICK", "impression"})
    BOOST_TEST(!parse_last_action(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(client_actions_are_only_click_and_ignore) {
  BOOST_TEST((parse_action("click") == Action::click));
  BOOST_TEST((parse_action("ignore") == Action::ignore));
  BOOST_TEST(std::string(to_string(Action::ignore)) == "ignore");
  for (const char* bad : {"", "show", "Click", "like"}) BOOST_TEST(!parse_action(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(result_holds_a_value_or_an_error) {
  Result<int> good(5);
  BOOST_TEST(good.ok());
  BOOST_TEST(good.value() == 5);
  Result<int> bad(Error{"bad_request", "why"});
  BOOST_TEST(!bad.ok());
  BOOST_TEST(bad.error().code == "bad_request");
  BOOST_TEST(bad.error().message == "why");
}

BOOST_AUTO_TEST_SUITE_END()

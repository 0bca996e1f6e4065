#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/params.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(params)

BOOST_AUTO_TEST_CASE(uid_is_1_to_64_of_the_allowed_characters) {
  BOOST_TEST(valid_uid("a"));
  BOOST_TEST(valid_uid("Alice.B_c-9"));
  BOOST_TEST(valid_uid(std::string(64, 'x')));
  BOOST_TEST(!valid_uid(""));
  BOOST_TEST(!valid_uid(std::string(65, 'x')));
  for (const char* bad : {"a b", "a/b", "a:b", "é", "a\"", "a%20"}) BOOST_TEST(!valid_uid(bad), bad);
}

BOOST_AUTO_TEST_CASE(url_decoding_and_malformed_escapes) {
  BOOST_TEST(*url_decode("a%20b+c") == "a b c");
  BOOST_TEST(*url_decode("%41%7a") == "Az");
  for (const char* bad : {"%", "%4", "%G1", "a%2"}) BOOST_TEST(!url_decode(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(visit_defaults_and_fields) {
  auto v = parse_visit("uid=bob");
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v.value().uid == "bob");
  BOOST_TEST((v.value().platform == Platform::web));
  BOOST_TEST(!v.value().version.has_value());
  BOOST_TEST(!v.value().lang.has_value());
  auto w = parse_visit("lang=DE&platform=ios&version=1.10&uid=bob&utm=x");
  BOOST_REQUIRE(w.ok());
  BOOST_TEST((w.value().platform == Platform::ios));
  BOOST_TEST(*w.value().lang == "de");
  BOOST_TEST(w.value().version->parts[1] == 10u);
}

BOOST_AUTO_TEST_CASE(bad_visits_are_bad_requests_naming_the_field) {
  struct Case { const char* q; const char* field; };
  for (auto c : {Case{"", "uid"}, Case{"uid=", "uid"}, Case{"uid=a%20b", "uid"},
                 Case{"uid=a&uid=b", "uid"}, Case{"uid=a&platform=tv", "platform"},
                 Case{"uid=a&platform=", "platform"}, Case{"uid=a&version=1.x", "version"},
                 Case{"uid=a&version=", "version"}, Case{"uid=a&lang=", "lang"},
                 Case{"uid=a&lang=e%20n", "lang"}, Case{"uid=%zz", "escape"}}) {
    auto r = parse_visit(c.q);
    BOOST_TEST(!r.ok(), c.q);
    if (r.ok()) continue;
    BOOST_TEST(r.error().code == "bad_request");
    BOOST_TEST(r.error().message.find(c.field) != std::string::npos, c.q << ": " << r.error().message);
  }
  BOOST_TEST(!parse_visit("uid=" + std::string(65, 'a')).ok());
}

BOOST_AUTO_TEST_CASE(action_from_form_and_json) {
  auto f = parse_action_body("application/x-www-form-urlencoded", "uid=a&popup_id=7&action=click");
  BOOST_REQUIRE(f.ok());
  BOOST_TEST(f.value().popup_id == 7);
  BOOST_TEST((f.value().action == Action::click));
  auto j = parse_action_body("Application/JSON; charset=utf-8",
                             R"({"uid":"a","popup_id":9,"action":"ignore"})");
  BOOST_REQUIRE(j.ok());
  BOOST_TEST(j.value().popup_id == 9);
  BOOST_TEST((j.value().action == Action::ignore));
}

BOOST_AUTO_TEST_CASE(bad_action_bodies_are_refused) {
  const char* json = "application/json";
  const char* form = "application/x-www-form-urlencoded";
  struct Case { const char* type; const char* body; };
  for (auto c : {Case{json, "{not json"}, Case{json, "[1]"}, Case{json, "\"s\""}, Case{json, ""},
                 Case{json, R"({"uid":"a","popup_id":"7","action":"click"})"},
                 Case{json, R"({"uid":"a","popup_id":7.5,"action":"click"})"},
                 Case{json, R"({"uid":"a","popup_id":true,"action":"click"})"},
                 Case{json, R"({"uid":"a","popup_id":-1,"action":"click"})"},
                 Case{json, R"({"uid":"a","popup_id":0,"action":"click"})"},
                 Case{json, R"({"uid":"a","popup_id":99999999999,"action":"click"})"},
                 Case{json, R"({"uid":7,"popup_id":7,"action":"click"})"},
                 Case{json, R"({"uid":"a b","popup_id":7,"action":"click"})"},
                 Case{json, R"({"uid":"a","popup_id":7,"action":"like"})"},
                 Case{json, R"({"uid":"a","popup_id":7,"action":1})"},
                 Case{json, R"({"uid":"a","popup_id":7})"}, Case{json, R"({"popup_id":7,"action":"click"})"},
                 Case{form, "uid=a&popup_id=x&action=click"}, Case{form, "uid=a&popup_id=&action=click"},
                 Case{form, "uid=a&action=click"}, Case{form, "uid=a&popup_id=1&popup_id=2&action=click"},
                 Case{form, "uid=a&popup_id=1&action=%zz"}, Case{"text/plain", "uid=a&popup_id=1&action=click"},
                 Case{"", "uid=a&popup_id=1&action=click"}}) {
    auto r = parse_action_body(c.type, c.body);
    BOOST_TEST(!r.ok(), c.type << " " << c.body);
    if (!r.ok()) BOOST_TEST(r.error().code == "bad_request");
  }
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "core/answer.h"
#include "core/config_json.h"
#include "core/event.h"
#include "core/state_codec.h"
#include "core/version.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(codecs)

BOOST_AUTO_TEST_CASE(popup_answer_escapes_every_string) {
  BOOST_TEST(popup_answer(nullptr) == R"({"popup":null})");
  Popup p;
  p.id = 7;
  p.title = "Sale \"50%\" <b>\n\x01 é";
  p.body = "b\\";
  std::string s = popup_answer(&p);
  auto v = boost::json::parse(s);
  BOOST_TEST(v.at("popup").at("title").as_string() == p.title);
  BOOST_TEST(v.at("popup").at("body").as_string() == "b\\");
  BOOST_TEST(v.at("popup").at("id").as_int64() == 7);
  BOOST_TEST(s.find("name") == std::string::npos);  // operator label stays private
  BOOST_TEST(s.find("{\"popup\":{\"id\":7,\"title\":") == 0u);
}

BOOST_AUTO_TEST_CASE(errors_and_statuses) {
  BOOST_TEST(error_answer(Error{"bad_request", "uid is \"x\""}) ==
             R"({"error":"bad_request","message":"uid is \"x\""})");
  BOOST_TEST(status_for("bad_request") == 400);
  BOOST_TEST(status_for("not_found") == 404);
  BOOST_TEST(status_for("method_not_allowed") == 405);
  BOOST_TEST(status_for("payload_too_large") == 413);
  BOOST_TEST(status_for("unavailable") == 503);
  BOOST_TEST(status_for("whatever") == 500);
  BOOST_TEST(std::string(reason_phrase(202)) == "Accepted");
}

BOOST_AUTO_TEST_CASE(state_round_trip_and_strict_decoding) {
  UserState s{kNever, 3, LastAction::click, 1700000000};
  BOOST_TEST(encode_state(s) == "-1,3,click,1700000000");
  BOOST_TEST((*decode_state(encode_state(s)) == s));
  for (const char* bad : {"", "1,2,show", "1,2,show,3,4", "x,2,show,3", "1,2,shown,3", "1,-2,show,3",
                          "-2,1,show,3", "1,2,show,", "1 ,2,show,3"})
    BOOST_TEST(!decode_state(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(event_round_trip_and_rejections) {
  Event e;
  e.id = format_event_id(0x0123456789abcdefULL, 0xfULL);
  BOOST_TEST(e.id == "0123456789abcdef000000000000000f");
  e.uid = "alice";
  e.popup_id = 7;
  e.kind = LastAction::ignore;
  e.ts = 1700000000;
  e.order = 1700000000123456;
  e.state = UserState{1700001200, 2, LastAction::ignore, 1700000000};
  auto back = decode_event(encode_event(e));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back.value() == e));
  std::string good = encode_event(e);
  auto broken = [&](const char* from, const char* to) {
    std::string s = good;
    s.replace(s.find(from), std::string(from).size(), to);
    return s;
  };
  for (const std::string& bad :
       {std::string("{"), std::string("[]"), broken("\"alice\"", "\"a b\""), broken("\"ignore\"", "\"like\""),
        broken("0123456789abcdef", "0123456789ABCDEF"), broken("\"popup_id\":7", "\"popup_id\":\"7\""),
        broken("\"popup_id\":7", "\"popup_id\":0"), broken("\"impressions\":2", "\"impressions\":-1")})
    BOOST_TEST(!decode_event(bad).ok(), bad);
}

BOOST_AUTO_TEST_CASE(config_round_trip_sorted_for_selection) {
  ConfigSet cfg;
  cfg.version = 12;
  Popup a;
  a.id = 2;
  a.priority = 1;
  a.platforms = {Platform::ios, Platform::android};
  a.min_version = *parse_version("1.10");
  a.langs = {"de"};
  a.max_impressions = 3;
  a.click_cooldown_s.reset();
  a.title = "ü \"q\"";
  Popup b;
  b.id = 1;
  b.priority = 5;
  b.starts_at = 10;
  b.ends_at = 20;
  b.click_cooldown_s = 60;
  b.rollout_percent = 0;
  cfg.popups = {a, b};
  auto back = decode_config(encode_config(cfg));
  BOOST_REQUIRE(back.ok());
  const auto& out = back.value();
  BOOST_TEST(out.version == 12);
  BOOST_REQUIRE(out.popups.size() == 2u);
  BOOST_TEST(out.popups[0].id == 1);  // higher priority first
  const Popup& a2 = out.popups[1];
  BOOST_TEST(a2.title == a.title);
  BOOST_TEST((a2.min_version == a.min_version));
  BOOST_TEST(!a2.max_version.has_value());
  BOOST_TEST(a2.platforms.size() == 2u);
  BOOST_TEST(*a2.max_impressions == 3);
  BOOST_TEST(!a2.click_cooldown_s.has_value());
  BOOST_TEST(*out.popups[0].ends_at == 20);
  BOOST_TEST(out.popups[0].rollout_percent == 0);
}

BOOST_AUTO_TEST_CASE(broken_config_is_refused) {
  for (const char* bad : {"", "{}", R"({"version":"1","popups":[]})", R"({"version":1,"popups":{}})",
                          R"({"version":1,"popups":[{"id":1}]})", R"({"version":1,"popups":[1]})"})
    BOOST_TEST(!decode_config(bad).ok(), bad);
  BOOST_TEST(decode_config(R"({"version":1,"popups":[]})").ok());
}

BOOST_AUTO_TEST_SUITE_END()

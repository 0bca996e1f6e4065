#define BOOST_TEST_DYN_LINK
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "core/event.h"

using namespace popup;

namespace {
Event sample() {
  Event e;
  e.id = "0123456789abcdef000000000000000f";
  e.uid = "alice";
  e.popup_id = 7;
  e.kind = LastAction::ignore;
  e.ts = 1700000000;
  e.order = 1700000000123456;
  e.state = UserState{1700001200, 2, LastAction::ignore, 1700000000, 1700000000123456};
  return e;
}

// The sample's encoding with one member replaced or removed.
boost::json::object sample_object() {
  return boost::json::parse(encode_event(sample())).as_object();
}
std::string with(const char* key, boost::json::value value) {
  auto o = sample_object();
  o[key] = std::move(value);
  return boost::json::serialize(o);
}
std::string without(const char* key) {
  auto o = sample_object();
  o.erase(key);
  return boost::json::serialize(o);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(events)

BOOST_AUTO_TEST_CASE(event_id_is_two_zero_padded_lower_hex_words) {
  BOOST_TEST(format_event_id(0x0123456789abcdefULL, 0xfULL) == "0123456789abcdef000000000000000f");
  BOOST_TEST(format_event_id(0, 0) == std::string(32, '0'));
  BOOST_TEST(format_event_id(UINT64_MAX, 1) == "ffffffffffffffff0000000000000001");
  BOOST_TEST(format_event_id(0xABCDEFULL, 0).size() == 32u);
}

BOOST_AUTO_TEST_CASE(encoding_is_the_documented_object) {
  BOOST_TEST(encode_event(sample()) ==
             R"({"id":"0123456789abcdef000000000000000f","uid":"alice","popup_id":7,)"
             R"("kind":"ignore","ts":1700000000,"order":1700000000123456,)"
             R"("next_show_at":1700001200,"impressions":2,"last_action":"ignore"})");
}

BOOST_AUTO_TEST_CASE(round_trip_keeps_every_field) {
  Event e = sample();
  auto back = decode_event(encode_event(e));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back.value() == e));
}

BOOST_AUTO_TEST_CASE(round_trip_of_a_never_again_click) {
  Event e = sample();
  e.kind = LastAction::click;
  e.state = UserState{kNever, 0, LastAction::click, e.ts, e.order};
  BOOST_TEST(encode_event(e).find("\"next_show_at\":-1") != std::string::npos);
  auto back = decode_event(encode_event(e));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((back.value() == e));
}

BOOST_AUTO_TEST_CASE(decoded_state_is_stamped_with_ts) {
  auto back = decode_event(with("ts", boost::json::value(1234)));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back.value().ts == 1234);
  BOOST_TEST(back.value().state.updated_at == 1234);
}

BOOST_AUTO_TEST_CASE(member_order_does_not_matter) {
  auto back = decode_event(
      R"({"last_action":"show","impressions":1,"next_show_at":60,"order":5,"ts":0,)"
      R"("kind":"show","popup_id":1,"uid":"u","id":"ffffffffffffffffffffffffffffffff"})");
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back.value().state.next_show_at == 60);
  BOOST_TEST(back.value().uid == "u");
}

BOOST_AUTO_TEST_CASE(text_that_is_not_an_event_object_is_refused) {
  for (const char* bad : {"", "{", "[]", "null", "7", "\"event\"", "{}"}) {
    auto r = decode_event(bad);
    BOOST_TEST(!r.ok(), bad);
    if (!r.ok()) BOOST_TEST(r.error().code == "bad_request");
  }
  BOOST_TEST(!decode_event(encode_event(sample()) + " x").ok());
}

BOOST_AUTO_TEST_CASE(every_field_is_required) {
  for (const char* key : {"id", "uid", "popup_id", "kind", "ts", "order", "next_show_at",
                          "impressions", "last_action"})
    BOOST_TEST(!decode_event(without(key)).ok(), key);
  BOOST_TEST(decode_event(boost::json::serialize(sample_object())).ok());
}

BOOST_AUTO_TEST_CASE(invalid_ids_are_refused) {
  for (const char* id : {"", "0123456789abcdef000000000000000", "0123456789abcdef000000000000000f0",
                         "0123456789ABCDEF000000000000000F", "0123456789abcdeg000000000000000f",
                         "0123456789abcdef-00000000000000f"})
    BOOST_TEST(!decode_event(with("id", boost::json::value(id))).ok(), id);
  BOOST_TEST(!decode_event(with("id", boost::json::value(12345))).ok());
}

BOOST_AUTO_TEST_CASE(invalid_uids_are_refused) {
  for (const std::string& uid : {std::string(""), std::string("a b"), std::string(65, 'u'),
                                 std::string("a\"b")})
    BOOST_TEST(!decode_event(with("uid", boost::json::value(uid))).ok(), uid);
  BOOST_TEST(decode_event(with("uid", boost::json::value(std::string(64, 'u')))).ok());
  BOOST_TEST(!decode_event(with("uid", boost::json::value(7))).ok());
}

BOOST_AUTO_TEST_CASE(integers_must_be_integers_in_range) {
  using boost::json::value;
  struct Case {
    const char* key;
    value v;
  };
  for (const auto& c : {Case{"popup_id", value(0)}, Case{"popup_id", value(-1)},
                        Case{"popup_id", value("7")}, Case{"popup_id", value(7.0)},
                        Case{"popup_id", value(true)}, Case{"popup_id", value(nullptr)},
                        Case{"ts", value(1.5)}, Case{"ts", value("1700000000")},
                        Case{"ts", value(-1)}, Case{"order", value(1e3)},
                        Case{"order", value(UINT64_MAX)}, Case{"next_show_at", value(-2)},
                        Case{"next_show_at", value(1.0)}, Case{"impressions", value(-1)},
                        Case{"impressions", value("2")}})
    BOOST_TEST(!decode_event(with(c.key, c.v)).ok(), c.key << "=" << c.v);
}

BOOST_AUTO_TEST_CASE(kinds_and_actions_must_be_known_names) {
  using boost::json::value;
  BOOST_TEST(!decode_event(with("kind", value("like"))).ok());
  BOOST_TEST(!decode_event(with("kind", value("Show"))).ok());
  BOOST_TEST(!decode_event(with("kind", value(1))).ok());
  BOOST_TEST(!decode_event(with("last_action", value("never"))).ok());
  BOOST_TEST(!decode_event(with("last_action", value(nullptr))).ok());
  for (const char* k : {"show", "ignore", "click"}) {
    auto r = decode_event(with("kind", value(k)));
    BOOST_REQUIRE(r.ok());
    BOOST_TEST((r.value().kind == *parse_last_action(k)));
  }
}

BOOST_AUTO_TEST_SUITE_END()

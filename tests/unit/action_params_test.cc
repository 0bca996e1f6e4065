// The action's parameters (core/params.h): form, JSON and text/plain
// bodies, their fields, the uid and the idempotency key; the visit's
// parameters and the shared parsers are in params_test.cc.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/params.h"
#include "tests/unit/refusal.h"

using namespace popup;

namespace {
const char* kJson = "application/json";
const char* kForm = "application/x-www-form-urlencoded";

}  // namespace

BOOST_AUTO_TEST_SUITE(params)

BOOST_AUTO_TEST_CASE(action_from_a_form) {
  auto f = parse_action_body(kForm, "uid=a&popup_id=7&action=click&extra=1");
  BOOST_REQUIRE(f.ok());
  BOOST_TEST(f.value().uid == "a");
  BOOST_TEST(f.value().popup_id == 7);
  BOOST_TEST((f.value().action == Action::click));
  auto g = parse_action_body(kForm, "action=ignore&popup_id=2147483647&uid=x%2Ey");
  BOOST_REQUIRE(g.ok());
  BOOST_TEST(g.value().uid == "x.y");
  BOOST_TEST(g.value().popup_id == 2147483647);
  BOOST_TEST((g.value().action == Action::ignore));
}

BOOST_AUTO_TEST_CASE(action_from_json) {
  auto j = parse_action_body(kJson, R"({"uid":"a","popup_id":9,"action":"ignore","x":[1]})");
  BOOST_REQUIRE(j.ok());
  BOOST_TEST(j.value().uid == "a");
  BOOST_TEST(j.value().popup_id == 9);
  BOOST_TEST((j.value().action == Action::ignore));
  auto max = parse_action_body(kJson, R"( {"action":"click","popup_id":2147483647,"uid":"b"} )");
  BOOST_REQUIRE(max.ok());
  BOOST_TEST(max.value().popup_id == 2147483647);
}

BOOST_AUTO_TEST_CASE(content_type_is_case_insensitive_and_parameters_are_ignored) {
  const char* form_body = "uid=a&popup_id=1&action=click";
  const char* json_body = R"({"uid":"a","popup_id":1,"action":"click"})";
  for (const char* ct : {"application/json", "Application/JSON; charset=utf-8",
                         "application/json;charset=UTF-8", " application/json "})
    BOOST_TEST(parse_action_body(ct, json_body).ok(), ct);
  for (const char* ct : {"application/x-www-form-urlencoded", "APPLICATION/X-WWW-FORM-URLENCODED",
                         "application/x-www-form-urlencoded; charset=utf-8"})
    BOOST_TEST(parse_action_body(ct, form_body).ok(), ct);
  BOOST_TEST(!parse_action_body(kJson, form_body).ok());  // the type decides the parser
  BOOST_TEST(!parse_action_body(kForm, json_body).ok());
}

BOOST_AUTO_TEST_CASE(text_plain_bodies_hold_either_encoding_for_send_beacon) {
  // navigator.sendBeacon(url, string) sends text/plain;charset=UTF-8.
  auto form = parse_action_request({"text/plain;charset=UTF-8",
                                    "uid=a&popup_id=3&action=ignore&action_id=k-1", "", ""});
  BOOST_REQUIRE(form.ok());
  BOOST_TEST(form.value().uid == "a");
  BOOST_TEST(form.value().popup_id == 3);
  BOOST_TEST((form.value().action == Action::ignore));
  BOOST_TEST(form.value().key == "k-1");
  auto json = parse_action_request(
      {"Text/Plain", " \n{\"popup_id\":4,\"action\":\"click\",\"action_id\":\"k2\"}", "uid=b", ""});
  BOOST_REQUIRE(json.ok());
  BOOST_TEST(json.value().uid == "b");
  BOOST_TEST(json.value().popup_id == 4);
  BOOST_TEST((json.value().action == Action::click));
  // The same checks as the declared encodings: a broken JSON object or a
  // form with a missing field is refused, not guessed around.
  BOOST_TEST(!parse_action_body("text/plain", "{\"uid\":\"a\",\"popup_id\":1").ok());
  BOOST_TEST(!parse_action_body("text/plain", "uid=a&action=click").ok());
  BOOST_TEST(!parse_action_body("text/plain", "").ok());
}

BOOST_AUTO_TEST_CASE(unsupported_content_types_are_refused) {
  for (const char* ct : {"", "text/csv", "text/plainx", "application/jsonp", "text/json", "multipart/form-data",
                         "application/x-www-form-urlencodedx", "application", ";application/json"}) {
    std::string why = refusal(parse_action_body(ct, "uid=a&popup_id=1&action=click"));
    BOOST_TEST(why.find("Content-Type") != std::string::npos, ct << " -> " << why);
  }
}

BOOST_AUTO_TEST_CASE(missing_fields_are_named) {
  struct Case {
    const char* type;
    const char* body;
    const char* message;
  };
  for (auto c : {Case{kForm, "popup_id=1&action=click", "uid is required"},
                 Case{kForm, "uid=a&action=click", "popup_id is required"},
                 Case{kForm, "uid=a&popup_id=1", "action is required"},
                 Case{kForm, "", "popup_id is required"},
                 Case{kJson, R"({"popup_id":1,"action":"click"})", "uid is required"},
                 Case{kJson, R"({"uid":"a","action":"click"})", "popup_id is required"},
                 Case{kJson, R"({"uid":"a","popup_id":1})", "action is required"},
                 Case{kJson, "{}", "popup_id is required"}}) {
    BOOST_TEST(refusal(parse_action_body(c.type, c.body)) == c.message, c.body);
  }
}

BOOST_AUTO_TEST_CASE(unknown_action_is_refused) {
  for (const char* body : {"uid=a&popup_id=1&action=like", "uid=a&popup_id=1&action=Click",
                           "uid=a&popup_id=1&action=show", "uid=a&popup_id=1&action="})
    BOOST_TEST(refusal(parse_action_body(kForm, body)) == "action must be click or ignore", body);
  BOOST_TEST(refusal(parse_action_body(kJson, R"({"uid":"a","popup_id":1,"action":"show"})")) ==
             "action must be click or ignore");
}

BOOST_AUTO_TEST_CASE(json_body_must_be_valid_json) {
  for (const char* body : {"", "{not json", "{\"uid\":\"a\"", "{} x", "{\"uid\":\"a\",}",
                           "{'uid':'a'}", "\xff"}) {
    std::string why = refusal(parse_action_body(kJson, body));
    BOOST_TEST(why.find("JSON") != std::string::npos, body << " -> " << why);
  }
  std::string deep(10000, '[');
  BOOST_TEST(!parse_action_body(kJson, deep).ok());
}

BOOST_AUTO_TEST_CASE(json_body_must_be_an_object) {
  for (const char* body : {"[1]", "\"s\"", "7", "null", "true", R"([{"uid":"a"}])"}) {
    BOOST_TEST(refusal(parse_action_body(kJson, body)) == "body must be a JSON object", body);
  }
}

BOOST_AUTO_TEST_CASE(json_fields_of_the_wrong_type_are_refused) {
  struct Case {
    const char* body;
    const char* field;
  };
  for (auto c : {Case{R"({"uid":7,"popup_id":7,"action":"click"})", "uid"},
                 Case{R"({"uid":null,"popup_id":7,"action":"click"})", "uid"},
                 Case{R"({"uid":["a"],"popup_id":7,"action":"click"})", "uid"},
                 Case{R"({"uid":"a","popup_id":"7","action":"click"})", "popup_id"},
                 Case{R"({"uid":"a","popup_id":1.5,"action":"click"})", "popup_id"},
                 Case{R"({"uid":"a","popup_id":7.0,"action":"click"})", "popup_id"},
                 Case{R"({"uid":"a","popup_id":1e2,"action":"click"})", "popup_id"},
                 Case{R"({"uid":"a","popup_id":true,"action":"click"})", "popup_id"},
                 Case{R"({"uid":"a","popup_id":null,"action":"click"})", "popup_id"},
                 Case{R"({"uid":"a","popup_id":-1,"action":"click"})", "popup_id"},
                 Case{R"({"uid":"a","popup_id":0,"action":"click"})", "popup_id"},
                 Case{R"({"uid":"a","popup_id":2147483648,"action":"click"})", "popup_id"},
                 Case{R"({"uid":"a","popup_id":18446744073709551615,"action":"click"})", "popup_id"},
                 Case{R"({"uid":"a","popup_id":7,"action":1})", "action"},
                 Case{R"({"uid":"a","popup_id":7,"action":null})", "action"},
                 Case{R"({"uid":"a","popup_id":7,"action":{"click":1}})", "action"}}) {
    std::string why = refusal(parse_action_body(kJson, c.body));
    BOOST_TEST(why.find(c.field) != std::string::npos, c.body << " -> " << why);
  }
}

BOOST_AUTO_TEST_CASE(uid_in_an_action_must_be_valid) {
  const std::string too_long(65, 'u');
  for (const std::string& body :
       {std::string(R"({"uid":"a b","popup_id":7,"action":"click"})"),
        std::string(R"({"uid":"","popup_id":7,"action":"click"})"),
        std::string(R"({"uid":"\u00e9","popup_id":7,"action":"click"})"),
        R"({"uid":")" + too_long + R"(","popup_id":7,"action":"click"})"}) {
    BOOST_TEST(refusal(parse_action_body(kJson, body)) ==
                   "uid must be 1-64 characters of [A-Za-z0-9._-]",
               body);
  }
  BOOST_TEST(!parse_action_body(kForm, "uid=a%2Fb&popup_id=7&action=click").ok());
  BOOST_TEST(!parse_action_body(kForm, "uid=" + too_long + "&popup_id=7&action=click").ok());
  BOOST_TEST(parse_action_body(kForm, "uid=" + std::string(64, 'u') + "&popup_id=7&action=click").ok());
}

BOOST_AUTO_TEST_CASE(form_popup_id_is_1_to_10_digits_up_to_int32_max) {
  for (const char* id : {"1", "42", "0000000001", "2147483647"}) {
    auto r = parse_action_body(kForm, std::string("uid=a&action=click&popup_id=") + id);
    BOOST_TEST(r.ok(), id);
  }
  for (const char* id : {"", "0", "-1", "+7", " 7", "7 ", "7a", "0x1F", "1.0", "2147483648",
                         "4294967297", "9999999999", "00000000001", "%37%00"}) {
    std::string why = refusal(parse_action_body(kForm, std::string("uid=a&action=click&popup_id=") + id));
    BOOST_TEST(why.find("popup_id") != std::string::npos, id << " -> " << why);
  }
}

BOOST_AUTO_TEST_CASE(form_fields_given_twice_are_refused) {
  for (const char* body : {"uid=a&popup_id=1&popup_id=2&action=click",
                           "uid=a&uid=b&popup_id=1&action=click",
                           "uid=a&popup_id=1&action=click&action=click"})
    BOOST_TEST(refusal(parse_action_body(kForm, body)).find("more than once") != std::string::npos,
               body);
}

BOOST_AUTO_TEST_CASE(form_with_a_malformed_escape_is_refused_as_an_action) {
  BOOST_TEST(!parse_action_body(kForm, "uid=a&popup_id=1&action=%zz").ok());
  BOOST_TEST(!parse_action_body(kForm, "uid=a%&popup_id=1&action=click").ok());
}

BOOST_AUTO_TEST_CASE(action_uid_may_come_from_the_query_string) {
  auto both = parse_action_request({kForm, "uid=a&popup_id=1&action=click", "uid=a&x=1", ""});
  BOOST_REQUIRE(both.ok());
  BOOST_TEST(both.value().uid == "a");
  auto query_only = parse_action_request({kJson, R"({"popup_id":1,"action":"click"})", "uid=q", ""});
  BOOST_REQUIRE(query_only.ok());
  BOOST_TEST(query_only.value().uid == "q");
  BOOST_TEST(refusal(parse_action_request({kForm, "uid=a&popup_id=1&action=click", "uid=b", ""})) ==
             "uid in the query string and uid in the body differ");
  BOOST_TEST(refusal(parse_action_request({kForm, "popup_id=1&action=click", "uid=a%20b", ""})) ==
             "uid must be 1-64 characters of [A-Za-z0-9._-]");
  BOOST_TEST(refusal(parse_action_request({kForm, "popup_id=1&action=click", "uid=a&uid=a", ""}))
                 .find("more than once") != std::string::npos);
  BOOST_TEST(refusal(parse_action_request({kForm, "popup_id=1&action=click", "x=1", ""})) ==
             "uid is required");
}

BOOST_AUTO_TEST_CASE(idempotency_key_from_the_field_or_the_header) {
  auto none = parse_action_body(kForm, "uid=a&popup_id=1&action=click");
  BOOST_REQUIRE(none.ok());
  BOOST_TEST(none.value().key == "");
  auto form = parse_action_body(kForm, "uid=a&popup_id=1&action=click&action_id=k-1");
  BOOST_REQUIRE(form.ok());
  BOOST_TEST(form.value().key == "k-1");
  auto json = parse_action_body(kJson, R"({"uid":"a","popup_id":1,"action":"click","action_id":"K.2"})");
  BOOST_REQUIRE(json.ok());
  BOOST_TEST(json.value().key == "K.2");
  auto header = parse_action_request({kForm, "uid=a&popup_id=1&action=click", "", "h_3"});
  BOOST_REQUIRE(header.ok());
  BOOST_TEST(header.value().key == "h_3");
  auto same = parse_action_request({kForm, "uid=a&popup_id=1&action=click&action_id=k", "", "k"});
  BOOST_REQUIRE(same.ok());
  BOOST_TEST(same.value().key == "k");
}

BOOST_AUTO_TEST_CASE(bad_idempotency_keys_are_refused) {
  BOOST_TEST(refusal(parse_action_request({kForm, "uid=a&popup_id=1&action=click&action_id=k", "", "j"})) ==
             "Idempotency-Key and action_id differ");
  for (const char* key : {"a b", "a/b", "\xc3\xa9"})
    BOOST_TEST(refusal(parse_action_request({kForm, "uid=a&popup_id=1&action=click", "", key})) ==
                   "Idempotency-Key must be 1-64 characters of [A-Za-z0-9._-]",
               key);
  BOOST_TEST(refusal(parse_action_request({kForm, "uid=a&popup_id=1&action=click", "", std::string(65, 'k')})) ==
             "Idempotency-Key must be 1-64 characters of [A-Za-z0-9._-]");
  for (const char* body : {"uid=a&popup_id=1&action=click&action_id=",
                           "uid=a&popup_id=1&action=click&action_id=a%2Fb"})
    BOOST_TEST(refusal(parse_action_body(kForm, body)) ==
                   "action_id must be 1-64 characters of [A-Za-z0-9._-]",
               body);
  BOOST_TEST(refusal(parse_action_body(kForm, "uid=a&popup_id=1&action=click&action_id=k&action_id=k"))
                 .find("more than once") != std::string::npos);
  BOOST_TEST(refusal(parse_action_body(kJson, R"({"uid":"a","popup_id":1,"action":"click","action_id":7})")) ==
             "action_id must be a string");
}

BOOST_AUTO_TEST_CASE(json_keys_given_twice_are_refused_like_form_fields) {
  for (const char* body : {R"({"popup_id":1,"popup_id":999999,"uid":"a","action":"click"})",
                           R"({"uid":"a","popup_id":1,"action":"click","action":"ignore"})",
                           R"({"uid":"a","popup_id":1,"action":"click","\u0075id":"b"})",
                           R"({"uid":"a","popup_id":1,"action":"click","x":1,"x":2})"})
    BOOST_TEST(refusal(parse_action_body(kJson, body)).find("more than once") != std::string::npos, body);
  // Keys of nested objects and string values that look like keys are not
  // the top-level object's keys.
  auto nested = parse_action_body(
      kJson, R"({"uid":"a","popup_id":1,"action":"click","x":{"uid":1,"uid":2},"y":"uid","z":["uid"]})");
  BOOST_TEST(nested.ok(), refusal(nested));
  auto escaped = parse_action_body(kJson, R"({"uid":"a\"b\\","popup_id":1,"action":"click"})");
  BOOST_TEST(refusal(escaped) == "uid must be 1-64 characters of [A-Za-z0-9._-]");
}

BOOST_AUTO_TEST_SUITE_END()

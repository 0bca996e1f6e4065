// The visit's parameters and the shared parsers (core/params.h); the
// action's body and fields are in action_params_test.cc.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/params.h"
#include "tests/unit/refusal.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(params)

BOOST_AUTO_TEST_CASE(uid_is_1_to_64_of_the_allowed_characters) {
  BOOST_TEST(valid_uid("a"));
  BOOST_TEST(valid_uid("Alice.B_c-9"));
  BOOST_TEST(valid_uid(std::string(64, 'x')));
  BOOST_TEST(!valid_uid(""));
  BOOST_TEST(!valid_uid(std::string(65, 'x')));
  for (const char* bad : {"a b", "a/b", "a:b", "\xc3\xa9", "a\"", "a%20", "a+b", "a\n", "a,b"})
    BOOST_TEST(!valid_uid(bad), bad);
  BOOST_TEST(!valid_uid(std::string_view("a\0b", 3)));
}

BOOST_AUTO_TEST_CASE(url_decoding_of_escapes_and_plus) {
  BOOST_TEST(*url_decode("a%20b+c") == "a b c");
  BOOST_TEST(*url_decode("%41%7a%7A") == "Azz");
  BOOST_TEST(*url_decode("%2B") == "+");
  BOOST_TEST(*url_decode("%25") == "%");
  BOOST_TEST(*url_decode("%C3%A9") == "\xc3\xa9");
  BOOST_TEST(*url_decode("") == "");
  BOOST_TEST(*url_decode("%00") == std::string(1, '\0'));
}

BOOST_AUTO_TEST_CASE(malformed_escapes_are_refused) {
  for (const char* bad : {"%", "%4", "%G1", "%1G", "a%2", "%%41", "abc%", "% 1", "%-1"})
    BOOST_TEST(!url_decode(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(form_pairs_are_split_and_decoded) {
  auto r = parse_form("a=1&&b=x%20y&flag&=v&c=");
  BOOST_REQUIRE(r.ok());
  Pairs want{{"a", "1"}, {"b", "x y"}, {"flag", ""}, {"", "v"}, {"c", ""}};
  BOOST_TEST((r.value() == want));
  BOOST_TEST(parse_form("").value().empty());
  BOOST_TEST(parse_form("&&&").value().empty());
  auto eq = parse_form("k=a=b");
  BOOST_REQUIRE(eq.ok());
  BOOST_TEST(eq.value()[0].second == "a=b");
  auto encoded_key = parse_form("u%69d=bob");
  BOOST_REQUIRE(encoded_key.ok());
  BOOST_TEST(encoded_key.value()[0].first == "uid");
}

BOOST_AUTO_TEST_CASE(form_with_a_malformed_escape_is_refused) {
  BOOST_TEST(refusal(parse_form("a=%zz")).find("escape") != std::string::npos);
  BOOST_TEST(!parse_form("%z=1").ok());
  BOOST_TEST(!parse_form("a=1&b=%").ok());
}

BOOST_AUTO_TEST_CASE(visit_defaults_to_web_without_version_or_lang) {
  auto v = parse_visit("uid=bob");
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v.value().uid == "bob");
  BOOST_TEST((v.value().platform == Platform::web));
  BOOST_TEST(!v.value().version.has_value());
  BOOST_TEST(!v.value().lang.has_value());
}

BOOST_AUTO_TEST_CASE(visit_fields_in_any_order_and_unknown_ones_ignored) {
  auto w = parse_visit("lang=DE-at&platform=ios&version=1.10&uid=bob&utm=x&utm=y&_=123");
  BOOST_REQUIRE(w.ok());
  BOOST_TEST(w.value().uid == "bob");
  BOOST_TEST((w.value().platform == Platform::ios));
  BOOST_TEST(*w.value().lang == "de-at");
  BOOST_TEST(w.value().version->parts[0] == 1u);
  BOOST_TEST(w.value().version->parts[1] == 10u);
  BOOST_TEST((parse_visit("uid=a&platform=android").value().platform == Platform::android));
  BOOST_TEST((parse_visit("uid=a&platform=web").value().platform == Platform::web));
}

BOOST_AUTO_TEST_CASE(visit_values_are_url_decoded) {
  auto v = parse_visit("uid=a%2Eb&lang=e%6E");
  BOOST_REQUIRE(v.ok());
  BOOST_TEST(v.value().uid == "a.b");
  BOOST_TEST(*v.value().lang == "en");
}

BOOST_AUTO_TEST_CASE(uid_limits_in_a_visit) {
  BOOST_TEST(parse_visit("uid=" + std::string(64, 'a')).ok());
  BOOST_TEST(refusal(parse_visit("uid=" + std::string(65, 'a'))) ==
             "uid must be 1-64 characters of [A-Za-z0-9._-]");
  BOOST_TEST(refusal(parse_visit("")) == "uid is required");
  BOOST_TEST(refusal(parse_visit("platform=ios")) == "uid is required");
  BOOST_TEST(refusal(parse_visit("uid=")) == "uid must be 1-64 characters of [A-Za-z0-9._-]");
}

BOOST_AUTO_TEST_CASE(lang_is_1_to_35_tag_characters) {
  BOOST_TEST(parse_visit("uid=a&lang=" + std::string(35, 'x')).ok());
  BOOST_TEST(!parse_visit("uid=a&lang=" + std::string(36, 'x')).ok());
  BOOST_TEST(parse_visit("uid=a&lang=zh_Hant-TW").ok());
}

BOOST_AUTO_TEST_CASE(bad_visits_are_bad_requests_naming_the_field) {
  struct Case {
    const char* q;
    const char* field;
  };
  for (auto c : {Case{"", "uid"}, Case{"uid=", "uid"}, Case{"uid=a%20b", "uid"},
                 Case{"uid=a+b", "uid"}, Case{"uid=a%00", "uid"}, Case{"uid=a&uid=b", "uid"},
                 Case{"uid=a&uid=a", "uid"}, Case{"uid=a&platform=tv", "platform"},
                 Case{"uid=a&platform=", "platform"}, Case{"uid=a&platform=IOS", "platform"},
                 Case{"uid=a&platform=web&platform=ios", "platform"},
                 Case{"uid=a&version=1.x", "version"}, Case{"uid=a&version=", "version"},
                 Case{"uid=a&version=1.2.3.4.5", "version"}, Case{"uid=a&version=-1", "version"},
                 Case{"uid=a&version=1&version=2", "version"}, Case{"uid=a&lang=", "lang"},
                 Case{"uid=a&lang=e%20n", "lang"}, Case{"uid=a&lang=en.US", "lang"},
                 Case{"uid=a&lang=de&lang=fr", "lang"}, Case{"uid=%zz", "escape"},
                 Case{"uid=a&x=%", "escape"}}) {
    std::string why = refusal(parse_visit(c.q));
    BOOST_TEST(why.find(c.field) != std::string::npos, c.q << " -> " << why);
  }
}

BOOST_AUTO_TEST_CASE(duplicate_parameter_is_named_in_the_message) {
  BOOST_TEST(refusal(parse_visit("uid=a&uid=b")).find("more than once") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(printable_keeps_ascii_and_masks_every_other_byte) {
  BOOST_TEST(printable("/api/x", 200) == "/api/x");
  BOOST_TEST(printable("/api/\xff\xfe\n", 200) == "/api/???");
  BOOST_TEST(printable("\xc3\xa9t\xc3\xa9", 200) == "??t??");
  BOOST_TEST(printable(std::string(300, 'a'), 200).size() == 200u);
}

BOOST_AUTO_TEST_CASE(request_path_from_any_fastcgi_server) {
  // nginx
  BOOST_TEST(request_path("/api/popup/action", "/api/popup/action", "", "/api/popup/action?x") ==
             "/api/popup/action");
  // lighttpd mod_fastcgi with the prefix /api/popup
  BOOST_TEST(request_path("", "/api/popup", "/action", "/api/popup/action") == "/api/popup/action");
  BOOST_TEST(request_path("", "/api/popup", "", "/api/popup?uid=a") == "/api/popup");
  // REQUEST_URI alone (cgi-fcgi by hand): without the query, %-decoded
  BOOST_TEST(request_path("", "", "", "/api/popup?uid=a") == "/api/popup");
  BOOST_TEST(request_path("", "", "", "/api/%70opup") == "/api/popup");
  BOOST_TEST(request_path("", "", "", "/api/%zz") == "/api/%zz");
  BOOST_TEST(request_path("", "", "", "") == "");
}

BOOST_AUTO_TEST_CASE(routed_to_owner_trusts_the_key_nginx_hashed_when_it_is_sent) {
  BOOST_TEST(routed_to_owner("", "alice", "alice"));                // the body's uid, hashed
  BOOST_TEST(!routed_to_owner("uid=alice", "0f3a9c", "alice"));     // hashed on something else
  BOOST_TEST(!routed_to_owner("", "alice", "bob"));                 // nginx found another uid
  BOOST_TEST(routed_to_owner("uid=alice", "", "alice"));            // no parameter: the query
  BOOST_TEST(!routed_to_owner("", "", "alice"));
}

BOOST_AUTO_TEST_CASE(routed_by_uid_compares_the_raw_first_uid) {
  BOOST_TEST(routed_by_uid("uid=alice&platform=ios", "alice"));
  BOOST_TEST(routed_by_uid("platform=ios&uid=alice", "alice"));
  BOOST_TEST(!routed_by_uid("uid=%61lice", "alice"));  // nginx hashes the escaped text
  BOOST_TEST(!routed_by_uid("platform=ios", "alice"));
  BOOST_TEST(!routed_by_uid("", "alice"));
  BOOST_TEST(!routed_by_uid("uid=bob", "alice"));
  BOOST_TEST(!routed_by_uid("xuid=alice", "alice"));
  BOOST_TEST(!routed_by_uid("uid=alice2", "alice"));
}

BOOST_AUTO_TEST_CASE(find_params_answers_as_fcgx_getparam_in_one_pass) {
  const char* env[] = {"REQUEST_METHOD=GET", "QUERY_STRING=uid=a&x=1", "EMPTY=", "NOEQUALS",
                       "QUERY=short", "QUERY_STRING=second", "HTTP_X=a=b", nullptr};
  const std::string_view names[] = {"QUERY_STRING", "REQUEST_METHOD", "EMPTY", "NOEQUALS",
                                    "MISSING", "HTTP_X", "QUERY"};
  std::string_view out[7] = {"stale", "stale", "stale", "stale", "stale", "stale", "stale"};
  find_params(env, names, 7, out);
  BOOST_TEST(out[0] == "uid=a&x=1");  // the first of a repeated name
  BOOST_TEST(out[1] == "GET");
  BOOST_TEST(out[2] == "");
  BOOST_TEST(out[3] == "");  // no '=': not a parameter
  BOOST_TEST(out[4] == "");
  BOOST_TEST(out[5] == "a=b");  // the value runs from the first '='
  BOOST_TEST(out[6] == "short");  // a prefix of another name is its own name
  find_params(nullptr, names, 7, out);
  for (std::string_view v : out) BOOST_TEST(v.empty());
}

BOOST_AUTO_TEST_SUITE_END()

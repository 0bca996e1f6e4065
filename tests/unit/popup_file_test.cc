#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/popup_diff.h"
#include "core/popup_file.h"
#include "core/version.h"

using namespace popup;

namespace {
ParsedPopups parse(const std::string& text, const std::string& name = "f.json") {
  return parse_popup_files({{name, text}});
}
// Without the content rules: for tests about types, defaults and diffs.
ParsedPopups parse_stored(const std::string& text) {
  return parse_popup_files({{"f.json", text}}, PopupChecks::stored);
}
// One popup with a title and a body and `more` fields ("" or ,"k":v...).
ParsedPopups one(const std::string& more) {
  return parse(R"({"popups":[{"id":1,"name":"n","title":"t","body":"b")" + more + "}]}");
}
std::string first_error(const ParsedPopups& p) { return p.errors.empty() ? "" : p.errors[0]; }
bool has_error(const ParsedPopups& p, const std::string& needle) {
  for (const auto& e : p.errors)
    if (e.find(needle) != std::string::npos) return true;
  return false;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(popup_file)

BOOST_AUTO_TEST_CASE(absent_fields_take_the_table_defaults) {
  auto r = parse_stored(R"({"popups":[{"id":7,"name":"n"}]})");
  BOOST_TEST(r.errors.empty());
  const Popup& p = r.popups.at(0);
  BOOST_TEST(p.id == 7);
  BOOST_TEST(p.enabled);
  BOOST_TEST(p.rollout_percent == 100);
  BOOST_TEST(!p.click_cooldown_s.has_value());
  BOOST_TEST(!p.starts_at.has_value());
  BOOST_TEST(p.platforms.empty());
}

BOOST_AUTO_TEST_CASE(every_field_is_read_with_times_lists_and_versions) {
  auto r = parse(R"({"popups":[{"id":1,"name":"n","priority":-3,"enabled":false,
    "starts_at":"2027-01-15T09:00:00+01:00","ends_at":null,"platforms":["ios","web"],
    "min_version":"1.2","max_version":"2","langs":["DE","pt-br"],"rollout_percent":0,
    "max_impressions":0,"show_cooldown_s":1,"ignore_cooldown_s":2,"click_cooldown_s":3,
    "title":"t","body":"b","image_url":"i","link_url":"l"}]})");
  BOOST_TEST(r.errors.empty());
  const Popup& p = r.popups.at(0);
  BOOST_TEST(p.priority == -3);
  BOOST_TEST(!p.enabled);
  BOOST_TEST(*p.starts_at == 1800000000);
  BOOST_TEST((p.platforms == std::vector<Platform>{Platform::ios, Platform::web}));
  BOOST_TEST(format_version(*p.min_version) == "1.2");
  BOOST_TEST((p.langs == std::vector<std::string>{"de", "pt-br"}));
  BOOST_TEST(*p.max_impressions == 0);
  BOOST_TEST(*p.click_cooldown_s == 3);
}

BOOST_AUTO_TEST_CASE(every_problem_is_reported_with_file_popup_and_field) {
  auto r = parse(R"({"popups":[{"id":3,"name":"","rollout_percent":101,"platforms":["tv"],
    "langs":["a,b"],"show_cooldown_s":-1,"starts_at":"2027-01-15","max_version":"x","oops":1},
    {"name":"no id"},
    {"id":4,"name":"n","starts_at":"2027-01-02T00:00:00Z","ends_at":"2027-01-01T00:00:00Z",
     "min_version":"3","max_version":"2","enabled":"yes","title":5}, 17]})", "a.json");
  BOOST_TEST(r.popups.empty());
  for (const char* e : {"a.json: popup 3 (#1): name: must not be empty",
                        "a.json: popup 3 (#1): rollout_percent: must be an integer from 0 to 100",
                        "a.json: popup 3 (#1): platforms: unknown platform \"tv\"",
                        "a.json: popup 3 (#1): langs: \"a,b\" is not a language code",
                        "a.json: popup 3 (#1): show_cooldown_s: must be an integer from 0",
                        "a.json: popup 3 (#1): starts_at: must be an ISO-8601 time",
                        "a.json: popup 3 (#1): max_version: must be a dotted version",
                        "a.json: popup 3 (#1): oops: is not a popup field",
                        "a.json: popup ? (#2): id: is required",
                        "a.json: popup 4 (#3): ends_at: must be after starts_at",
                        "a.json: popup 4 (#3): max_version: must not be below min_version",
                        "a.json: popup 4 (#3): enabled: must be true or false",
                        "a.json: popup 4 (#3): title: must be a string",
                        "a.json: popup #4: must be an object"})
    BOOST_TEST(has_error(r, e), e);
}

BOOST_AUTO_TEST_CASE(file_level_problems_and_ids_across_files) {
  BOOST_TEST(has_error(parse("{"), "f.json: not valid JSON"));
  BOOST_TEST(has_error(parse("[]"), "must be an object {\"popups\": [...]}"));
  BOOST_TEST(has_error(parse(R"({"popups":[],"extra":1})"), "extra: is not a file field"));
  auto r = parse_popup_files({{"a", R"({"popups":[{"id":1,"name":"x"}]})"},
                              {"b", R"({"popups":[{"id":1,"name":"y"}]})"}}, PopupChecks::stored);
  BOOST_TEST(has_error(r, "popup 1: id: given more than once"));
}

BOOST_AUTO_TEST_CASE(lengths_count_characters_not_bytes) {
  std::string name200;
  for (int i = 0; i < 200; ++i) name200 += "\xC3\xA9";
  BOOST_TEST(parse_stored(R"({"popups":[{"id":1,"name":")" + name200 + R"("}]})").errors.empty());
  BOOST_TEST(has_error(parse_stored(R"({"popups":[{"id":1,"name":")" + name200 + R"(x"}]})"),
                       "name: must be at most 200 characters"));
  std::string body(30000, 'x');
  for (int i = 0; i < 20000; ++i) body += "\xC3\xA9";  // 50,000 characters, 70,000 bytes
  BOOST_TEST(has_error(parse_stored(R"({"popups":[{"id":1,"name":"n","body":")" + body + R"("}]})"),
                       "body: must be at most 65535 bytes"));
}

BOOST_AUTO_TEST_CASE(encode_reads_back_to_equal_popups) {
  auto r = parse_stored(R"({"popups":[{"id":2,"name":"a \"q\" \\ é","starts_at":"2027-01-15T09:00:00+01:00",
    "platforms":["android"],"langs":["en"],"min_version":"1.10","max_impressions":5,
    "click_cooldown_s":null,"body":"x\ny"},{"id":9,"name":"b"}]})");
  BOOST_REQUIRE(r.errors.empty());
  std::string text = encode_popup_file(r.popups);
  auto again = parse_stored(text);
  BOOST_REQUIRE(again.errors.empty());
  BOOST_TEST(encode_popup_file(again.popups) == text);
  BOOST_TEST(diff_popups(r.popups, again.popups).at(0).kind == PopupChange::unchanged);
  BOOST_TEST(text.find("\"starts_at\": \"2027-01-15T08:00:00Z\"") != std::string::npos);
  BOOST_TEST(encode_popup_file({}) == "{\n  \"popups\": []\n}\n");
}

BOOST_AUTO_TEST_CASE(diff_names_created_changed_and_unchanged_popups) {
  auto cur = parse_stored(R"({"popups":[{"id":1,"name":"a"},{"id":2,"name":"b"},{"id":5,"name":"gone"}]})").popups;
  auto want = parse_stored(R"({"popups":[{"id":3,"name":"c"},{"id":2,"name":"b","rollout_percent":10},
    {"id":1,"name":"a"}]})").popups;
  auto d = diff_popups(cur, want);
  BOOST_REQUIRE(d.size() == 3u);
  BOOST_TEST(d[0].id == 1);
  BOOST_TEST(d[0].kind == PopupChange::unchanged);
  BOOST_TEST(d[1].kind == PopupChange::update);
  BOOST_REQUIRE(d[1].fields.size() == 1u);
  BOOST_TEST(d[1].fields[0].field == "rollout_percent");
  BOOST_TEST(d[1].fields[0].before == "100");
  BOOST_TEST(d[1].fields[0].after == "10");
  BOOST_TEST(d[2].kind == PopupChange::create);
  std::string text = format_diff(d);
  BOOST_TEST(text.find("~ 2 b\n    rollout_percent: 100 -> 10\n") != std::string::npos);
  BOOST_TEST(text.find("+ 3 c\n") != std::string::npos);
  BOOST_TEST(text.find("1 to create, 1 to update, 1 unchanged\n") != std::string::npos);
  BOOST_TEST(diff_json(d).find("\"create\":1,\"update\":1,\"unchanged\":1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(invalid_json_is_reported_with_its_line_and_column) {
  BOOST_TEST(first_error(parse("{\"popups\": [\n  {\"id\": 1,\n   \"name\": x}\n]}")) ==
             "f.json: not valid JSON at line 3, column 12: syntax error");
  BOOST_TEST(first_error(parse("{\"popups\": []")).find("f.json: not valid JSON at line 1, column 14: ") == 0u);
  BOOST_TEST(first_error(parse("{\"popups\": []} x")).find("not valid JSON at line 1, column 16") !=
             std::string::npos);
  BOOST_TEST(first_error(parse("")).find("not valid JSON at line 1, column 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(title_and_body_must_not_be_empty) {
  BOOST_TEST(one("").errors.empty());
  auto r = parse(R"({"popups":[{"id":1,"name":"n"},{"id":2,"name":"m","title":" ","body":""}]})");
  for (const char* e : {"popup 1 (#1): title: must not be empty", "popup 1 (#1): body: must not be empty",
                        "popup 2 (#2): title: must not be empty", "popup 2 (#2): body: must not be empty"})
    BOOST_TEST(has_error(r, e), e);
  BOOST_TEST(r.popups.empty());
}

BOOST_AUTO_TEST_CASE(langs_must_be_known_language_codes) {
  auto ok = one(R"(,"langs":["en","DE","pt-BR","zh-Hant","zh-hant-tw","es-419"])");
  BOOST_TEST(ok.errors.empty(), first_error(ok));
  for (const char* bad : {"english", "xx", "e", "en-", "en-usa", "en-u", "de-1234", "en-us-x", "en_us", "123"})
    BOOST_TEST(has_error(one(std::string(R"(,"langs":[")") + bad + "\"]"),
                         "langs: \"" + std::string(bad) + "\" is not a language code"),
               bad);
  BOOST_TEST(known_language_tag("de"));
  BOOST_TEST(!known_language_tag("deu"));
}

BOOST_AUTO_TEST_CASE(urls_are_http_https_or_relative) {
  for (const char* good : {"https://example.com/sale", "HTTP://example.com", "/sale?x=1", "sale.html",
                           "?q=a:b", "#top", "//cdn.example/i.png", "https://example.com/?q=a b"})
    BOOST_TEST(url_problem(good).empty(), good);
  for (const char* bad : {"javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,hi", "vbscript:x",
                          " javascript:alert(1)", "java\tscript:alert(1)", "https://", "https:///x",
                          "http:example.com", "mailto:a@b.example"})
    BOOST_TEST(!url_problem(bad).empty(), bad);
  BOOST_TEST(url_problem("javascript:alert(1)") == "must be an http(s) URL or a relative one, not a javascript: URL");
  auto r = one(R"x(,"link_url":"javascript:alert(1)","image_url":"data:image/png;base64,AA")x");
  BOOST_TEST(has_error(r, "popup 1 (#1): link_url: must be an http(s) URL or a relative one"));
  BOOST_TEST(has_error(r, "popup 1 (#1): image_url: must be an http(s) URL or a relative one"));
}

BOOST_AUTO_TEST_CASE(button_text_is_short_plain_text) {
  auto ok = one(R"(,"button_text":"Jetzt kaufen – 30 %")");
  BOOST_REQUIRE(ok.errors.empty());
  BOOST_TEST(ok.popups[0].button_text == "Jetzt kaufen – 30 %");
  BOOST_TEST(one("").popups.at(0).button_text.empty());
  BOOST_TEST(button_text_problem(std::string(40, 'x')).empty());
  std::string e40;
  for (int i = 0; i < 40; ++i) e40 += "\xC3\xA9";
  BOOST_TEST(button_text_problem(e40).empty());
  for (std::string bad : {std::string(41, 'x'), std::string("two\nlines"), std::string("tab\there"),
                          std::string("<b>Buy</b>"), std::string("   "), std::string(" Buy")})
    BOOST_TEST(!button_text_problem(bad).empty(), bad);
  BOOST_TEST(has_error(one(R"(,"button_text":"<i>x</i>")"), "popup 1 (#1): button_text: must be plain text"));
  BOOST_TEST(has_error(one(R"(,"button_text":5)"), "button_text: must be a string"));
  auto text = encode_popup_file(ok.popups);
  BOOST_TEST(text.find("\"button_text\": \"Jetzt kaufen – 30 %\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(popup_problems_are_field_and_reason_and_stored_mode_reads_old_popups) {
  Popup p;
  p.id = 5;
  p.name = "n";
  p.title = "t";
  p.body = "b";
  BOOST_TEST(popup_problems(p).empty());
  p.langs = {"english"};
  p.link_url = "javascript:x";
  p.body = "";
  auto problems = popup_problems(p);
  BOOST_REQUIRE(problems.size() == 3u);
  BOOST_TEST(problems[0].find("langs: \"english\" is not a language code") == 0u);
  BOOST_TEST(problems[1] == "body: must not be empty");
  BOOST_TEST(problems[2].find("link_url: must be an http(s) URL") == 0u);
  // An audit entry written before the content rules still reads back.
  auto old = parse_popup_files({{"audit", "{\"popups\":[" + popup_json(p) + "]}"}}, PopupChecks::stored);
  BOOST_TEST(old.errors.empty());
  BOOST_TEST(old.popups.at(0).langs == std::vector<std::string>{"english"});
}

BOOST_AUTO_TEST_SUITE_END()

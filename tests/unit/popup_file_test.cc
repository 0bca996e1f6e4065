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
bool has_error(const ParsedPopups& p, const std::string& needle) {
  for (const auto& e : p.errors)
    if (e.find(needle) != std::string::npos) return true;
  return false;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(popup_file)

BOOST_AUTO_TEST_CASE(absent_fields_take_the_table_defaults) {
  auto r = parse(R"({"popups":[{"id":7,"name":"n"}]})");
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
                        "a.json: popup 3 (#1): langs: \"a,b\" is not a language tag",
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
                              {"b", R"({"popups":[{"id":1,"name":"y"}]})"}});
  BOOST_TEST(has_error(r, "popup 1: id: given more than once"));
}

BOOST_AUTO_TEST_CASE(lengths_count_characters_not_bytes) {
  std::string name200;
  for (int i = 0; i < 200; ++i) name200 += "\xC3\xA9";
  BOOST_TEST(parse(R"({"popups":[{"id":1,"name":")" + name200 + R"("}]})").errors.empty());
  BOOST_TEST(has_error(parse(R"({"popups":[{"id":1,"name":")" + name200 + R"(x"}]})"),
                       "name: must be at most 200 characters"));
  std::string body(30000, 'x');
  for (int i = 0; i < 20000; ++i) body += "\xC3\xA9";  // 50,000 characters, 70,000 bytes
  BOOST_TEST(has_error(parse(R"({"popups":[{"id":1,"name":"n","body":")" + body + R"("}]})"),
                       "body: must be at most 65535 bytes"));
}

BOOST_AUTO_TEST_CASE(encode_reads_back_to_equal_popups) {
  auto r = parse(R"({"popups":[{"id":2,"name":"a \"q\" \\ é","starts_at":"2027-01-15T09:00:00+01:00",
    "platforms":["android"],"langs":["en"],"min_version":"1.10","max_impressions":5,
    "click_cooldown_s":null,"body":"x\ny"},{"id":9,"name":"b"}]})");
  BOOST_REQUIRE(r.errors.empty());
  std::string text = encode_popup_file(r.popups);
  auto again = parse(text);
  BOOST_REQUIRE(again.errors.empty());
  BOOST_TEST(encode_popup_file(again.popups) == text);
  BOOST_TEST(diff_popups(r.popups, again.popups).at(0).kind == PopupChange::unchanged);
  BOOST_TEST(text.find("\"starts_at\": \"2027-01-15T08:00:00Z\"") != std::string::npos);
  BOOST_TEST(encode_popup_file({}) == "{\n  \"popups\": []\n}\n");
}

BOOST_AUTO_TEST_CASE(diff_names_created_changed_and_unchanged_popups) {
  auto cur = parse(R"({"popups":[{"id":1,"name":"a"},{"id":2,"name":"b"},{"id":5,"name":"gone"}]})").popups;
  auto want = parse(R"({"popups":[{"id":3,"name":"c"},{"id":2,"name":"b","rollout_percent":10},
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

BOOST_AUTO_TEST_SUITE_END()

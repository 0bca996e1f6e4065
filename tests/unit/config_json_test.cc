#define BOOST_TEST_DYN_LINK
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "core/config_json.h"
#include "core/version.h"

using namespace popup;

namespace {
// A popup with every field away from its default.
Popup full(int64_t id, int64_t priority) {
  Popup p;
  p.id = id;
  p.name = "campaign " + std::to_string(id);
  p.priority = priority;
  p.enabled = false;
  p.starts_at = 1700000000;
  p.ends_at = 1800000000;
  p.platforms = {Platform::ios, Platform::android};
  p.min_version = *parse_version("1.10");
  p.max_version = *parse_version("2.0.1");
  p.langs = {"de", "pt-br"};
  p.rollout_percent = 37;
  p.max_impressions = 3;
  p.show_cooldown_s = 600;
  p.ignore_cooldown_s = 1200;
  p.click_cooldown_s = 86400;
  p.title = "\xc3\xbc \"q\" \\ \n";
  p.body = "body";
  p.image_url = "https://e.example/i.png";
  p.link_url = "https://e.example/?a=1&b=2";
  p.button_text = "Shop now";
  return p;
}

void check_same(const Popup& a, const Popup& b) {
  BOOST_TEST(a.id == b.id);
  BOOST_TEST(a.name == b.name);
  BOOST_TEST(a.priority == b.priority);
  BOOST_TEST(a.enabled == b.enabled);
  BOOST_TEST((a.starts_at == b.starts_at));
  BOOST_TEST((a.ends_at == b.ends_at));
  BOOST_TEST((a.platforms == b.platforms));
  BOOST_TEST((a.min_version == b.min_version));
  BOOST_TEST((a.max_version == b.max_version));
  BOOST_TEST((a.langs == b.langs));
  BOOST_TEST(a.rollout_percent == b.rollout_percent);
  BOOST_TEST((a.max_impressions == b.max_impressions));
  BOOST_TEST(a.show_cooldown_s == b.show_cooldown_s);
  BOOST_TEST(a.ignore_cooldown_s == b.ignore_cooldown_s);
  BOOST_TEST((a.click_cooldown_s == b.click_cooldown_s));
  BOOST_TEST(a.title == b.title);
  BOOST_TEST(a.body == b.body);
  BOOST_TEST(a.image_url == b.image_url);
  BOOST_TEST(a.link_url == b.link_url);
  BOOST_TEST(a.button_text == b.button_text);
}

// The encoding of a one-popup set with one popup member replaced or removed.
boost::json::object one_popup_doc() {
  ConfigSet cfg{5, {full(1, 10)}};
  return boost::json::parse(encode_config(cfg)).as_object();
}
std::string with(const char* key, boost::json::value value) {
  auto doc = one_popup_doc();
  doc["popups"].as_array()[0].as_object()[key] = std::move(value);
  return boost::json::serialize(doc);
}
std::string without(const char* key) {
  auto doc = one_popup_doc();
  doc["popups"].as_array()[0].as_object().erase(key);
  return boost::json::serialize(doc);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(config_json)

BOOST_AUTO_TEST_CASE(round_trip_keeps_every_field) {
  ConfigSet cfg{12, {full(1, 10)}};
  auto back = decode_config(encode_config(cfg));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST(back.value().version == 12);
  BOOST_REQUIRE(back.value().popups.size() == 1u);
  check_same(back.value().popups[0], cfg.popups[0]);
}

BOOST_AUTO_TEST_CASE(round_trip_keeps_absent_optionals_absent) {
  Popup p;
  p.id = 4;
  p.click_cooldown_s.reset();
  ConfigSet cfg{1, {p}};
  auto back = decode_config(encode_config(cfg));
  BOOST_REQUIRE(back.ok());
  BOOST_REQUIRE(back.value().popups.size() == 1u);
  check_same(back.value().popups[0], p);
  BOOST_TEST(!back.value().popups[0].click_cooldown_s.has_value());
  BOOST_TEST(back.value().popups[0].platforms.empty());
}

BOOST_AUTO_TEST_CASE(encoding_uses_names_text_versions_and_nulls) {
  Popup p = full(1, 10);
  p.max_version.reset();
  p.starts_at.reset();
  auto o = boost::json::parse(encode_config(ConfigSet{3, {p}})).as_object();
  BOOST_TEST(o.at("version").as_int64() == 3);
  const auto& j = o.at("popups").as_array().at(0).as_object();
  BOOST_TEST(j.at("min_version").as_string() == "1.10");
  BOOST_TEST(j.at("max_version").is_null());
  BOOST_TEST(j.at("starts_at").is_null());
  BOOST_TEST(j.at("platforms").as_array().at(0).as_string() == "ios");
  BOOST_TEST(j.at("langs").as_array().at(1).as_string() == "pt-br");
  BOOST_TEST(j.at("name").as_string() == p.name);
  BOOST_TEST(j.at("button_text").as_string() == "Shop now");
  BOOST_TEST(j.size() == 20u);  // every Popup field
}

BOOST_AUTO_TEST_CASE(decoded_popups_are_in_selection_order) {
  ConfigSet cfg{1, {full(5, 10), full(3, 50), full(9, 50), full(1, -1)}};
  auto back = decode_config(encode_config(cfg));
  BOOST_REQUIRE(back.ok());
  std::vector<int64_t> ids;
  for (const auto& p : back.value().popups) ids.push_back(p.id);
  BOOST_TEST(ids == (std::vector<int64_t>{3, 9, 5, 1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(empty_set_decodes) {
  auto r = decode_config(R"({"version":1,"popups":[]})");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().popups.empty());
  BOOST_TEST(decode_config(encode_config(ConfigSet{})).ok());
}

BOOST_AUTO_TEST_CASE(broken_documents_are_refused) {
  for (const char* bad : {"", "{", "[]", "null", "{}", R"({"popups":[]})", R"({"version":1})",
                          R"({"version":"1","popups":[]})", R"({"version":1.5,"popups":[]})",
                          R"({"version":1,"popups":{}})", R"({"version":1,"popups":[1]})",
                          R"({"version":1,"popups":[{"id":1}]})", R"({"version":1,"popups":[]} x)"}) {
    auto r = decode_config(bad);
    BOOST_TEST(!r.ok(), bad);
    if (!r.ok()) BOOST_TEST(r.error().code == "bad_request");
  }
}

BOOST_AUTO_TEST_CASE(every_required_field_must_be_present) {
  for (const char* key : {"id", "name", "priority", "enabled", "platforms", "langs",
                          "rollout_percent", "show_cooldown_s", "ignore_cooldown_s", "title",
                          "body", "image_url", "link_url"}) {
    auto r = decode_config(without(key));
    BOOST_TEST(!r.ok(), key);
    if (!r.ok()) BOOST_TEST(r.error().message.find(key) != std::string::npos, r.error().message);
  }
  BOOST_TEST(decode_config(boost::json::serialize(one_popup_doc())).ok());
}

BOOST_AUTO_TEST_CASE(fields_of_the_wrong_type_are_refused_naming_the_field) {
  using boost::json::array;
  using boost::json::value;
  struct Case {
    const char* key;
    value v;
  };
  for (const auto& c :
       {Case{"id", value("1")}, Case{"id", value(1.5)}, Case{"id", value(nullptr)},
        Case{"name", value(7)}, Case{"priority", value("high")}, Case{"enabled", value("yes")},
        Case{"starts_at", value("1700000000")}, Case{"ends_at", value(1.5)},
        Case{"platforms", value("web")}, Case{"platforms", value(array{"web", "tv"})},
        Case{"platforms", value(array{1})}, Case{"min_version", value(1)},
        Case{"min_version", value("1.x")}, Case{"max_version", value("1.2.3.4.5")},
        Case{"langs", value("de")}, Case{"langs", value(array{"de", nullptr})},
        Case{"rollout_percent", value(101)}, Case{"rollout_percent", value(-1)},
        Case{"rollout_percent", value("50")}, Case{"max_impressions", value(-1)},
        Case{"max_impressions", value("3")}, Case{"show_cooldown_s", value(-1)},
        Case{"ignore_cooldown_s", value(nullptr)}, Case{"click_cooldown_s", value(-5)},
        Case{"click_cooldown_s", value(true)}, Case{"title", value(nullptr)},
        Case{"body", value(array{})}, Case{"image_url", value(1)}, Case{"link_url", value(false)}}) {
    auto r = decode_config(with(c.key, c.v));
    BOOST_TEST(!r.ok(), c.key << "=" << c.v);
    if (!r.ok()) BOOST_TEST(r.error().message.find(c.key) != std::string::npos, r.error().message);
  }
}

BOOST_AUTO_TEST_CASE(optionals_accept_null) {
  using boost::json::value;
  for (const char* key : {"starts_at", "ends_at", "min_version", "max_version", "max_impressions",
                          "click_cooldown_s"})
    BOOST_TEST(decode_config(with(key, value(nullptr))).ok(), key);
  auto r = decode_config(with("click_cooldown_s", value(nullptr)));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(!r.value().popups[0].click_cooldown_s.has_value());
}

BOOST_AUTO_TEST_CASE(rollout_bounds_0_and_100_are_accepted) {
  using boost::json::value;
  auto zero = decode_config(with("rollout_percent", value(0)));
  BOOST_REQUIRE(zero.ok());
  BOOST_TEST(zero.value().popups[0].rollout_percent == 0);
  auto all = decode_config(with("rollout_percent", value(100)));
  BOOST_REQUIRE(all.ok());
  BOOST_TEST(all.value().popups[0].rollout_percent == 100);
}

BOOST_AUTO_TEST_CASE(a_set_published_before_button_text_decodes_without_it) {
  auto doc = one_popup_doc();
  doc["popups"].as_array()[0].as_object().erase("button_text");
  auto r = decode_config(boost::json::serialize(doc));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().popups.at(0).button_text == "");
  doc["popups"].as_array()[0].as_object()["button_text"] = 5;
  auto bad = decode_config(boost::json::serialize(doc));
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().message == "config: button_text must be a string");
}

BOOST_AUTO_TEST_SUITE_END()

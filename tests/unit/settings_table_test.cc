#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <set>
#include <sstream>

#include "core/settings.h"

// The settings table as documentation: descriptions, defaults and what
// `popupd --print-config` prints from it.

using namespace popup;

BOOST_AUTO_TEST_SUITE(settings_table)

BOOST_AUTO_TEST_CASE(every_key_has_a_one_line_description_and_is_listed_once) {
  std::set<std::string_view> keys, groups_done;
  std::string_view group;
  for (const auto& d : settings_docs()) {
    BOOST_TEST_CONTEXT(d.key) {
      BOOST_TEST(keys.insert(d.key).second, "key listed twice");
      BOOST_TEST(!d.description.empty());
      BOOST_TEST(d.description.back() == '.');
      // One line that a Markdown table cell and a '#' comment can carry,
      // and that wrapping at spaces and joining with one space restores.
      BOOST_TEST(d.description.find_first_of("\n\r\t|") == std::string::npos);
      BOOST_TEST(d.description.find("  ") == std::string::npos);
      BOOST_TEST(d.description.front() != ' ');
      BOOST_TEST(!d.group.empty());
      if (d.group != group) {
        BOOST_TEST(groups_done.insert(d.group).second, "group's keys are not consecutive");
        group = d.group;
      }
    }
  }
  BOOST_TEST(keys.size() >= 46u);
}

BOOST_AUTO_TEST_CASE(every_default_parses_passes_its_check_and_is_the_fields_default) {
  // "key = default" for every key, one file: a refusal names the line.
  std::string all;
  for (const auto& d : settings_docs()) {
    auto one = parse_settings(std::string(d.key) + " = " + std::string(d.default_text));
    BOOST_TEST(one.ok(), d.key << " = " << d.default_text << ": "
                                << (one.ok() ? "" : one.error().message));
    all += std::string(d.key) + " = " + std::string(d.default_text) + "\n";
  }
  auto parsed = parse_settings(all);
  BOOST_REQUIRE(parsed.ok());
  const Settings& s = parsed.value();
  Settings d;
  BOOST_TEST(s.listen == d.listen);
  BOOST_TEST(s.workers == d.workers);
  BOOST_TEST(s.user_affinity == d.user_affinity);
  BOOST_TEST(s.max_requests == d.max_requests);
  BOOST_TEST(s.admin_networks == d.admin_networks);
  BOOST_TEST(s.test_clock == d.test_clock);
  BOOST_TEST(!check_sizing(d, 65536).has_value());
}

BOOST_AUTO_TEST_CASE(defaults_are_those_the_service_was_tuned_with) {
  Settings s;
  BOOST_TEST(s.listen.empty());
  BOOST_TEST(s.backlog == 1024);
  BOOST_TEST(s.workers == 2);
  BOOST_TEST(s.threads == 2);
  BOOST_TEST(s.user_affinity);
  BOOST_TEST(s.state_cache_mib == 64);
  BOOST_TEST(s.state_cache_stale_s == 30);
  BOOST_TEST(s.flush_ms == 5);
  BOOST_TEST(s.flush_events == 200);
  BOOST_TEST(s.max_requests == 0);
  BOOST_TEST(s.nginx_keepalive == 1024);
  BOOST_TEST(s.redis == "127.0.0.1:6379");
  BOOST_TEST(s.state_ttl_s == 7 * 86400);
  BOOST_TEST(s.mysql_port == 3306);
  BOOST_TEST(s.mysql_password.empty());
  BOOST_TEST(s.batch_size == 1000);
  BOOST_TEST(s.admin_networks == "127.0.0.0/8,::1/128");
  BOOST_TEST(s.retention_days == 90);
  BOOST_TEST(s.queue_metrics);
  BOOST_TEST(!s.test_clock);
}

BOOST_AUTO_TEST_CASE(integer_keys_state_their_range) {
  for (const auto& d : settings_docs())
    if (d.key == "workers") BOOST_TEST(d.description.ends_with(" Range: 1 to 256."));
    else if (d.key == "max_requests") BOOST_TEST(d.description.ends_with(" Range: 0 or more."));
    else if (d.key == "listen" || d.key == "user_affinity")
      BOOST_TEST(d.description.find("Range:") == std::string::npos);
}

// What `popupd --print-config` prints: with every "#key = default" line
// uncommented it is a configuration file that gives the defaults, and each
// key's description, re-joined from its comment lines, is the table's.
BOOST_AUTO_TEST_CASE(printed_reference_uncommented_is_a_file_of_the_defaults) {
  std::string text = format_settings_docs();
  std::istringstream in(text);
  std::string line, uncommented, description;
  std::vector<std::pair<std::string, std::string>> seen;  // key, description
  while (std::getline(in, line)) {
    BOOST_TEST(line.size() <= 78u, line);
    if (line.rfind("# ", 0) == 0) {
      description += (description.empty() ? "" : " ") + line.substr(2);
    } else if (line.size() > 1 && line[0] == '#' && line[1] != '#' && line[1] != ' ') {
      uncommented += line.substr(1) + "\n";
      seen.emplace_back(line.substr(1, line.find(" =") - 1), description);
      description.clear();
    } else {
      description.clear();  // a blank line or a group heading ends a block
    }
  }
  auto parsed = parse_settings(uncommented);
  BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
  auto docs = settings_docs();
  BOOST_REQUIRE(seen.size() == docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    BOOST_TEST(seen[i].first == docs[i].key);
    BOOST_TEST(seen[i].second == docs[i].description);
  }
}
BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/settings.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(settings)

BOOST_AUTO_TEST_CASE(defaults_and_overrides) {
  auto s = parse_settings("# comment\n\nworkers = 3\n  threads=5  \nlisten = unix:/tmp/p.sock\n"
                          "test_clock = on\nmax_requests = 1000\nmysql_password =\n");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().workers == 3);
  BOOST_TEST(s.value().threads == 5);
  BOOST_TEST(s.value().listen == "unix:/tmp/p.sock");
  BOOST_TEST(s.value().test_clock);
  BOOST_TEST(s.value().max_requests == 1000);
  BOOST_TEST(s.value().backlog == 1024);
  BOOST_TEST(!Settings{}.test_clock);  // off unless a configuration turns it on
}

BOOST_AUTO_TEST_CASE(errors_name_the_line) {
  struct Case { const char* text; const char* want; };
  for (auto c : {Case{"workers = many", "line 1"}, Case{"\nworkers = 0", "line 2"},
                 Case{"nosuch = 1", "unknown setting nosuch"}, Case{"workers", "key = value"},
                 Case{"redis = nowhere", "redis"}, Case{"listen = host:99999", "listen"},
                 Case{"test_clock = maybe", "test_clock"}, Case{"key_prefix = a b", "key_prefix"}}) {
    auto r = parse_settings(c.text);
    BOOST_TEST(!r.ok(), c.text);
    if (!r.ok()) BOOST_TEST(r.error().message.find(c.want) != std::string::npos, r.error().message);
  }
}

BOOST_AUTO_TEST_CASE(addresses) {
  auto u = parse_address("unix:/run/p.sock");
  BOOST_TEST((u && u->is_unix && u->path == "/run/p.sock"));
  auto t = parse_address("127.0.0.1:9000");
  BOOST_TEST((t && !t->is_unix && t->host == "127.0.0.1" && t->port == 9000));
  auto v6 = parse_address("[::1]:9000");
  BOOST_TEST((v6 && v6->host == "::1"));
  BOOST_TEST(format_address(*v6) == "[::1]:9000");
  for (const char* bad : {"", "unix:", "host", ":80", "h:0", "h:65536", "h:x", "::1:80"})
    BOOST_TEST(!parse_address(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(sizing_rule_keeps_half_the_pool_free_of_keepalive_pins) {
  Settings s;
  s.workers = 4;
  s.threads = 8;
  s.nginx_workers = 2;
  s.nginx_keepalive = 8;
  BOOST_TEST(!check_sizing(s).has_value());  // 32 >= 2 * 16
  s.nginx_keepalive = 9;
  auto bad = check_sizing(s);
  BOOST_REQUIRE(bad.has_value());
  BOOST_TEST(bad->find("32") != std::string::npos);
  s.workers = 1;
  s.threads = 4;
  s.nginx_workers = 1;
  s.nginx_keepalive = 4;  // the measured trap: keepalive caches pin the whole pool
  BOOST_TEST(check_sizing(s).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <set>
#include <sstream>

#include "core/settings.h"

using namespace popup;

namespace {
// The error message of a parse that must have failed.
std::string refusal(std::string_view text) {
  auto r = parse_settings(text);
  if (r.ok()) return "(accepted)";
  if (r.error().code != "bad_request") return "(code " + r.error().code + ")";
  return r.error().message;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(settings)

BOOST_AUTO_TEST_CASE(redis_breaker_keys_parse_and_are_bounded) {
  auto s = parse_settings("redis_breaker_failures = 0\nredis_breaker_open_ms = 250\n");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().redis_breaker_failures == 0);
  BOOST_TEST(s.value().redis_breaker_open_ms == 250);
  BOOST_TEST(refusal("redis_breaker_failures = -1") != "(accepted)");
  BOOST_TEST(refusal("redis_breaker_open_ms = 0") != "(accepted)");
}

BOOST_AUTO_TEST_CASE(log_and_queue_metrics_keys_parse_and_a_wrong_level_is_refused) {
  auto d = parse_settings("");
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(d.value().queue_metrics);
  BOOST_TEST(d.value().log_level == "info");
  BOOST_TEST(d.value().log_file.empty());
  auto s = parse_settings("log_level = warn\nlog_file = /var/log/popup/popup.log\nqueue_metrics = off\n");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().log_level == "warn");
  BOOST_TEST(s.value().log_file == "/var/log/popup/popup.log");
  BOOST_TEST(!s.value().queue_metrics);
  BOOST_TEST(refusal("log_level = verbose") == "line 1: log_level must be debug, info, warn or error");
  BOOST_TEST(refusal("log_level = INFO") != "(accepted)");
}

BOOST_AUTO_TEST_CASE(a_heartbeat_shorter_than_two_refreshes_is_refused) {
  // The writer refreshes about once a second; a shorter expiry would let a
  // live writer look dead between two refreshes.
  BOOST_TEST(refusal("writer_heartbeat_ttl_ms = 1999") != "(accepted)");
  BOOST_TEST(refusal("queue_age_degraded_s = 0") != "(accepted)");
  auto s = parse_settings("");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().writer_heartbeat_ttl_ms == 3000);
  BOOST_TEST(s.value().queue_age_degraded_s == 30);
}

BOOST_AUTO_TEST_CASE(empty_text_gives_the_defaults) {
  auto s = parse_settings("");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().workers == Settings{}.workers);
  BOOST_TEST(s.value().redis == "127.0.0.1:6379");
  BOOST_TEST(s.value().listen.empty());
  BOOST_TEST(!s.value().test_clock);  // off unless a configuration turns it on
  BOOST_TEST(parse_settings("\n\n# only comments\n   \n\t# indented comment\n").ok());
}

BOOST_AUTO_TEST_CASE(every_key_sets_its_field) {
  auto r = parse_settings(
      "listen = 127.0.0.1:9000\nbacklog = 4096\nworkers = 3\nthreads = 5\n"
      "max_requests = 1000000\ncrash_storm_count = 4\ncrash_storm_window_s = 20\n"
      "crash_storm_pause_s = 7\nstop_timeout_s = 30\nstate_dir = /var/lib/popup\n"
      "nginx_workers = 1\nnginx_keepalive = 6\nredis = unix:/run/redis.sock\n"
      "redis_timeout_ms = 250\nkey_prefix = pp:test\nstate_ttl_s = 3600\n"
      "config_check_ms = 500\nconfig_lock_ms = 2000\nmysql_host = db.internal\n"
      "mysql_port = 3307\nmysql_socket = /run/mysqld.sock\nmysql_user = app\n"
      "mysql_password = s3cret = yes\nmysql_db = popups_2\nbatch_size = 100\nbatch_ms = 20\n"
      "writer_id = w-2\nwriter_heartbeat_ttl_ms = 5000\nqueue_age_degraded_s = 60\n"
      "retention_days = 30\ntest_clock = on\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
  const Settings& s = r.value();
  BOOST_TEST(s.listen == "127.0.0.1:9000");
  BOOST_TEST(s.backlog == 4096);
  BOOST_TEST(s.workers == 3);
  BOOST_TEST(s.threads == 5);
  BOOST_TEST(s.max_requests == 1000000);
  BOOST_TEST(s.crash_storm_count == 4);
  BOOST_TEST(s.crash_storm_window_s == 20);
  BOOST_TEST(s.crash_storm_pause_s == 7);
  BOOST_TEST(s.stop_timeout_s == 30);
  BOOST_TEST(s.state_dir == "/var/lib/popup");
  BOOST_TEST(s.nginx_workers == 1);
  BOOST_TEST(s.nginx_keepalive == 6);
  BOOST_TEST(s.redis == "unix:/run/redis.sock");
  BOOST_TEST(s.redis_timeout_ms == 250);
  BOOST_TEST(s.key_prefix == "pp:test");
  BOOST_TEST(s.state_ttl_s == 3600);
  BOOST_TEST(s.config_check_ms == 500);
  BOOST_TEST(s.config_lock_ms == 2000);
  BOOST_TEST(s.mysql_host == "db.internal");
  BOOST_TEST(s.mysql_port == 3307);
  BOOST_TEST(s.mysql_socket == "/run/mysqld.sock");
  BOOST_TEST(s.mysql_user == "app");
  BOOST_TEST(s.mysql_password == "s3cret = yes");  // split at the first '='
  BOOST_TEST(s.mysql_db == "popups_2");
  BOOST_TEST(s.batch_size == 100);
  BOOST_TEST(s.batch_ms == 20);
  BOOST_TEST(s.writer_id == "w-2");
  BOOST_TEST(s.writer_heartbeat_ttl_ms == 5000);
  BOOST_TEST(s.queue_age_degraded_s == 60);
  BOOST_TEST(s.retention_days == 30);
  BOOST_TEST(s.test_clock);
}

BOOST_AUTO_TEST_CASE(spaces_around_keys_and_values_are_trimmed) {
  auto s = parse_settings("  workers=3  \n\tthreads =\t5\r\nmysql_password =\n");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().workers == 3);
  BOOST_TEST(s.value().threads == 5);
  BOOST_TEST(s.value().mysql_password.empty());
}

BOOST_AUTO_TEST_CASE(a_later_line_overrides_an_earlier_one) {
  auto s = parse_settings("workers = 3\nworkers = 8\n");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().workers == 8);
}

BOOST_AUTO_TEST_CASE(int64_settings_take_large_values) {
  auto s = parse_settings("max_requests = 9000000000\n");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().max_requests == 9000000000);
}

BOOST_AUTO_TEST_CASE(booleans_accept_the_usual_spellings) {
  for (const char* yes : {"on", "true", "yes", "1", "ON", "True"}) {
    auto s = parse_settings(std::string("test_clock = ") + yes);
    BOOST_REQUIRE(s.ok());
    BOOST_TEST(s.value().test_clock, yes);
  }
  for (const char* no : {"off", "false", "no", "0", "OFF"}) {
    auto s = parse_settings(std::string("test_clock = on\ntest_clock = ") + no);
    BOOST_REQUIRE(s.ok());
    BOOST_TEST(!s.value().test_clock, no);
  }
  for (const char* bad : {"", "maybe", "2", "enabled"})
    BOOST_TEST(refusal(std::string("test_clock = ") + bad).find("test_clock") != std::string::npos,
               bad);
}

BOOST_AUTO_TEST_CASE(errors_name_the_line) {
  BOOST_TEST(refusal("workers = many") == "line 1: workers must be an integer");
  BOOST_TEST(refusal("# c\n\nworkers = 0").find("line 3: ") == 0u);
  BOOST_TEST(refusal("workers = 2\r\nthreads = 2\r\nbogus = 1\r\n").find("line 3: ") == 0u);
  BOOST_TEST(refusal("nosuch = 1") == "line 1: unknown setting nosuch");
  BOOST_TEST(refusal("workers") == "line 1: expected key = value");
  BOOST_TEST(refusal("= 3") == "line 1: unknown setting ");
  BOOST_TEST(refusal("Workers = 3").find("unknown setting Workers") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(nothing_is_returned_after_an_error) {
  auto r = parse_settings("workers = 3\nthreads = x\n");
  BOOST_TEST(!r.ok());
}

BOOST_AUTO_TEST_CASE(integers_are_range_checked) {
  struct Case {
    const char* line;
    bool ok;
  };
  for (auto c : {Case{"workers = 1", true}, Case{"workers = 256", true}, Case{"workers = 0", false},
                 Case{"workers = 257", false}, Case{"workers = -1", false},
                 Case{"threads = 0", false}, Case{"threads = 256", true},
                 Case{"backlog = 65535", true}, Case{"backlog = 65536", false},
                 Case{"backlog = 0", false}, Case{"mysql_port = 0", false},
                 Case{"mysql_port = 65536", false}, Case{"batch_size = 10000", true},
                 Case{"batch_size = 10001", false}, Case{"batch_size = 0", false},
                 Case{"redis_timeout_ms = 0", false}, Case{"batch_ms = 0", false},
                 Case{"config_check_ms = 0", false}, Case{"config_lock_ms = 0", false},
                 Case{"stop_timeout_s = 0", false}, Case{"state_ttl_s = 0", false},
                 Case{"crash_storm_count = 0", false}, Case{"max_requests = 0", true},
                 Case{"max_requests = -1", false}, Case{"nginx_workers = 0", false},
                 Case{"nginx_keepalive = 0", true},
                 Case{"workers = 99999999999999999999", false}, Case{"workers = 3.5", false},
                 Case{"workers = 0x10", false}, Case{"workers = +3", false},
                 Case{"workers = 3 # comment", false}, Case{"workers =", false}}) {
    auto r = parse_settings(c.line);
    BOOST_TEST(r.ok() == c.ok, c.line << " -> " << (r.ok() ? "accepted" : r.error().message));
  }
  BOOST_TEST(refusal("workers = 0") == "line 1: workers must be between 1 and 256");
}

BOOST_AUTO_TEST_CASE(addresses_and_names_are_checked) {
  struct Case {
    const char* line;
    bool ok;
  };
  for (auto c : {Case{"listen =", true}, Case{"listen = unix:/tmp/p.sock", true},
                 Case{"listen = [::1]:9000", true}, Case{"listen = host:99999", false},
                 Case{"listen = /tmp/p.sock", false}, Case{"redis =", false},
                 Case{"redis = nowhere", false}, Case{"redis = localhost:6379", true},
                 Case{"key_prefix = a b", false}, Case{"key_prefix =", false},
                 Case{"key_prefix = app:popup_1.x-y", true}, Case{"writer_id =", false},
                 Case{"writer_id = w/1", false}, Case{"writer_id = host-1:w2", true},
                 Case{"state_dir =", true}, Case{"mysql_socket =", true}}) {
    auto r = parse_settings(c.line);
    BOOST_TEST(r.ok() == c.ok, c.line << " -> " << (r.ok() ? "accepted" : r.error().message));
  }
  BOOST_TEST(refusal("redis = nowhere").find("redis") != std::string::npos);
  BOOST_TEST(refusal("key_prefix = a b").find("key_prefix") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(address_forms) {
  auto u = parse_address("unix:/run/p.sock");
  BOOST_REQUIRE(u.has_value());
  BOOST_TEST(u->is_unix);
  BOOST_TEST(u->path == "/run/p.sock");
  auto t = parse_address("127.0.0.1:9000");
  BOOST_REQUIRE(t.has_value());
  BOOST_TEST(!t->is_unix);
  BOOST_TEST(t->host == "127.0.0.1");
  BOOST_TEST(t->port == 9000);
  auto v6 = parse_address("[::1]:9000");
  BOOST_REQUIRE(v6.has_value());
  BOOST_TEST(v6->host == "::1");
  BOOST_TEST(v6->port == 9000);
  auto named = parse_address("redis.internal:1");
  BOOST_REQUIRE(named.has_value());
  BOOST_TEST(named->port == 1);
  BOOST_TEST(parse_address("h:65535").has_value());
}

BOOST_AUTO_TEST_CASE(address_lists_for_the_sentinels) {
  auto three = parse_address_list("10.0.0.1:26379, 10.0.0.2:26379 ,[::1]:26380");
  BOOST_REQUIRE(three.size() == 3u);
  BOOST_TEST(three[0].host == "10.0.0.1");
  BOOST_TEST(three[1].host == "10.0.0.2");
  BOOST_TEST(three[2].host == "::1");
  BOOST_TEST(three[2].port == 26380);
  BOOST_TEST(parse_address_list("h:1").size() == 1u);
  // One bad element refuses the whole list: a sentinel left out silently
  // would weaken the quorum the operator counted on.
  for (const char* bad : {"", ",", "h:1,", ",h:1", "h:1,,h:2", "h:1,nowhere", "h:1;h:2"})
    BOOST_TEST(parse_address_list(bad).empty(), bad);
  std::string why;
  BOOST_TEST(parse_address_list("h:1,,h:2", &why).empty());
  BOOST_TEST(why == "item 2 of 3 is empty (two commas in a row, or one at an end)");
  BOOST_TEST(parse_address_list("h:1, nowhere", &why).empty());
  BOOST_TEST(why == "not host:port or unix:/path: nowhere");
}

BOOST_AUTO_TEST_CASE(sentinel_settings) {
  auto d = parse_settings("");
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(d.value().redis_sentinels == "");  // no Sentinel: `redis` as before
  BOOST_TEST(d.value().redis_master_name == "popup");
  auto s = parse_settings("redis_sentinels = a:26379,b:26379,c:26379\nredis_master_name = main-1\n"
                          "redis_replica_wait_ms = 50\n");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().redis_sentinels == "a:26379,b:26379,c:26379");
  BOOST_TEST(s.value().redis_master_name == "main-1");
  BOOST_TEST(s.value().redis_replica_wait_ms == 50);
  auto gap = parse_settings("redis_sentinels = a:26379,,b:26379\n");
  BOOST_REQUIRE(!gap.ok());
  BOOST_TEST(gap.error().message.find("redis_sentinels must be host:port,host:port,... (or empty): "
                                      "item 2 of 3 is empty") != std::string::npos,
             gap.error().message);
  for (const char* bad : {"redis_sentinels = a:26379,b", "redis_sentinels = unix", "redis_master_name =",
                          "redis_master_name = a b", "redis_replica_wait_ms = 0"}) {
    auto r = parse_settings(bad);
    BOOST_TEST(!r.ok(), bad);
    if (!r.ok()) BOOST_TEST(r.error().message.find(std::string(bad).substr(0, 12)) != std::string::npos, bad);
  }
}

BOOST_AUTO_TEST_CASE(malformed_addresses_are_refused) {
  for (const char* bad : {"", "unix:", "unix:relative.sock", "host", ":80", "h:", "h:0", "h:65536",
                          "h:x", "h:-1", "h:+80", "h:80 ", "h :80", "::1:80", "[::1:80", "[]:80",
                          "[::1]80", "a/b:80"})
    BOOST_TEST(!parse_address(bad).has_value(), bad);
  BOOST_TEST(!parse_address("unix:/" + std::string(107, 'x')).has_value());  // sun_path limit
  BOOST_TEST(parse_address("unix:/" + std::string(106, 'x')).has_value());
}

BOOST_AUTO_TEST_CASE(format_address_round_trips) {
  for (const char* s : {"unix:/run/p.sock", "127.0.0.1:9000", "[::1]:9000", "example.com:80"})
    BOOST_TEST(format_address(*parse_address(s)) == s);
}

BOOST_AUTO_TEST_CASE(sizing_rule_fits_every_kept_connection_in_one_workers_file_limit) {
  Settings s;
  s.workers = 4;
  s.threads = 8;
  s.nginx_workers = 2;
  s.nginx_keepalive = 1000;
  // 2 x 1000 kept + 256 + 4 x 8 of its own = 2288
  BOOST_TEST(!check_sizing(s, 2288).has_value());  // exactly on the rule
  auto bad = check_sizing(s, 2287);
  BOOST_REQUIRE(bad.has_value());
  for (const char* number : {"2 x 1000 = 2000", "= 288", "2288", "2287"})
    BOOST_TEST(bad->find(number) != std::string::npos, number << " in " << *bad);
  BOOST_TEST(bad->find("keepalive") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(threads_no_longer_limit_kept_connections) {
  Settings s;
  s.workers = 1;
  s.threads = 2;
  s.nginx_workers = 4;
  s.nginx_keepalive = 4096;  // far more kept connections than threads
  BOOST_TEST(!check_sizing(s, 65536).has_value());
  BOOST_TEST(check_sizing(s, 1024).has_value());
  s.nginx_keepalive = 0;  // no keepalive: only the worker's own files
  BOOST_TEST(!check_sizing(s, 1024).has_value());
}

BOOST_AUTO_TEST_CASE(defaults_obey_the_sizing_rule_under_a_common_file_limit) {
  Settings s;
  BOOST_TEST(!check_sizing(s, 65536).has_value());
  s.listen = "unix:/run/popup.sock";  // the affine pool
  BOOST_TEST(!check_sizing(s, 65536).has_value());
  BOOST_TEST(check_sizing(s, 1024).has_value());  // the usual soft limit is too small
}

BOOST_AUTO_TEST_CASE(admin_listen_parses_and_needs_a_supervisor_pool) {
  auto r = parse_settings("listen = unix:/run/p.sock\nadmin_listen = 127.0.0.1:9101\n");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().admin_listen == "127.0.0.1:9101");
  BOOST_TEST(!check_sizing(r.value(), 65536).has_value());
  BOOST_TEST(!parse_settings("admin_listen = nowhere\n").ok());
  Settings s;  // spawn-fcgi: nobody would open it
  s.admin_listen = "unix:/run/popup-admin.sock";
  BOOST_REQUIRE(check_sizing(s, 65536).has_value());
  BOOST_TEST(check_sizing(s, 65536)->find("admin_listen needs listen") != std::string::npos);
  s.listen = s.admin_listen;
  BOOST_TEST(check_sizing(s, 65536).has_value());
  BOOST_TEST(Settings{}.admin_listen.empty());  // off by default
}

BOOST_AUTO_TEST_CASE(affine_tcp_pool_needs_ports_above_listen) {
  Settings s;
  s.listen = "127.0.0.1:65534";
  s.workers = 2;
  s.nginx_keepalive = 1;
  BOOST_REQUIRE(check_sizing(s, 65536).has_value());
  BOOST_TEST(check_sizing(s, 65536)->find("65535") != std::string::npos);
  s.workers = 1;
  BOOST_TEST(!check_sizing(s, 65536).has_value());
}

BOOST_AUTO_TEST_CASE(slot_addresses_follow_listen) {
  auto unix_slot = slot_address(*parse_address("unix:/run/p.sock"), 3);
  BOOST_REQUIRE(unix_slot);
  BOOST_TEST(format_address(*unix_slot) == "unix:/run/p.sock.3");
  auto tcp_slot = slot_address(*parse_address("127.0.0.1:9000"), 0);
  BOOST_REQUIRE(tcp_slot);
  BOOST_TEST(format_address(*tcp_slot) == "127.0.0.1:9001");
  BOOST_TEST(!slot_address(*parse_address("127.0.0.1:65535"), 0));
}

BOOST_AUTO_TEST_CASE(pid_file_is_off_by_default_and_takes_a_path) {
  auto d = parse_settings("");
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(d.value().pid_file.empty());
  auto s = parse_settings("pid_file = /run/popup/popupd.pid\n");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().pid_file == "/run/popup/popupd.pid");
}


BOOST_AUTO_TEST_SUITE_END()

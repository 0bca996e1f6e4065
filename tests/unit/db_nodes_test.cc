#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/db_nodes.h"

using namespace popup;

namespace {
std::string kind(int code, const char* message) {
  return to_string(classify_db_error(code, message));
}
}  // namespace

BOOST_AUTO_TEST_SUITE(db_nodes_suite)

BOOST_AUTO_TEST_CASE(a_list_keeps_its_order_and_its_ports) {
  auto nodes = parse_db_nodes(" db1:3306, 10.0.0.2:3307 ,[::1]:3308");
  BOOST_REQUIRE(nodes.ok());
  const auto& v = nodes.value();
  BOOST_REQUIRE_EQUAL(v.size(), 3u);
  BOOST_TEST(v[0].host == "db1");
  BOOST_TEST(v[0].port == 3306);
  BOOST_TEST(v[1].host == "10.0.0.2");
  BOOST_TEST(v[1].port == 3307);
  BOOST_TEST(v[2].host == "::1");
  BOOST_TEST(to_string(v[2]) == "[::1]:3308");
  BOOST_TEST(to_string(v[0]) == "db1:3306");
}

BOOST_AUTO_TEST_CASE(an_empty_list_is_no_nodes) {
  auto nodes = parse_db_nodes("");
  BOOST_REQUIRE(nodes.ok());
  BOOST_TEST(nodes.value().empty());
}

BOOST_AUTO_TEST_CASE(bad_items_are_named) {
  for (const char* bad : {"db1", "db1:", ":3306", "db1:0", "db1:65536", "db1:33x", "db 1:3306",
                          "[::1:3306", "db1:3306,db2", "db1:3306;db2:3306"}) {
    auto nodes = parse_db_nodes(bad);
    BOOST_TEST(!nodes.ok(), bad);
  }
  auto twice = parse_db_nodes("db1:3306,db2:3306,db1:3306");
  BOOST_REQUIRE(!twice.ok());
  BOOST_TEST(twice.error().message == "named twice: db1:3306");
  auto bad = parse_db_nodes("db1:3306,db2");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().message == "not host:port: db2");
  // An empty item is a typo, not a node to skip (core/list.h).
  for (const char* gap : {"db1:3306,,db2:3306", "db1:3306,", ",db1:3306"}) {
    auto r = parse_db_nodes(gap);
    BOOST_REQUIRE_MESSAGE(!r.ok(), gap);
    BOOST_TEST(r.error().message.find("is empty") != std::string::npos, gap);
  }
}

BOOST_AUTO_TEST_CASE(without_a_list_the_one_server_of_host_or_socket) {
  auto parsed = parse_settings("");
  BOOST_REQUIRE(parsed.ok());
  Settings s = parsed.value();
  s.mysql_host = "db.internal";
  s.mysql_port = 3307;
  auto one = db_nodes(s);
  BOOST_REQUIRE_EQUAL(one.size(), 1u);
  BOOST_TEST(to_string(one[0]) == "db.internal:3307");
  s.mysql_socket = "/run/mysqld/mysqld.sock";
  one = db_nodes(s);
  BOOST_REQUIRE_EQUAL(one.size(), 1u);
  BOOST_TEST(one[0].socket == "/run/mysqld/mysqld.sock");
  BOOST_TEST(to_string(one[0]) == "/run/mysqld/mysqld.sock");
  s.mysql_hosts = "a:1,b:2";
  auto two = db_nodes(s);
  BOOST_REQUIRE_EQUAL(two.size(), 2u);
  BOOST_TEST(to_string(two[1]) == "b:2");
}

BOOST_AUTO_TEST_CASE(deadlocks_and_certification_failures_run_the_transaction_again) {
  BOOST_TEST(kind(1213, "Deadlock found when trying to get lock; try restarting transaction") ==
             "retry_transaction");
  BOOST_TEST(kind(1213, "WSREP detected deadlock/conflict and aborted the transaction. Try "
                        "restarting the transaction") == "retry_transaction");
  BOOST_TEST(kind(1205, "Lock wait timeout exceeded; try restarting transaction") ==
             "retry_transaction");
  // The text alone, whatever number a server version gives it.
  BOOST_TEST(kind(1180, "WSREP detected deadlock/conflict and aborted the transaction") ==
             "retry_transaction");
}

BOOST_AUTO_TEST_CASE(a_node_outside_the_primary_component_sends_to_the_next) {
  BOOST_TEST(kind(1047, "WSREP has not yet prepared node for application use") == "next_node");
  BOOST_TEST(kind(1047, "Unknown command") == "next_node");
}

BOOST_AUTO_TEST_CASE(a_broken_connection_is_lost_and_the_rest_is_final) {
  for (int code : {0, 1053, 1927, 2002, 2003, 2006, 2013, 2055, 4031})
    BOOST_TEST(kind(code, "Lost connection to server during query") == "lost", code);
  for (int code : {1045, 1064, 1062, 1146, 1142, 1451})
    BOOST_TEST(kind(code, "You have an error in your SQL syntax") == "other", code);
}

BOOST_AUTO_TEST_CASE(the_setting_is_checked_at_load) {
  auto ok = parse_settings("mysql_hosts = 127.0.0.1:3306, 127.0.0.1:3307\n");
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(ok.value().mysql_hosts == "127.0.0.1:3306, 127.0.0.1:3307");
  auto bad = parse_settings("mysql_hosts = 127.0.0.1\n");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().message.find("mysql_hosts") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

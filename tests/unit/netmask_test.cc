#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/netmask.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(netmask)

BOOST_AUTO_TEST_CASE(loopback_ranges_match_loopback_only) {
  auto nets = parse_networks("127.0.0.0/8, ::1/128");
  BOOST_REQUIRE(nets.ok());
  for (const char* a : {"127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "::ffff:127.0.0.1"})
    BOOST_TEST(address_in(nets.value(), a), a);
  for (const char* a : {"8.8.8.8", "128.0.0.1", "126.255.255.255", "::2", "10.0.0.1", "", "localhost",
                        "127.0.0.1 ", "127.0.0.1/8", "::ffff:8.8.8.8"})
    BOOST_TEST(!address_in(nets.value(), a), a);
}

BOOST_AUTO_TEST_CASE(prefixes_that_do_not_end_on_a_byte) {
  auto nets = parse_networks("10.1.0.0/14,fd00::/7,192.0.2.7");
  BOOST_REQUIRE(nets.ok());
  BOOST_TEST(address_in(nets.value(), "10.3.255.1"));
  BOOST_TEST(!address_in(nets.value(), "10.4.0.1"));
  BOOST_TEST(address_in(nets.value(), "fdff::1"));
  BOOST_TEST(address_in(nets.value(), "fc00::1"));
  BOOST_TEST(!address_in(nets.value(), "fe00::1"));
  BOOST_TEST(address_in(nets.value(), "192.0.2.7"));
  BOOST_TEST(!address_in(nets.value(), "192.0.2.8"));
}

BOOST_AUTO_TEST_CASE(an_empty_list_admits_nobody_and_zero_prefixes_everybody) {
  BOOST_TEST(!address_in(parse_networks("").value(), "127.0.0.1"));
  auto all = parse_networks("0.0.0.0/0,::/0");
  BOOST_REQUIRE(all.ok());
  BOOST_TEST(address_in(all.value(), "8.8.8.8"));
  BOOST_TEST(address_in(all.value(), "2001:db8::1"));
}

BOOST_AUTO_TEST_CASE(bad_items_are_named) {
  for (const char* bad : {"127.0.0.1/33", "::1/129", "10.0.0.0/", "10.0.0.0/x", "300.0.0.1", "host",
                          "10.0.0.0/-1", "1.2.3.4/8/8"}) {
    auto r = parse_networks(std::string("127.0.0.1,") + bad);
    BOOST_TEST(!r.ok(), bad);
    if (!r.ok()) BOOST_TEST(r.error().message.find(bad) != std::string::npos, bad);
  }
  for (const char* gap : {"127.0.0.1,,::1", "127.0.0.1,", " , ::1"}) {
    auto r = parse_networks(gap);
    BOOST_REQUIRE_MESSAGE(!r.ok(), gap);
    BOOST_TEST(r.error().message.find("is empty") != std::string::npos, gap);
  }
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/cors.h"
#include "core/settings.h"

using namespace popup;

namespace {
CorsPolicy policy(std::string_view list) {
  auto p = parse_cors_origins(list);
  BOOST_REQUIRE_MESSAGE(p.ok(), (p.ok() ? std::string() : p.error().message));
  return p.value();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(cors)

BOOST_AUTO_TEST_CASE(an_empty_setting_turns_cors_off_and_adds_no_header) {
  CorsPolicy p = policy("  ");
  BOOST_TEST(!p.enabled());
  BOOST_TEST(cors_headers(p, {"https://shop.example", true, "GET"}).empty());
  BOOST_TEST(allowed_origin(p, "https://shop.example").empty());
}

BOOST_AUTO_TEST_CASE(a_listed_origin_is_echoed_with_vary) {
  CorsPolicy p = policy("https://shop.example, http://127.0.0.1:8081");
  BOOST_TEST(cors_headers(p, {"https://shop.example", false, "GET, HEAD, OPTIONS"}) ==
             "Vary: Origin\r\nAccess-Control-Allow-Origin: https://shop.example\r\n");
  BOOST_TEST(allowed_origin(p, "http://127.0.0.1:8081") == "http://127.0.0.1:8081");
}

BOOST_AUTO_TEST_CASE(an_unlisted_or_missing_origin_gets_only_vary) {
  CorsPolicy p = policy("https://shop.example");
  for (const char* o : {"https://evil.example", "http://shop.example", "https://shop.example:8443",
                        "https://shop.example.evil", "null", "", "https://shop.example/"})
    BOOST_TEST(cors_headers(p, {o, true, "POST, OPTIONS"}) == "Vary: Origin\r\n", o);
}

BOOST_AUTO_TEST_CASE(origins_compare_like_browsers_serialise_them) {
  // Scheme and host are case-insensitive and the default port is implied.
  CorsPolicy p = policy("HTTPS://Shop.Example:443,http://localhost:80,http://[::1]:8081");
  BOOST_TEST(p.origins.size() == 3u);
  BOOST_TEST(p.origins[0] == "https://shop.example");
  BOOST_TEST(p.origins[1] == "http://localhost");
  BOOST_TEST(allowed_origin(p, "https://shop.example") == "https://shop.example");
  BOOST_TEST(allowed_origin(p, "http://localhost") == "http://localhost");
  BOOST_TEST(allowed_origin(p, "http://[::1]:8081") == "http://[::1]:8081");
  BOOST_TEST(allowed_origin(p, "http://[::1]:8082").empty());
}

BOOST_AUTO_TEST_CASE(star_allows_every_origin_without_vary_or_credentials) {
  CorsPolicy p = policy("*");
  BOOST_TEST(p.any);
  std::string h = cors_headers(p, {"https://anyone.example", false, "GET"});
  BOOST_TEST(h == "Access-Control-Allow-Origin: *\r\n");
  // The service never reads cookies, so it never allows credentials: that
  // is what makes "*" acceptable.
  BOOST_TEST(cors_headers(p, {"null", true, "GET"}).find("Credentials") == std::string::npos);
  BOOST_TEST(cors_headers(p, {"", false, "GET"}).empty());  // no Origin: not a CORS request
}

BOOST_AUTO_TEST_CASE(a_preflight_names_methods_headers_and_max_age) {
  CorsPolicy p = policy("http://127.0.0.1:8081");
  BOOST_TEST(cors_headers(p, {"http://127.0.0.1:8081", true, "POST, OPTIONS"}) ==
             "Vary: Origin\r\n"
             "Access-Control-Allow-Origin: http://127.0.0.1:8081\r\n"
             "Access-Control-Allow-Methods: POST, OPTIONS\r\n"
             "Access-Control-Allow-Headers: Content-Type, Idempotency-Key\r\n"
             "Access-Control-Max-Age: 600\r\n");
}

BOOST_AUTO_TEST_CASE(malformed_lists_are_refused_naming_the_item) {
  for (const char* bad : {"shop.example", "ftp://shop.example", "https://", "https://shop.example/",
                          "https://shop.example/path", "https://shop.example:0",
                          "https://shop.example:99999", "https://a b", "https://shop.example,",
                          "*,https://shop.example", "https://[zz]", "https://x\r\nSet-Cookie: a"}) {
    auto r = parse_cors_origins(bad);
    BOOST_TEST(!r.ok(), bad);
  }
  auto r = parse_cors_origins("https://ok.example, nope");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message.find("'nope'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_origin_with_header_bytes_is_never_echoed) {
  CorsPolicy p = policy("https://shop.example");
  BOOST_TEST(allowed_origin(p, "https://shop.example\r\nX: y").empty());
}

BOOST_AUTO_TEST_CASE(the_setting_is_checked_when_the_file_is_read) {
  auto ok = parse_settings("cors_origins = https://shop.example, http://localhost:8081\n");
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(ok.value().cors_origins == "https://shop.example, http://localhost:8081");
  BOOST_TEST(parse_settings("").value().cors_origins.empty());  // off by default
  auto bad = parse_settings("cors_origins = shop.example\n");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().message.find("line 1: cors_origins") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

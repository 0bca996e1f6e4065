#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/iso_time.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(iso_time)

BOOST_AUTO_TEST_CASE(times_with_zones_become_unix_seconds) {
  BOOST_TEST(*parse_iso_time("1970-01-01T00:00:00Z") == 0);
  BOOST_TEST(*parse_iso_time("2027-01-15T08:00:00Z") == 1800000000);
  BOOST_TEST(*parse_iso_time("2027-01-15T09:00:00+01:00") == 1800000000);
  BOOST_TEST(*parse_iso_time("2027-01-15T03:30:00-0430") == 1800000000);
  BOOST_TEST(*parse_iso_time("2027-01-15T08:00Z") == 1800000000);
  BOOST_TEST(*parse_iso_time("2024-02-29T00:00:00Z") == 1709164800);
}

BOOST_AUTO_TEST_CASE(times_without_zone_or_with_bad_fields_are_refused) {
  for (const char* bad : {"", "2027-01-15", "2027-01-15T08:00:00", "2027-01-15 08:00:00Z",
                          "2027-13-01T00:00:00Z", "2027-02-29T00:00:00Z", "2027-01-15T24:00:00Z",
                          "2027-01-15T08:60:00Z", "2027-01-15T08:00:00+19:00", "2027-1-15T08:00:00Z",
                          "2027-01-15T08:00:00Zjunk", "tomorrow"})
    BOOST_TEST(!parse_iso_time(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(format_and_parse_round_trip) {
  for (int64_t t : {int64_t{0}, int64_t{1800000000}, int64_t{951782400}, int64_t{-86401}, int64_t{4102444799}})
    BOOST_TEST(*parse_iso_time(format_iso_time(t)) == t);
  BOOST_TEST(format_iso_time(1800000000) == "2027-01-15T08:00:00Z");
}

BOOST_AUTO_TEST_CASE(dates_are_days_since_the_epoch) {
  BOOST_TEST(*parse_iso_date("1970-01-02") == 1);
  BOOST_TEST(*parse_iso_date("2027-01-15") == 1800000000 / 86400);
  BOOST_TEST(format_iso_date(20833) == "2027-01-15");
  BOOST_TEST(!parse_iso_date("2027-01-15T00:00:00Z").has_value());
  BOOST_TEST(!parse_iso_date("2027-04-31").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

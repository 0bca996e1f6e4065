#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/state_codec.h"

using namespace popup;

BOOST_AUTO_TEST_SUITE(state_codec)

BOOST_AUTO_TEST_CASE(encoding_is_four_comma_separated_fields) {
  BOOST_TEST(encode_state(UserState{1700003600, 2, LastAction::show, 1700000000}) ==
             "1700003600,2,show,1700000000");
  BOOST_TEST(encode_state(UserState{kNever, 3, LastAction::click, 1700000000}) ==
             "-1,3,click,1700000000");
  BOOST_TEST(encode_state(UserState{}) == "0,0,show,0");
}

BOOST_AUTO_TEST_CASE(decode_inverts_encode) {
  for (const UserState& s :
       {UserState{kNever, 3, LastAction::click, 1700000000}, UserState{0, 0, LastAction::show, 0},
        UserState{1700001200, 1, LastAction::ignore, 1700000000},
        UserState{INT64_MAX, INT64_MAX, LastAction::show, INT64_MAX}}) {
    auto back = decode_state(encode_state(s));
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST((*back == s), encode_state(s));
  }
}

BOOST_AUTO_TEST_CASE(the_order_is_a_fifth_field_when_known) {
  UserState s{1700003600, 2, LastAction::ignore, 1700000000, 1700000000123456};
  BOOST_TEST(encode_state(s) == "1700003600,2,ignore,1700000000,1700000000123456");
  auto back = decode_state(encode_state(s));
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST((*back == s));
  auto old = decode_state("1700003600,2,ignore,1700000000");  // stored before orders were kept
  BOOST_REQUIRE(old.has_value());
  BOOST_TEST(old->order == 0);
}

BOOST_AUTO_TEST_CASE(decode_reads_never_as_minus_one) {
  auto s = decode_state("-1,0,click,5");
  BOOST_REQUIRE(s.has_value());
  BOOST_TEST(s->next_show_at == kNever);
  BOOST_TEST((s->last_action == LastAction::click));
  BOOST_TEST(s->updated_at == 5);
}

BOOST_AUTO_TEST_CASE(decode_is_strict) {
  for (const char* bad :
       {"", ",,,", "1,2,show", "x,2,show,3", "1,2,shown,3", "1,2,SHOW,3",
        "1,-2,show,3", "-2,1,show,3", "-0,1,show,3", "1,-0,show,3", "1,2,show,-3", "1,2,show,",
        ",2,show,3", "1 ,2,show,3", "1, 2,show,3", "+1,2,show,3", "1,+2,show,3",
        "1,2,show,3\n", "1.5,2,show,3", "1,2,,3", "99999999999999999999,1,show,3",
        "1,99999999999999999999,show,3", "0x10,1,show,3", "1,2,show,3,", "1,2,show,3,0", "1,2,show,3,-4", "1,2,show,3,4,5", "1,2,show,3,4,"})
    BOOST_TEST(!decode_state(bad).has_value(), bad);
  BOOST_TEST(!decode_state(std::string_view("1,2,show,3\0", 11)).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// The Boost.Test module of the core/ unit tests; test cases live in
// <module>_test.cc files beside this one.
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_MODULE popup_core
#include <boost/test/unit_test.hpp>

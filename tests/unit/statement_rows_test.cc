#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <numeric>

#include "core/statement_rows.h"

using namespace popup;

namespace {
size_t sum(const std::vector<size_t>& v) { return std::accumulate(v.begin(), v.end(), size_t{0}); }
bool pow2(size_t n) { return n && !(n & (n - 1)); }
}  // namespace

BOOST_AUTO_TEST_SUITE(statement_rows_suite)

BOOST_AUTO_TEST_CASE(small_and_exact_batches_are_one_statement) {
  BOOST_TEST(statement_rows(0).empty());
  BOOST_TEST(statement_rows(1) == std::vector<size_t>{1});
  BOOST_TEST(statement_rows(3) == std::vector<size_t>{4});
  // A split would spare fewer than 16 rows: 16 + 4 against 32.
  BOOST_TEST(statement_rows(20) == std::vector<size_t>{32});
  BOOST_TEST(statement_rows(256) == std::vector<size_t>{256});
  BOOST_TEST(statement_rows(1024) == std::vector<size_t>{1024});
  BOOST_TEST(statement_rows(2048) == (std::vector<size_t>{1024, 1024}));
}

BOOST_AUTO_TEST_CASE(a_remainder_is_split_when_that_sends_fewer_rows) {
  BOOST_TEST(statement_rows(300) == (std::vector<size_t>{256, 64}));
  BOOST_TEST(statement_rows(257) == (std::vector<size_t>{256, 1}));
  BOOST_TEST(statement_rows(40) == (std::vector<size_t>{32, 8}));
  BOOST_TEST(statement_rows(1025) == (std::vector<size_t>{1024, 1}));
  BOOST_TEST(statement_rows(1324) == (std::vector<size_t>{1024, 256, 64}));
  // Two chunks would send as many rows: one statement.
  BOOST_TEST(statement_rows(1000) == std::vector<size_t>{1024});
  BOOST_TEST(statement_rows(385) == std::vector<size_t>{512});
}

BOOST_AUTO_TEST_CASE(every_batch_size_gets_few_powers_of_two_and_little_padding) {
  for (size_t n = 1; n <= 3 * kMaxStatementRows; ++n) {
    auto rows = statement_rows(n);
    size_t full = n / kMaxStatementRows, rest = n % kMaxStatementRows;
    BOOST_TEST_REQUIRE(rows.size() <= full + 2);
    for (size_t r : rows) BOOST_TEST_REQUIRE((pow2(r) && r <= kMaxStatementRows));
    BOOST_TEST_REQUIRE(sum(rows) >= n);
    if (rest > 64) BOOST_TEST_REQUIRE(3 * (sum(rows) - n) < rest);  // was up to rest - 1
  }
}

BOOST_AUTO_TEST_SUITE_END()

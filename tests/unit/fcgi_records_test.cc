#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <string>

#include "core/fcgi_records.h"

using namespace popup;

namespace {

std::string record(int type, const std::string& content, int id = 1, int padding = 0) {
  std::string h = {1, static_cast<char>(type), static_cast<char>(id >> 8), static_cast<char>(id),
                   static_cast<char>(content.size() >> 8), static_cast<char>(content.size()),
                   static_cast<char>(padding), 0};
  return h + content + std::string(padding, '\0');
}

std::string begin(int id = 1) { return record(1, std::string("\0\1\1\0\0\0\0\0", 8), id); }

std::string pair(const std::string& name, const std::string& value) {
  return std::string(1, static_cast<char>(name.size())) + static_cast<char>(value.size()) + name +
         value;
}

std::string long_len(uint32_t n) {
  n |= 0x80000000u;
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
          static_cast<char>(n)};
}

RecordVerdict verdict(const std::string& bytes) {
  return check_fcgi_records(bytes, 65536, 81920).verdict;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fcgi_records)

BOOST_AUTO_TEST_CASE(a_request_as_nginx_sends_it_is_complete_once_its_params_end) {
  std::string params = pair("REQUEST_METHOD", "GET") + pair("DOCUMENT_URI", "/api/popup");
  std::string all = begin() + record(4, params, 1, 3) + record(4, "") + record(5, "");
  BOOST_TEST((verdict(all) == RecordVerdict::complete));
  BOOST_TEST((verdict(begin() + record(4, params)) == RecordVerdict::need_more));
  BOOST_TEST((verdict(all.substr(0, 13)) == RecordVerdict::need_more));
  BOOST_TEST((verdict("") == RecordVerdict::need_more));
}

BOOST_AUTO_TEST_CASE(lengths_that_would_make_libfcgi_allocate_gigabytes_are_bad) {
  std::string overflow = long_len(0x7fffffff) + long_len(0x7fffffff) + "AAAA";
  auto c = check_fcgi_records(begin() + record(4, overflow), 65536, 81920);
  BOOST_TEST((c.verdict == RecordVerdict::bad));
  BOOST_TEST(c.why.find("2147483647") != std::string::npos);
  // A huge name is refused before its value length even arrives.
  BOOST_TEST((verdict(begin() + record(4, long_len(0x10000000))) == RecordVerdict::bad));
  // 64 KiB + 1 in one value.
  BOOST_TEST((verdict(begin() + record(4, "\x01" + long_len(65537) + "N")) == RecordVerdict::bad));
}

BOOST_AUTO_TEST_CASE(a_length_split_across_two_params_records_is_still_checked) {
  std::string split = long_len(0x7ffffff0);
  std::string bytes = begin() + record(4, std::string("\x01") + split.substr(0, 2)) +
                      record(4, split.substr(2) + "x");
  BOOST_TEST((verdict(bytes) == RecordVerdict::bad));
}

BOOST_AUTO_TEST_CASE(parameters_longer_than_the_limit_in_total_are_bad) {
  std::string chunk = pair("A", std::string(200, 'v'));
  std::string content;
  while (content.size() < 60000) content += chunk;
  std::string bytes = begin() + record(4, content) + record(4, content);
  BOOST_TEST((verdict(bytes) == RecordVerdict::bad));
}

BOOST_AUTO_TEST_CASE(leftovers_before_begin_request_are_skipped_like_libfcgi_does) {
  std::string previous = record(5, "", 1) + record(5, "body", 7);
  std::string bytes = previous + begin(2) + record(4, pair("A", "b"), 2) + record(4, "", 2);
  BOOST_TEST((verdict(bytes) == RecordVerdict::complete));
}

BOOST_AUTO_TEST_CASE(a_management_record_must_hold_the_pairs_it_claims) {
  std::string lying = long_len(0x7fffffff) + long_len(1) + "x";
  BOOST_TEST((verdict(record(9, lying, 0)) == RecordVerdict::bad));
  std::string ok = record(9, pair("FCGI_MPXS_CONNS", ""), 0) + begin() + record(4, "");
  BOOST_TEST((verdict(ok) == RecordVerdict::complete));
}

BOOST_AUTO_TEST_CASE(streams_libfcgi_rejects_by_itself_are_handed_to_it) {
  BOOST_TEST((verdict(std::string("\x02\x01\x00\x01\x00\x00\x00\x00", 8)) ==
              RecordVerdict::complete));
  BOOST_TEST((verdict(begin() + record(5, "stdin before params")) == RecordVerdict::complete));
}

BOOST_AUTO_TEST_CASE(no_end_of_parameters_within_the_scan_limit_is_bad) {
  std::string junk;
  while (junk.size() < 90000) junk += record(5, std::string(1000, 'x'), 9);
  BOOST_TEST((verdict(junk) == RecordVerdict::bad));
}

RecordCheck whole(const std::string& bytes) { return check_fcgi_request(bytes, 65536, 81920); }

BOOST_AUTO_TEST_CASE(a_request_is_whole_only_once_its_body_has_ended) {
  std::string head = begin() + record(4, pair("REQUEST_METHOD", "POST")) + record(4, "");
  auto c = whole(head);
  BOOST_TEST((c.verdict == RecordVerdict::need_more));
  BOOST_TEST(c.params_ended);
  BOOST_TEST((whole(head + record(5, "uid=x", 1, 3)).verdict == RecordVerdict::need_more));
  BOOST_TEST((whole(head + record(5, "uid=x") + record(5, "")).verdict == RecordVerdict::complete));
  BOOST_TEST(whole(head + record(5, "")).params_ended);
  // Half a record header of the body's end is not its end.
  BOOST_TEST((whole(head + record(5, "").substr(0, 5)).verdict == RecordVerdict::need_more));
}

BOOST_AUTO_TEST_CASE(a_request_cut_in_its_parameters_has_not_ended_them) {
  std::string params = pair("REQUEST_METHOD", "GET");
  auto c = whole(begin() + record(4, params));
  BOOST_TEST((c.verdict == RecordVerdict::need_more));
  BOOST_TEST(!c.params_ended);
  BOOST_TEST(!whole(begin() + record(4, params).substr(0, 10)).params_ended);
}

BOOST_AUTO_TEST_CASE(a_whole_request_check_keeps_the_parameter_limits) {
  std::string overflow = long_len(0x7fffffff) + long_len(0x7fffffff) + "AAAA";
  BOOST_TEST((whole(begin() + record(4, overflow)).verdict == RecordVerdict::bad));
  std::string lying = long_len(0x7fffffff) + long_len(1) + "x";
  std::string head = begin() + record(4, pair("A", "b")) + record(4, "");
  BOOST_TEST((whole(head + record(9, lying, 0)).verdict == RecordVerdict::bad));
}

BOOST_AUTO_TEST_CASE(parameters_that_end_inside_a_pair_are_bad) {
  std::string cut = std::string("\x04\x80\x00", 3);  // a value length cut short
  BOOST_TEST((whole(begin() + record(4, cut) + record(4, "")).verdict == RecordVerdict::bad));
  BOOST_TEST((verdict(begin() + record(4, cut) + record(4, "")) == RecordVerdict::bad));
  std::string short_value = std::string("\x01\x05") + "Nab";  // 5 claimed, 2 there
  BOOST_TEST((verdict(begin() + record(4, short_value) + record(4, "")) == RecordVerdict::bad));
  // Cut off before the end of the parameters is only "not yet".
  BOOST_TEST((verdict(begin() + record(4, cut)) == RecordVerdict::need_more));
}

BOOST_AUTO_TEST_CASE(a_body_longer_than_the_scan_limit_is_not_bad) {
  std::string bytes = begin() + record(4, pair("A", "b")) + record(4, "");
  while (bytes.size() < 100000) bytes += record(5, std::string(4000, 'x'));
  auto c = whole(bytes);
  BOOST_TEST((c.verdict == RecordVerdict::need_more));
  BOOST_TEST(c.params_ended);
}

BOOST_AUTO_TEST_CASE(other_records_of_the_request_after_its_parameters_go_to_libfcgi) {
  std::string head = begin() + record(4, pair("A", "b")) + record(4, "");
  BOOST_TEST((whole(head + record(2, "")).verdict == RecordVerdict::complete));  // abort
  // Another request's records (libfcgi skips them) are not its end.
  BOOST_TEST((whole(head + record(5, "", 7)).verdict == RecordVerdict::need_more));
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "core/event.h"
#include "core/sha256.h"

using namespace popup;

namespace {
std::string hex(const std::array<uint8_t, 32>& d) {
  std::string out;
  char buf[3];
  for (uint8_t b : d) {
    snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(sha256_digest)

// FIPS 180-4 examples and the one-million-'a' vector; lengths around the
// 55/56/64-byte padding edges cover the one- and two-block tails.
BOOST_AUTO_TEST_CASE(known_vectors) {
  BOOST_TEST(hex(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(hex(sha256("abc")) ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  BOOST_TEST(hex(sha256(std::string(1000000, 'a'))) ==
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  BOOST_TEST(hex(sha256(std::string(64, 'a'))) ==
             "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

BOOST_AUTO_TEST_CASE(action_ids_depend_on_uid_source_and_key_only) {
  std::string id = action_event_id("alice", "client", "k1");
  BOOST_TEST(id.size() == 32u);
  BOOST_TEST(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  BOOST_TEST(action_event_id("alice", "client", "k1") == id);
  BOOST_TEST(action_event_id("bob", "client", "k1") != id);
  BOOST_TEST(action_event_id("alice", "nginx", "k1") != id);
  BOOST_TEST(action_event_id("alice", "client", "k2") != id);
  // The separators keep ("ab", "c") and ("a", "bc") apart.
  BOOST_TEST(action_event_id("ab", "client", "c") != action_event_id("a", "client", "bc"));
  // Pinned so that every process, version and machine derives the same id:
  // the first 16 bytes of SHA-256("action\0alice\0client\0k1").
  BOOST_TEST(id == hex(sha256(std::string("action\0alice\0client\0k1", 22))).substr(0, 32));
}

BOOST_AUTO_TEST_SUITE_END()

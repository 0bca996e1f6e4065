// Several queue writers (distinct writer_ids) over one Redis
// (tests/unit/writer_fakes.h): a writer takes over the processing list of a
// peer whose heartbeat expired and applies it once; of two that race for
// it one gets it; a writer that was only stalled, its list taken over
// meanwhile, neither applies nor acknowledges what is no longer its own.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/unit/writer_fakes.h"

using namespace popup;
using namespace popup_test;

namespace {

// Writer w1 died with events from..to in hand (its oldest at the right
// end) and its heartbeat has expired.
void dead_peer(FakeRedis& redis, int from, int to) {
  redis.writers.insert("w1");
  auto& list = redis.lists[processing_key("w1")];
  for (int i = from; i <= to; ++i) list.push_front(event_text(i));
  redis.alive["w1"] = "";
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(writer_peers)

BOOST_AUTO_TEST_CASE(a_dead_peers_processing_list_is_taken_over_and_applied_before_the_queue) {
  FakeRedis redis;
  dead_peer(redis, 1, 5);
  World w2(2, 50, 0, &redis, "w2", "host2:1");
  for (int i = 6; i <= 8; ++i) w2.queue.push(event_text(i));
  BOOST_TEST(w2.run() == 0);
  BOOST_TEST(w2.store.ids() == ids(1, 8), boost::test_tools::per_element());
  BOOST_TEST(redis.lists[processing_key("w1")].empty());  // nothing stranded
  BOOST_TEST(w2.drained());
  BOOST_TEST(redis.alive["w1"].rfind("!taken over by w2", 0) == 0);  // the fence
  BOOST_TEST(w2.queue.last_published.recovered == 1);
}

BOOST_AUTO_TEST_CASE(a_live_peers_processing_list_is_left_alone) {
  FakeRedis redis;
  dead_peer(redis, 1, 3);
  redis.alive["w1"] = "host1:1";  // still beating: merely between batches
  World w2(10, 50, 2, &redis, "w2", "host2:1");
  BOOST_TEST(w2.run() == 0);
  BOOST_TEST(w2.store.ids() == ids(1, 2), boost::test_tools::per_element());
  BOOST_TEST(redis.lists[processing_key("w1")].size() == 3u);
  BOOST_TEST(w2.queue.last_published.recovered == 0);
}

BOOST_AUTO_TEST_CASE(peers_are_looked_for_every_recover_period_while_the_writer_works) {
  FakeRedis redis;
  redis.writers.insert("w1");
  World w2(10, 50, 0, &redis, "w2", "host2:1");
  w2.s.writer_recover_period_ms = 2000;
  int idle = 0;
  w2.queue.on_idle = [&] {  // each idle wait is 1 s
    if (++idle == 1) dead_peer(redis, 1, 4);  // w1 dies after w2's first look, at 0
    w2.stop = w2.store.ids().size() == 4 || idle > 10;
  };
  BOOST_TEST(w2.run() == 0);
  BOOST_TEST(w2.store.ids() == ids(1, 4), boost::test_tools::per_element());
  BOOST_TEST(w2.store.committed_at.front() == 2000);  // at the next look, one period on
}

BOOST_AUTO_TEST_CASE(two_writers_racing_for_one_dead_list_only_one_applies_it) {
  for (bool second_first : {false, true}) {
    FakeRedis redis;
    dead_peer(redis, 1, 6);
    World w2(4, 50, 0, &redis, "w2", "host2:1");
    World w3(4, 50, 0, &redis, "w3", "host3:1");
    bool raced = false;
    if (second_first) {
      // w3 claims, and applies, between w2's lease and w2's claim.
      w2.queue.on_claim = [&] {
        if (!raced) BOOST_TEST(w3.run() == 0);
        raced = true;
      };
    } else {
      // w3 runs while w2 applies the list it claimed.
      w2.store.before = [&](const std::vector<Event>&) {
        if (!raced) BOOST_TEST(w3.run() == 0);
        raced = true;
      };
    }
    BOOST_TEST(w2.run() == 0);
    BOOST_TEST(raced);
    std::vector<std::string> all = w2.store.ids();
    for (const auto& id : w3.store.ids()) all.push_back(id);
    BOOST_TEST(sorted(all) == ids(1, 6), boost::test_tools::per_element());  // each once
    BOOST_TEST((w2.store.ids().empty() != w3.store.ids().empty()));  // one of them
    BOOST_TEST(w2.queue.last_published.recovered + w3.queue.last_published.recovered == 1);
    BOOST_TEST(redis.lists[processing_key("w1")].empty());
    BOOST_TEST(w2.drained());
    BOOST_TEST(w3.queue.processing.empty());
  }
}

BOOST_AUTO_TEST_CASE(a_stalled_writer_whose_list_was_taken_over_does_not_acknowledge) {
  FakeRedis redis;
  World w1(10, 50, 5, &redis, "w1", "host1:1");
  World w2(10, 50, 0, &redis, "w2", "host2:1");
  // w1 stalls in its commit past its heartbeat's expiry; w2 takes its list
  // over and applies it; then w1's commit returns.
  bool stalled = false;
  w1.store.before = [&](const std::vector<Event>&) {
    if (stalled) return;
    stalled = true;
    BOOST_TEST(w1.queue.processing.size() == 5u);
    w1.queue.holder.clear();  // expired
    BOOST_TEST(w2.run() == 0);
  };
  BOOST_TEST(w1.run() == 3);  // its lease is lost
  BOOST_TEST(w1.queue.acked == 0);
  BOOST_TEST(w1.queue.lost_acks == 1);
  BOOST_TEST(w1.queue.gave_back == 0);
  BOOST_TEST(w2.store.ids() == ids(1, 5), boost::test_tools::per_element());
  BOOST_TEST(w2.queue.processing.empty());
  BOOST_TEST(redis.alive["w1"].rfind("!taken over by w2", 0) == 0);  // w1 released nothing
}

BOOST_AUTO_TEST_CASE(a_stalled_writer_whose_list_was_taken_over_applies_nothing_more) {
  FakeRedis redis;
  World w1(10, 50, 5, &redis, "w1", "host1:1");
  World w2(10, 50, 0, &redis, "w2", "host2:1");
  w1.store.fail_next = 1000;  // MySQL down for w1
  w1.store.on_fail = [&] {
    if (w1.store.attempts != 1) return;
    w1.queue.holder.clear();  // w1 is stalled past its expiry ...
    BOOST_TEST(w2.run() == 0);  // ... and w2 takes its list over
  };
  BOOST_TEST(w1.run() == 3);
  BOOST_TEST(w1.store.attempts == 1);  // no retry once the lease was lost
  BOOST_TEST(w1.queue.acked == 0);
  BOOST_TEST(w1.queue.gave_back == 0);
  BOOST_TEST(w2.store.ids() == ids(1, 5), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_writer_whose_list_was_taken_over_after_it_read_a_batch_does_not_apply_it) {
  FakeRedis redis;
  World w1(10, 50, 5, &redis, "w1", "host1:1");
  World w2(10, 50, 0, &redis, "w2", "host2:1");
  bool stalled = false;
  w1.queue.on_take = [&] {  // w1 holds the batch, read, and stalls before applying it
    if (stalled) return;
    stalled = true;
    w1.queue.holder.clear();
    BOOST_TEST(w2.run() == 0);
  };
  BOOST_TEST(w1.run() == 3);
  BOOST_TEST(stalled);
  BOOST_TEST(w1.store.attempts == 0);
  BOOST_TEST(w1.queue.acked == 0);
  BOOST_TEST(w2.store.ids() == ids(1, 5), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_fresh_writer_of_the_dead_id_takes_its_lease_over_the_fence) {
  FakeRedis redis;
  dead_peer(redis, 1, 3);
  World w2(10, 50, 0, &redis, "w2", "host2:1");
  BOOST_TEST(w2.run() == 0);
  World w1(10, 50, 0, &redis, "w1", "host1:2");  // its host is back
  for (int i = 4; i <= 5; ++i) w1.queue.push(event_text(i));
  BOOST_TEST(w1.run() == 0);
  BOOST_TEST(w2.store.ids() == ids(1, 3), boost::test_tools::per_element());
  BOOST_TEST(w1.store.ids() == ids(4, 5), boost::test_tools::per_element());
  BOOST_TEST(w1.queue.holder.empty());  // released on its clean stop
}

BOOST_AUTO_TEST_SUITE_END()

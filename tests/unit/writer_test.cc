// The queue writer's drain (writer/drain.h), one writer over fakes of its
// ports (tests/unit/writer_fakes.h); several writers over one Redis are in
// tests/unit/writer_peers_test.cc.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <deque>
#include <string>
#include <vector>

#include "tests/unit/writer_fakes.h"

using namespace popup;
using namespace popup_test;

BOOST_AUTO_TEST_SUITE(writer)

BOOST_AUTO_TEST_CASE(a_full_batch_goes_at_once_in_batches_of_batch_size) {
  World w(10, 50, 25);
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.sizes() == (std::vector<size_t>{10, 10, 5}), boost::test_tools::per_element());
  BOOST_TEST(w.store.ids() == ids(1, 25), boost::test_tools::per_element());
  BOOST_TEST(w.store.committed_at.front() == 0);  // did not wait out batch_ms
  BOOST_TEST(w.drained());
  BOOST_TEST(w.queue.last_published.batches == 3);
  BOOST_TEST(w.queue.last_published.events == 25);
  BOOST_TEST(w.queue.holder.empty());  // the lease is released on a clean stop
}

BOOST_AUTO_TEST_CASE(a_partial_batch_waits_batch_ms_then_goes) {
  World w(100, 50, 3);
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.ids() == ids(1, 3), boost::test_tools::per_element());
  BOOST_TEST(w.store.committed_at.front() >= 50);
  BOOST_TEST(w.store.committed_at.front() < 100);
}

BOOST_AUTO_TEST_CASE(events_that_arrive_during_the_window_fill_the_batch_early) {
  World w(100, 1000, 1);
  int next = 2;
  w.queue.on_depth = [&] {
    for (int i = 0; i < 30 && next <= 150; ++i) w.queue.push(event_text(next++));
  };
  w.queue.on_idle = [&] { w.stop = next > 150; };
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.batches.size() >= 2u);
  BOOST_TEST(w.store.batches.front().size() == 100u);
  BOOST_TEST(w.store.committed_at.front() < 1000);
  BOOST_TEST(w.store.ids() == ids(1, 150), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(what_a_previous_run_left_in_hand_is_applied_first_in_order) {
  World w(2, 50, 0);
  for (int i = 1; i <= 5; ++i) w.queue.processing.push_front(event_text(i));  // taken before
  for (int i = 6; i <= 8; ++i) w.queue.push(event_text(i));
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.sizes() == (std::vector<size_t>{2, 2, 1, 2, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(w.store.ids() == ids(1, 8), boost::test_tools::per_element());
  BOOST_TEST(w.drained());
}

BOOST_AUTO_TEST_CASE(a_failed_commit_acknowledges_nothing_and_is_retried_without_duplicates) {
  World w(10, 50, 5);
  w.store.fail_next = 3;
  w.store.before = [&](const std::vector<Event>&) {
    BOOST_TEST(w.queue.processing.size() == 5u);  // nothing acknowledged before a commit
  };
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.attempts == 4);
  BOOST_TEST(w.store.ids() == ids(1, 5), boost::test_tools::per_element());
  BOOST_TEST(w.queue.last_published.errors == 3);
  BOOST_TEST(w.store.committed_at.front() >= 100 + 200 + 400);  // backed off, doubling
  BOOST_TEST(w.drained());
}

BOOST_AUTO_TEST_CASE(a_failed_acknowledge_is_retried_and_the_batch_is_not_applied_again) {
  World w(10, 50, 4);
  w.queue.fail_acks = 2;
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.attempts == 1);
  BOOST_TEST(w.store.ids() == ids(1, 4), boost::test_tools::per_element());
  BOOST_TEST(w.drained());
}

// The acknowledgement ran, but its reply was lost (a timeout; a Redis
// failover that promoted a replica which had received it): the retry must
// not drop the next batch, which nobody applied. Dropping by count lost it.
BOOST_AUTO_TEST_CASE(an_acknowledge_whose_reply_is_lost_does_not_drop_the_next_batch) {
  World w(4, 50, 10);
  w.queue.lose_ack_replies = 1;
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.ids() == ids(1, 10), boost::test_tools::per_element());
  BOOST_TEST(w.queue.last_published.events == 10);
  BOOST_TEST(w.drained());
}

BOOST_AUTO_TEST_CASE(a_poison_event_is_set_aside_and_the_rest_of_its_batch_lands) {
  World w(10, 50, 0);
  w.queue.push(event_text(1));
  w.queue.push("{not an event");
  w.queue.push(event_text(2));
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.batches.size() == 1u);
  BOOST_TEST(w.store.ids() == ids(1, 2), boost::test_tools::per_element());
  BOOST_TEST(w.queue.dead == (std::deque<std::string>{"{not an event"}),
             boost::test_tools::per_element());
  BOOST_TEST(w.queue.last_published.dead == 1);
  BOOST_TEST(w.drained());
}

BOOST_AUTO_TEST_CASE(a_move_whose_reply_is_lost_applies_what_the_processing_list_holds) {
  World w(10, 50, 25);
  w.queue.fail_takes = 1;
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.ids() == ids(1, 25), boost::test_tools::per_element());
  BOOST_TEST(w.drained());
}

BOOST_AUTO_TEST_CASE(a_stop_while_mysql_is_down_gives_the_batch_back_in_order) {
  World w(3, 50, 7);
  w.store.fail_next = 1000;
  w.store.on_fail = [&] {
    if (w.store.attempts == 3) w.stop = 1;
  };
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.batches.empty());
  BOOST_TEST(w.queue.gave_back == 1);
  BOOST_TEST(w.queue.processing.empty());
  // The queue is as it was: the oldest at the consumer end.
  std::deque<std::string> expect;
  for (int i = 1; i <= 7; ++i) expect.push_front(event_text(i));
  BOOST_TEST(w.queue.queue == expect, boost::test_tools::per_element());
  BOOST_TEST(w.queue.holder.empty());
}

BOOST_AUTO_TEST_CASE(a_lease_held_by_another_owner_is_waited_for) {
  World w(10, 50, 3);
  w.queue.holder = "other:9";
  w.clock.on_sleep = [&] {
    if (w.queue.holder != "other:9") return;
    BOOST_TEST(w.queue.queue.size() == 3u);  // untouched while the other holds it
    if (w.clock.now >= 3000) w.queue.holder.clear();  // it expired
  };
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.committed_at.front() >= 3000);
  BOOST_TEST(w.store.ids() == ids(1, 3), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_lost_lease_stops_the_writer_without_touching_the_batch) {
  World w(10, 50, 4);
  w.store.fail_next = 1000;
  w.store.on_fail = [&] {
    if (w.store.attempts == 2) w.queue.holder = "other:9";  // expired and taken meanwhile
  };
  BOOST_TEST(w.run() == 3);
  BOOST_TEST(w.queue.gave_back == 0);
  BOOST_TEST(w.queue.processing.size() == 4u);  // the new owner's to apply
  BOOST_TEST(w.queue.holder == "other:9");
}

BOOST_AUTO_TEST_CASE(redis_down_at_start_waits_and_then_drains) {
  World w(10, 50, 2);
  w.queue.down = true;
  w.clock.on_sleep = [&] {
    if (w.clock.now >= 2000) w.queue.down = false;
  };
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.ids() == ids(1, 2), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_stop_before_the_lease_touches_nothing) {
  World w(10, 50, 2);
  w.queue.holder = "other:9";
  w.clock.on_sleep = [&] { w.stop = w.clock.now >= 500; };
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.attempts == 0);
  BOOST_TEST(w.queue.queue.size() == 2u);
  BOOST_TEST(w.queue.holder == "other:9");
}

BOOST_AUTO_TEST_CASE(an_idle_writer_reports_no_lag) {
  World w(10, 50, 1);
  int idle = 0;
  w.queue.on_idle = [&] {
    if (++idle == 2) w.stop = 1;
  };
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.queue.last_published.lag_ms == 0);
  BOOST_TEST(w.queue.last_published.events == 1);
}

// While the queue is empty nothing is applied, so only the idle check
// (Drain::kIdleCheckMs) can see the database go and come back.
BOOST_AUTO_TEST_CASE(an_idle_writer_reports_its_database_lost_and_back) {
  World w(10, 50, 0);
  const int64_t period = Drain::kIdleCheckMs;
  int64_t lost_at = 0, seen_lost = 0, back_at = 0, seen_back = 0;
  std::string node_while_lost = "?";
  w.queue.on_idle = [&] {
    const WriterStats& p = w.queue.last_published;  // as of the writer's last loop
    int64_t t = w.clock.now;
    BOOST_TEST(w.queue.queue.empty());
    if (t == 10'000) w.store.down = true, lost_at = t;
    if (lost_at && !seen_lost && !p.db_reachable) seen_lost = t, node_while_lost = p.db_node;
    if (seen_lost && !back_at && t >= seen_lost + 10'000) w.store.down = false, back_at = t;
    if (back_at && !seen_back && p.db_reachable) seen_back = t;
    w.stop = t >= 60'000;
  };
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.attempts == 0);  // no batch: the idle checks alone
  BOOST_REQUIRE(seen_lost > 0);
  BOOST_TEST(seen_lost - lost_at <= period + 1000);
  BOOST_TEST(node_while_lost == "");
  BOOST_REQUIRE(seen_back > 0);
  BOOST_TEST(seen_back - back_at <= period + 1000);
  BOOST_TEST(w.queue.last_published.db_reachable);
  BOOST_TEST(w.queue.last_published.db_node == "db1:3306");
  // One check per period while idle, no more.
  BOOST_TEST(w.store.checks >= 60'000 / period - 1);
  BOOST_TEST(w.store.checks <= 60'000 / period + 1);
}

BOOST_AUTO_TEST_CASE(a_writer_that_just_applied_a_batch_does_not_check_its_database) {
  World w(10, 50, 3);
  w.queue.on_idle = [&] { w.stop = w.clock.now >= Drain::kIdleCheckMs - 1000; };
  BOOST_TEST(w.run() == 0);
  BOOST_TEST(w.store.ids() == ids(1, 3), boost::test_tools::per_element());
  BOOST_TEST(w.store.checks == 0);
  BOOST_TEST(w.queue.last_published.db_reachable);
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fcgi/flusher.h"

using namespace popup;
using namespace std::chrono_literals;

namespace {

// Remembers every batch; fails the next `fail_next` batches.
class FakeSink : public EventSink {
 public:
  std::vector<Stored> store(const std::vector<Pending>& batch) override {
    std::lock_guard<std::mutex> l(mu);
    if (fail_next > 0) {
      --fail_next;
      ++failed_batches;
      return std::vector<Stored>(batch.size(), Stored::failed);
    }
    std::vector<Stored> out;
    for (const auto& p : batch) {
      ids.push_back(p.event.id);
      sizes.push_back(batch.size());
      out.push_back(p.once_ttl_s > 0 && seen_once++ > 0 ? Stored::before : Stored::yes);
    }
    return out;
  }
  size_t stored() {
    std::lock_guard<std::mutex> l(mu);
    return ids.size();
  }
  std::mutex mu;
  std::vector<std::string> ids;
  std::vector<size_t> sizes;
  int fail_next = 0;
  int failed_batches = 0;
  int seen_once = 0;
};

Pending item(int i, int64_t once = 0) {
  Pending p;
  p.event.id = "e" + std::to_string(i);
  p.once_ttl_s = once;
  return p;
}

FlusherOptions opts(std::chrono::milliseconds interval, size_t batch, size_t max_waiting,
                    std::chrono::milliseconds retry) {
  FlusherOptions o;
  o.interval = interval;
  o.batch = batch;
  o.max_waiting = max_waiting;
  o.retry = retry;
  return o;
}

// Waits (generously) for a condition; never a fixed sleep as the check.
template <class F>
bool eventually(F f) {
  for (int i = 0; i < 20000; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return f();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(flusher)

BOOST_AUTO_TEST_CASE(impressions_go_in_order_in_batches_of_at_most_batch) {
  FakeSink sink;
  {
    Flusher f(sink, opts(1ms, 200, 100000, 200ms));
    for (int i = 0; i < 1000; ++i) f.queue(item(i));
    BOOST_TEST(eventually([&] { return sink.stored() == 1000; }));
  }
  for (int i = 0; i < 1000; ++i) BOOST_TEST(sink.ids[i] == "e" + std::to_string(i));
  for (size_t n : sink.sizes) BOOST_TEST(n <= 200u);
}

BOOST_AUTO_TEST_CASE(a_lone_impression_is_stored_after_the_interval) {
  FakeSink sink;
  Flusher f(sink, opts(1ms, 200, 100000, 200ms));
  f.queue(item(1));
  BOOST_TEST(eventually([&] { return sink.stored() == 1; }));
  f.queue(item(2));
  BOOST_TEST(eventually([&] { return sink.stored() == 2; }));
}

BOOST_AUTO_TEST_CASE(a_full_batch_does_not_wait_for_the_interval) {
  FakeSink sink;
  Flusher f(sink, opts(std::chrono::hours(1), 10, 100000, 200ms));
  for (int i = 0; i < 10; ++i) f.queue(item(i));
  BOOST_TEST(eventually([&] { return sink.stored() == 10; }));
}

BOOST_AUTO_TEST_CASE(an_action_waits_for_its_batch_behind_earlier_impressions) {
  FakeSink sink;
  Flusher f(sink, opts(std::chrono::hours(1), 200, 100000, 200ms));
  f.queue(item(1));
  f.queue(item(2));
  BOOST_TEST((f.store(item(3)) == Stored::yes));
  // Returned only once stored, and after the impressions queued before it.
  std::lock_guard<std::mutex> l(sink.mu);
  BOOST_REQUIRE(sink.ids.size() == 3u);
  BOOST_TEST(sink.ids[0] == "e1");
  BOOST_TEST(sink.ids[2] == "e3");
}

BOOST_AUTO_TEST_CASE(a_keyed_action_seen_before_says_so) {
  FakeSink sink;
  Flusher f(sink, FlusherOptions{});
  BOOST_TEST((f.store(item(1, 60)) == Stored::yes));
  BOOST_TEST((f.store(item(1, 60)) == Stored::before));
}

BOOST_AUTO_TEST_CASE(a_failed_batch_fails_its_action_and_retries_its_impressions_in_order) {
  FakeSink sink;
  sink.fail_next = 1;
  Flusher f(sink, opts(std::chrono::hours(1), 200, 100000, 1ms));
  f.queue(item(1));
  BOOST_TEST((f.store(item(2)) == Stored::failed));
  f.queue(item(3));
  BOOST_TEST((f.store(item(4)) == Stored::yes));
  std::lock_guard<std::mutex> l(sink.mu);
  BOOST_TEST(sink.failed_batches == 1);
  BOOST_REQUIRE(sink.ids.size() == 3u);  // e2, the failed action, is not retried
  BOOST_TEST(sink.ids[0] == "e1");
  BOOST_TEST(sink.ids[1] == "e3");
  BOOST_TEST(sink.ids[2] == "e4");
}

BOOST_AUTO_TEST_CASE(beyond_max_waiting_the_oldest_impressions_are_dropped) {
  FakeSink sink;
  sink.fail_next = 1000000;  // the sink is down
  Flusher f(sink, opts(std::chrono::hours(1), 5, 10, std::chrono::hours(1)));
  for (int i = 0; i < 25; ++i) f.queue(item(i));
  BOOST_TEST(eventually([&] { return f.dropped() >= 15; }));
  BOOST_TEST(f.waiting() <= 10u);
}

// The hook that keeps the owners' "not yet stored" counts
// (fcgi/user_generations.h): every impression leaves once, stored or not.
BOOST_AUTO_TEST_CASE(every_impression_leaves_exactly_once) {
  FakeSink sink;
  sink.fail_next = 1000000;
  std::atomic<int> left{0};
  FlusherOptions o = opts(std::chrono::hours(1), 5, 10, std::chrono::hours(1));
  o.left = [&left](const Pending&) { ++left; };
  {
    Flusher f(sink, o);
    for (int i = 0; i < 25; ++i) f.queue(item(i));
    BOOST_TEST(eventually([&] { return f.dropped() >= 15; }));
    BOOST_TEST(left.load() == static_cast<int>(f.dropped()));
  }  // the rest is given up on the way out
  BOOST_TEST(left.load() == 25);
  FakeSink good;
  left = 0;
  {
    Flusher f(good, o);
    for (int i = 0; i < 7; ++i) f.queue(item(i));
    BOOST_TEST((f.store(item(8)) == Stored::yes));  // actions do not count
  }
  BOOST_TEST(left.load() == 7);
}

BOOST_AUTO_TEST_CASE(stop_stores_what_waits) {
  FakeSink sink;
  Flusher f(sink, opts(std::chrono::hours(1), 200, 100000, 200ms));
  for (int i = 0; i < 7; ++i) f.queue(item(i));
  f.stop();
  BOOST_TEST(sink.stored() == 7u);
  BOOST_TEST(f.waiting() == 0u);
  // After stop, an action is stored by the caller's thread.
  BOOST_TEST((f.store(item(8)) == Stored::yes));
  BOOST_TEST(sink.stored() == 8u);
}

BOOST_AUTO_TEST_CASE(many_threads_lose_nothing) {
  FakeSink sink;
  std::atomic<int> ok{0};
  {
    Flusher f(sink, opts(1ms, 50, 100000, 1ms));
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0; i < 500; ++i) {
          if (i % 50 == 0)
            ok += f.store(item(t * 1000 + i)) == Stored::yes;
          else
            f.queue(item(t * 1000 + i));
        }
      });
    for (auto& t : ts) t.join();
  }
  BOOST_TEST(ok.load() == 40);
  BOOST_TEST(sink.stored() == 2000u);
}

BOOST_AUTO_TEST_SUITE_END()

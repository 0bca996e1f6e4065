// The queue writer's drain (writer/drain.h) over fakes of its ports
// (writer/ports.h): a queue and a processing list that behave like the
// Redis lists, a store that remembers each commit, and a clock that moves
// only when the writer sleeps, so the batch window and the backoffs cost no
// real time.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/event.h"
#include "writer/drain.h"

using namespace popup;

namespace {

class FakeClock : public WriterClock {
 public:
  int64_t now = 0;
  std::function<void()> on_sleep;  // after each sleep
  int64_t steady_ms() override { return now; }
  int64_t wall_us() override { return 1'700'000'000'000'000 + now * 1000; }
  void sleep_ms(int64_t ms) override {
    now += ms;
    if (on_sleep) on_sleep();
  }
};

// Two lists as Redis keeps them: the front is the left end (where LPUSH
// puts the newest), the back the right end (the oldest, taken first).
class FakeQueue : public WriterQueue {
 public:
  FakeQueue(FakeClock& clock, volatile sig_atomic_t* stop) : clock_(clock), stop_(stop) {}

  std::deque<std::string> queue, processing, dead;
  std::string holder;        // the heartbeat's owner; "" when none holds it
  bool down = false;         // every call fails, as when Redis is unreachable
  int fail_takes = 0;        // the next take()s fail after moving
  int fail_acks = 0;         // the next acknowledge()s fail
  std::function<void()> on_depth;  // before each depth(): events arriving
  // When the queue is empty: the writer waited its second; by default the
  // test is over.
  std::function<void()> on_idle = [this] { *stop_ = 1; };
  int gave_back = 0;
  WriterStats last_published;

  void push(const std::string& item) { queue.push_front(item); }  // a worker's LPUSH

  const QueueNames& names() const override { return names_; }
  Lease heartbeat(std::string* h) override {
    if (down) return Lease::error;
    if (!holder.empty() && holder != names_.owner) {
      *h = holder;
      return Lease::other;
    }
    holder = names_.owner;
    return Lease::held;
  }
  bool release(std::string* err) override {
    if (fails(err)) return false;
    if (holder == names_.owner) holder.clear();
    return true;
  }
  Wait wait_first(std::string* item, std::string* err) override {
    if (fails(err)) return Wait::error;
    if (queue.empty()) {
      clock_.now += 1000;
      if (on_idle) on_idle();
      return Wait::empty;
    }
    *item = queue.back();
    move_oldest();
    return Wait::item;
  }
  std::optional<int64_t> depth() override {
    if (!down && on_depth) on_depth();
    return down ? std::nullopt : std::optional<int64_t>(queue.size());
  }
  bool take(int want, int whole, int batch, std::vector<std::string>* items,
            std::string* err) override {
    if (fails(err)) return false;
    size_t n = queue.size() <= static_cast<size_t>(whole) ? queue.size()
                                                          : static_cast<size_t>(want);
    for (size_t i = 0; i < n && !queue.empty(); ++i) move_oldest();
    if (fail_takes > 0) {
      --fail_takes;
      *err = "reply lost";
      return false;
    }
    return in_hand(batch, items, err);
  }
  bool in_hand(int batch, std::vector<std::string>* items, std::string* err) override {
    if (fails(err)) return false;
    items->clear();
    for (auto it = processing.rbegin(); it != processing.rend() && items->size() < size_t(batch);
         ++it)
      items->push_back(*it);
    return true;
  }
  std::optional<int64_t> in_hand_count() override {
    return down ? std::nullopt : std::optional<int64_t>(processing.size());
  }
  bool acknowledge(size_t n, std::string* err) override {
    if (fails(err)) return false;
    if (fail_acks > 0) {
      --fail_acks;
      *err = "timeout";
      return false;
    }
    for (size_t i = 0; i < n && !processing.empty(); ++i) processing.pop_back();
    return true;
  }
  std::optional<int64_t> give_back(std::string* err) override {
    if (fails(err)) return std::nullopt;
    int64_t n = 0;
    for (; !processing.empty(); ++n) {  // LMOVE processing queue LEFT RIGHT
      queue.push_back(processing.front());
      processing.pop_front();
    }
    ++gave_back;
    return n;
  }
  bool dead_letter(const std::string& item, std::string* err) override {
    if (fails(err)) return false;
    dead.push_front(item);
    return true;
  }
  void publish(const WriterStats& st) override {
    if (!down) last_published = st;
  }

 private:
  bool fails(std::string* err) {
    if (down) *err = "connection refused";
    return down;
  }
  void move_oldest() {  // BLMOVE queue processing RIGHT LEFT
    processing.push_front(queue.back());
    queue.pop_back();
  }
  FakeClock& clock_;
  volatile sig_atomic_t* stop_;
  QueueNames names_{"p:events", "p:events:processing:w1", "p:writer:w1:alive", "p:events:dead",
                    "host:1"};
};

// Commits like MySQL: all of a batch or nothing. Remembers each commit.
class FakeStore : public WriterStore {
 public:
  int fail_next = 0;  // the next applies fail (MySQL down)
  std::function<void()> on_fail;
  std::function<void(const std::vector<Event>&)> before;  // each attempt
  std::vector<std::vector<std::string>> batches;  // committed, ids in order
  std::vector<int64_t> committed_at;              // the clock at each commit
  int attempts = 0;
  FakeClock* clock = nullptr;

  bool apply(const std::vector<Event>& batch, std::string* err) override {
    ++attempts;
    if (before) before(batch);
    if (fail_next > 0) {
      --fail_next;
      *err = "Lost connection to MySQL server";
      if (on_fail) on_fail();
      return false;
    }
    std::vector<std::string> ids;
    for (const auto& e : batch) ids.push_back(e.id);
    batches.push_back(ids);
    committed_at.push_back(clock ? clock->now : 0);
    return true;
  }
  // Every id committed, in commit order.
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
    return out;
  }
  std::vector<size_t> sizes() const {
    std::vector<size_t> out;
    for (const auto& b : batches) out.push_back(b.size());
    return out;
  }
};

std::string event_id(int n) { return format_event_id(0, static_cast<uint64_t>(n)); }

std::string event_text(int n) {
  Event e;
  e.id = event_id(n);
  e.uid = "u" + std::to_string(n);
  e.popup_id = 7;
  e.ts = 1'700'000'000;
  e.order = 1'700'000'000'000'000 + n;
  e.state = UserState{1'700'003'600, 1, LastAction::show, e.ts, e.order};
  return encode_event(e);
}

std::vector<std::string> ids(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(event_id(i));
  return out;
}

// One writer over the fakes, with the queue holding events 1..queued.
struct World {
  Settings s;
  volatile sig_atomic_t stop = 0;
  FakeClock clock;
  FakeQueue queue{clock, &stop};
  FakeStore store;

  World(int batch_size, int batch_ms, int queued) {
    s.batch_size = batch_size;
    s.batch_ms = batch_ms;
    store.clock = &clock;
    for (int i = 1; i <= queued; ++i) queue.push(event_text(i));
  }
  int run() { return Drain(s, &stop, queue, store, clock).run(); }
  bool drained() const { return queue.queue.empty() && queue.processing.empty(); }
};

}  // namespace

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

BOOST_AUTO_TEST_SUITE_END()

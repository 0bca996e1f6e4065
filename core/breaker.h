// A circuit breaker for a dependency that the threads of one process share
// (Redis for the pool). Without it, every request pays the full timeout
// while Redis hangs, and a pool whose threads all wait on timeouts answers
// almost nothing. After `threshold` failures in a row the breaker opens for
// `open_ms`: callers skip the dependency and take their fallback at once.
// When that time is up, calls go through again; one success closes the
// breaker (so does a success of a call that started before it opened, or of
// a health check that bypasses it), one failure opens it again at once (the
// count is still at the threshold). threshold 0 turns the breaker off. Thread-safe; the caller
// passes the clock, so the logic is pure.
#pragma once

#include <atomic>
#include <cstdint>

namespace popup {

class Breaker {
 public:
  Breaker(int threshold, int64_t open_ms) : threshold_(threshold), open_ms_(open_ms) {}
  Breaker(const Breaker&) = delete;
  Breaker& operator=(const Breaker&) = delete;

  // false while open: skip the dependency.
  bool allow(int64_t now_ms) const {
    return threshold_ <= 0 || now_ms >= open_until_ms_.load(std::memory_order_relaxed);
  }
  // A call worked (or a health check got through): closes the breaker.
  void success() {
    if (failures_.load(std::memory_order_relaxed) != 0) failures_.store(0, std::memory_order_relaxed);
    if (open_until_ms_.load(std::memory_order_relaxed) != 0) {
      open_until_ms_.store(0, std::memory_order_relaxed);
      if (mirror_) mirror_->store(0, std::memory_order_relaxed);
    }
  }
  // Returns true when this failure opened the breaker.
  bool failure(int64_t now_ms);
  // Until when (caller's clock, ms) calls are skipped; 0 or past = closed.
  int64_t open_until_ms() const { return open_until_ms_.load(std::memory_order_relaxed); }
  // Also keeps open_until_ms() in *m (shared memory that /api/metrics reads
  // for every process of the pool); nullptr: nowhere.
  void mirror_to(std::atomic<int64_t>* m) {
    mirror_ = m;
    if (m) m->store(open_until_ms(), std::memory_order_relaxed);
  }

 private:
  const int threshold_;
  const int64_t open_ms_;
  std::atomic<int> failures_{0};
  std::atomic<int64_t> open_until_ms_{0};
  std::atomic<int64_t>* mirror_ = nullptr;
};

}  // namespace popup

#include "core/breaker.h"

namespace popup {

bool Breaker::failure(int64_t now_ms) {
  if (threshold_ <= 0) return false;
  int n = failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n < threshold_) return false;
  // Saturate so that a long outage cannot overflow the count.
  if (n > threshold_) failures_.store(threshold_, std::memory_order_relaxed);
  int64_t until = now_ms + open_ms_;
  int64_t seen = open_until_ms_.load(std::memory_order_relaxed);
  for (;;) {
    if (seen >= until) return false;  // already open at least that long
    // Only the thread that moves it from closed (seen <= now) opened it.
    if (open_until_ms_.compare_exchange_weak(seen, until, std::memory_order_relaxed)) {
      if (mirror_) mirror_->store(until, std::memory_order_relaxed);
      return seen <= now_ms;
    }
  }
}

}  // namespace popup

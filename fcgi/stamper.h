// Event ids and order stamps (README "Event encoding").
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "core/event.h"

namespace popup {

// The wall clock in microseconds (event order stamps, queue ages).
int64_t wall_us();

// The events of one thread: order stamps strictly increasing within the
// thread even when the clock repeats a value, ids of the stamp and 64
// random bits.
class EventStamper {
 public:
  EventStamper();
  Event make(const std::string& uid, int64_t popup_id, LastAction kind, const UserState& st,
             int64_t now);

 private:
  std::mt19937_64 rng_;
  int64_t last_order_ = 0;
};

}  // namespace popup

// Event ids and order stamps (docs/design.md "Event encoding").
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
  // The event of a decision that produced `st` from the state `base` (null:
  // none). Its order is above base's too, whatever this host's clock says
  // (a hybrid logical clock): a state decided from another host's write is
  // newer than that write even when this clock lags. The event's state
  // carries the order (UserState::order).
  Event make(const std::string& uid, int64_t popup_id, LastAction kind, const UserState& st,
             int64_t now, const UserState* base = nullptr);

 private:
  std::mt19937_64 rng_;
  int64_t last_order_ = 0;
};

}  // namespace popup

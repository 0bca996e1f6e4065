// Queued events: one per impression and per action. The encoding is one JSON
// object per list item, documented in docs/design.md ("Event encoding"):
//   {"id":"<32 hex>","uid":"alice","popup_id":7,"kind":"show","ts":1700000000,
//    "order":1700000000123456,"next_show_at":1700003600,"impressions":1,
//    "last_action":"show"}
// `ts` is the (possibly test-clock) time of the event; `order` is a strictly
// wall-clock microsecond stamp used to keep the newest state when events are
// replayed or arrive out of order; next_show_at is -1 for "never".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/popup.h"

namespace popup {

struct Event {
  std::string id;  // 32 lower-case hex digits
  std::string uid;
  int64_t popup_id = 0;
  LastAction kind = LastAction::show;
  int64_t ts = 0;
  int64_t order = 0;
  UserState state;  // the state after the event; state.updated_at == ts, state.order == order
  friend bool operator==(const Event&, const Event&) = default;
};

std::string encode_event(const Event& e);

// Error (bad_request) when the text is not a complete, well-typed event:
// invalid JSON, a missing field, an invalid id or uid, an unknown kind.
Result<Event> decode_event(std::string_view text);

// 32 lower-case hex digits of two 64-bit words, high first (an
// impression's: its order stamp, then a random word; fcgi/stamper.h).
std::string format_event_id(uint64_t hi, uint64_t lo);

// The event id of an action sent with an idempotency key: the first 128 bits
// of SHA-256("action" NUL uid NUL source NUL key) in hex, so a retry of the
// same (uid, key), by nginx or by the client, becomes the same event, in any
// process. `source` keeps the keys of different origins apart ("client" for
// the Idempotency-Key header or action_id field, "nginx" for nginx's
// $request_id).
std::string action_event_id(std::string_view uid, std::string_view source, std::string_view key);

}  // namespace popup

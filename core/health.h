// What /api/healthz concludes from the facts it gathered (SPEC "GET
// /api/healthz"): "unavailable" (503) when the service cannot answer
// popups; "degraded" (still 200) when it answers but something needs an
// operator: no writer alive, the oldest waiting event older than the limit
// (a growing backlog), or Redis or MySQL down; "ok" otherwise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace popup {

struct HealthFacts {
  bool config = false;  // a configuration set is in hand
  bool redis = false;
  bool mysql = false;
  int64_t writers_alive = -1;       // -1: unknown (Redis down)
  int64_t queue_oldest_age_s = -1;  // -1: unknown; 0 when nothing waits
};

struct HealthVerdict {
  int http_status = 200;
  const char* status = "ok";  // "ok", "degraded" or "unavailable"
};

HealthVerdict judge_health(const HealthFacts& f, int64_t queue_age_degraded_s);

// Age in microseconds at now_us of the oldest of these queued items (the
// smallest "order", core/event.h); items that do not decode as events are
// skipped; 0 when none decodes. Never negative (a clock that stepped back).
int64_t oldest_event_age_us(const std::vector<std::string>& items, int64_t now_us);

}  // namespace popup

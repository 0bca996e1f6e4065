#include "core/health.h"

#include <algorithm>

#include "core/event.h"

namespace popup {

HealthVerdict judge_health(const HealthFacts& f, int64_t queue_age_degraded_s) {
  if (!f.config || (!f.redis && !f.mysql)) return HealthVerdict{503, "unavailable"};
  bool backlog = f.queue_oldest_age_s > queue_age_degraded_s;
  if (!f.redis || !f.mysql || f.writers_alive <= 0 || backlog) return HealthVerdict{200, "degraded"};
  return HealthVerdict{};
}

int64_t oldest_event_age_us(const std::vector<std::string>& items, int64_t now_us) {
  int64_t age = 0;
  for (const auto& item : items) {
    auto e = decode_event(item);
    if (e.ok()) age = std::max(age, now_us - e.value().order);
  }
  return age;
}

}  // namespace popup

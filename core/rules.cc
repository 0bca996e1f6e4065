// Re-display rules. Times and counts come from configuration, from state read
// back out of Redis and MySQL and (in tests) from a client-set clock, so the
// arithmetic saturates instead of overflowing, and a computed next_show_at is
// never negative: a corrupt row or an odd clock must neither become undefined
// behaviour nor turn into kNever by accident.
#include "core/rules.h"

#include <algorithm>
#include <limits>

namespace popup {
namespace {

int64_t add_clamped(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

int64_t show_at(int64_t now, int64_t cooldown) {
  return std::max<int64_t>(0, add_clamped(now, cooldown));
}

}  // namespace

bool state_allows(const Popup& p, const UserState* st, int64_t now) {
  int64_t impressions = st ? st->impressions : 0;
  if (p.max_impressions && impressions >= *p.max_impressions) return false;
  if (!st) return true;
  if (st->next_show_at == kNever) return false;
  return now >= st->next_show_at;
}

UserState after_impression(const Popup& p, const UserState* st, int64_t now) {
  UserState next;
  next.impressions = add_clamped(st ? st->impressions : 0, 1);
  next.next_show_at = show_at(now, p.show_cooldown_s);
  next.last_action = LastAction::show;
  next.updated_at = now;
  return next;
}

UserState after_action(const Popup& p, const UserState* st, Action a, int64_t now) {
  UserState next;
  next.impressions = st ? st->impressions : 0;
  if (a == Action::click) {
    next.next_show_at = p.click_cooldown_s ? show_at(now, *p.click_cooldown_s) : kNever;
    next.last_action = LastAction::click;
  } else {
    next.next_show_at = show_at(now, p.ignore_cooldown_s);
    next.last_action = LastAction::ignore;
  }
  next.updated_at = now;
  return next;
}

}  // namespace popup

#include "core/rules.h"

namespace popup {

bool state_allows(const Popup& p, const UserState* st, int64_t now) {
  if (!st) return !p.max_impressions || *p.max_impressions > 0;
  if (st->next_show_at == kNever) return false;
  if (now < st->next_show_at) return false;
  if (p.max_impressions && st->impressions >= *p.max_impressions) return false;
  return true;
}

UserState after_impression(const Popup& p, const UserState* st, int64_t now) {
  UserState next;
  next.impressions = (st ? st->impressions : 0) + 1;
  next.next_show_at = now + p.show_cooldown_s;
  next.last_action = LastAction::show;
  next.updated_at = now;
  return next;
}

UserState after_action(const Popup& p, const UserState* st, Action a, int64_t now) {
  UserState next;
  next.impressions = st ? st->impressions : 0;
  if (a == Action::click) {
    next.next_show_at = p.click_cooldown_s ? now + *p.click_cooldown_s : kNever;
    next.last_action = LastAction::click;
  } else {
    next.next_show_at = now + p.ignore_cooldown_s;
    next.last_action = LastAction::ignore;
  }
  next.updated_at = now;
  return next;
}

}  // namespace popup

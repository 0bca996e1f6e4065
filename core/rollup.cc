#include "core/rollup.h"

#include <map>
#include <set>
#include <tuple>

namespace popup {

Rollup rollup(const std::vector<Event>& events) {
  std::map<std::pair<int64_t, int64_t>, DailyCount> counts;
  std::set<std::tuple<int64_t, int64_t, std::string>> users;
  for (const Event& e : events) {
    int64_t day = unix_day(e.ts);
    DailyCount& c = counts[{e.popup_id, day}];
    c.popup_id = e.popup_id;
    c.day = day;
    switch (e.kind) {
      case LastAction::show:
        ++c.impressions;
        users.emplace(e.popup_id, day, e.uid);
        break;
      case LastAction::click:
        ++c.clicks;
        break;
      case LastAction::ignore:
        ++c.ignores;
        break;
    }
  }
  Rollup r;
  for (auto& [key, c] : counts) r.counts.push_back(c);
  for (const auto& [popup_id, day, uid] : users) r.users.push_back({popup_id, day, uid});
  return r;
}

}  // namespace popup

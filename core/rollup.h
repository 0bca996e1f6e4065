// The daily roll-ups popupctl reports from (sql/migrations/002 and 003):
// per popup and UTC day, counts by kind (popup_daily), and who saw a popup
// on a day (popup_daily_users, impressions only). Computed here from the
// events a batch really inserted, so the MySQL side is two multi-row
// statements per batch instead of a trigger firing for every event row
// (measured: the trigger cost MariaDB 52 µs of CPU per event, the batch
// statements 30, measured with bench/writer_bench.py).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/event.h"

namespace popup {

// Days since 1970-01-01 (UTC) of a unix time, as MySQL's `ts DIV 86400`
// (which truncates toward zero, so it is used for negative times too).
inline int64_t unix_day(int64_t ts) { return ts / 86400; }

struct DailyCount {
  int64_t popup_id = 0;
  int64_t day = 0;  // unix_day
  int64_t impressions = 0, clicks = 0, ignores = 0;
  friend bool operator==(const DailyCount&, const DailyCount&) = default;
};

struct DailyUser {
  int64_t popup_id = 0;
  int64_t day = 0;
  std::string uid;
  friend bool operator==(const DailyUser&, const DailyUser&) = default;
};

struct Rollup {
  std::vector<DailyCount> counts;  // one per (popup, day), sorted by it
  std::vector<DailyUser> users;    // one per (popup, day, uid) with a show, sorted
};

// The roll-up of `events`, each of which counts once (the caller passes
// only the events the batch inserted: a replay counts nothing).
Rollup rollup(const std::vector<Event>& events);

}  // namespace popup

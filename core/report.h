// `popupctl report`: per popup, per UTC day and in total, impressions,
// unique users, clicks, ignores and click-through rate, computed from the
// daily roll-ups (sql/migrations/002_operator.sql) rather than raw events.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace popup {

struct Counts {
  int64_t impressions = 0;
  int64_t users = 0;  // unique users with an impression
  int64_t clicks = 0;
  int64_t ignores = 0;
};

// clicks / impressions; 0 when there were no impressions.
double ctr(const Counts& c);

struct DayRow {
  int64_t popup_id = 0;
  int64_t day = 0;  // days since 1970-01-01 (UTC)
  Counts counts;
};

struct Report {
  std::vector<DayRow> days;                // by popup, then day
  std::map<int64_t, Counts> per_popup;     // totals over the range
  Counts total;                            // every popup
};

// Sums `days` per popup and overall. Unique users cannot be summed (a user
// seen on two days is one user), so the range's counts come in separately:
// `popup_users` per popup and `total_users` over every popup.
Report build_report(std::vector<DayRow> days, const std::map<int64_t, int64_t>& popup_users,
                    int64_t total_users);

// A table with one line per popup and day, a total line per popup and one
// for everything; CTR in percent with two decimals.
std::string format_report_text(const Report& r);

// CSV with a header: popup_id,day,impressions,unique_users,clicks,ignores,ctr
// (day "total" on per-popup totals, popup_id "all" on the last line; ctr as
// a ratio with four decimals).
std::string format_report_csv(const Report& r);

// {"days":[...],"popups":[...],"total":{...}} with ctr as a number written
// as a plain decimal (0.5, 0, 0.3333333333333333), never in exponent form.
std::string report_json(const Report& r);

// `v` as a plain decimal, the shortest that reads back to v: no exponent,
// no trailing zeros, "0" for zero ("0.5", "12", "0.00001"). v must be finite.
std::string plain_decimal(double v);

}  // namespace popup

namespace popup {

// gnuplot's data for one popup's chart: "YYYY-MM-DD impressions ctr%" per
// day of the report, in day order; empty when the popup has no days.
std::string chart_data(const Report& r, int64_t popup_id);

// A gnuplot script drawing that data (impressions as boxes, CTR % on the
// right axis) into an SVG when `out_path` ends in ".svg", else a PNG. The x
// axis spans the popup's first to last day in `r`, one full date
// (YYYY-MM-DD) per tick and at most 15 ticks, each a distinct day; both
// axes and the x axis have titles; the legend sits below the plot area,
// never over the data. Both paths must not contain a single quote.
std::string chart_script(const Report& r, int64_t popup_id, const std::string& data_path,
                         const std::string& out_path);

}  // namespace popup

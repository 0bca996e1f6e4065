#include "core/report.h"

#include <boost/json.hpp>
#include <algorithm>
#include <charconv>
#include <cstdio>

#include "core/iso_time.h"

namespace popup {
namespace {

void add(Counts* to, const Counts& c) {
  to->impressions += c.impressions;
  to->clicks += c.clicks;
  to->ignores += c.ignores;
}

std::string text_line(const std::string& popup, const std::string& day, const Counts& c) {
  char buf[160];
  snprintf(buf, sizeof buf, "%-8s %-10s %11lld %8lld %8lld %8lld %7.2f%%\n", popup.c_str(),
           day.c_str(), static_cast<long long>(c.impressions), static_cast<long long>(c.users),
           static_cast<long long>(c.clicks), static_cast<long long>(c.ignores), ctr(c) * 100);
  return buf;
}

std::string csv_line(const std::string& popup, const std::string& day, const Counts& c) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s,%s,%lld,%lld,%lld,%lld,%.4f\n", popup.c_str(), day.c_str(),
           static_cast<long long>(c.impressions), static_cast<long long>(c.users),
           static_cast<long long>(c.clicks), static_cast<long long>(c.ignores), ctr(c));
  return buf;
}

// One object of counts, written by hand: Boost.JSON writes a double in
// exponent form (5E-1), which the report's readers should not have to take.
std::string counts_json(const Counts& c, const std::string& head) {
  return "{" + head + "\"impressions\":" + std::to_string(c.impressions) +
         ",\"unique_users\":" + std::to_string(c.users) + ",\"clicks\":" + std::to_string(c.clicks) +
         ",\"ignores\":" + std::to_string(c.ignores) + ",\"ctr\":" + plain_decimal(ctr(c)) + "}";
}

}  // namespace

double ctr(const Counts& c) {
  return c.impressions > 0 ? static_cast<double>(c.clicks) / static_cast<double>(c.impressions) : 0.0;
}

Report build_report(std::vector<DayRow> days, const std::map<int64_t, int64_t>& popup_users,
                    int64_t total_users) {
  std::sort(days.begin(), days.end(), [](const DayRow& a, const DayRow& b) {
    return a.popup_id != b.popup_id ? a.popup_id < b.popup_id : a.day < b.day;
  });
  Report r;
  for (const auto& d : days) {
    add(&r.per_popup[d.popup_id], d.counts);
    add(&r.total, d.counts);
  }
  for (auto& [id, c] : r.per_popup) {
    auto it = popup_users.find(id);
    c.users = it == popup_users.end() ? 0 : it->second;
  }
  r.total.users = total_users;
  r.days = std::move(days);
  return r;
}

std::string format_report_text(const Report& r) {
  std::string out = "popup    day        impressions    users   clicks  ignores     ctr\n";
  size_t i = 0;
  for (const auto& [id, total] : r.per_popup) {
    for (; i < r.days.size() && r.days[i].popup_id == id; ++i)
      out += text_line(std::to_string(id), format_iso_date(r.days[i].day), r.days[i].counts);
    out += text_line(std::to_string(id), "total", total);
  }
  return out + text_line("all", "total", r.total);
}

std::string format_report_csv(const Report& r) {
  std::string out = "popup_id,day,impressions,unique_users,clicks,ignores,ctr\n";
  for (const auto& d : r.days) out += csv_line(std::to_string(d.popup_id), format_iso_date(d.day), d.counts);
  for (const auto& [id, c] : r.per_popup) out += csv_line(std::to_string(id), "total", c);
  return out + csv_line("all", "total", r.total);
}

std::string report_json(const Report& r) {
  std::string days, popups;
  for (const auto& d : r.days)
    days += (days.empty() ? "" : ",") +
            counts_json(d.counts, "\"popup_id\":" + std::to_string(d.popup_id) + ",\"day\":" +
                                      boost::json::serialize(boost::json::value(format_iso_date(d.day))) + ",");
  for (const auto& [id, c] : r.per_popup)
    popups += (popups.empty() ? "" : ",") + counts_json(c, "\"popup_id\":" + std::to_string(id) + ",");
  return "{\"days\":[" + days + "],\"popups\":[" + popups + "],\"total\":" + counts_json(r.total, "") + "}";
}

std::string plain_decimal(double v) {
  if (v == 0) return "0";  // also -0
  char buf[400];           // fixed notation of any finite double fits
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, end) : "0";
}

}  // namespace popup

namespace popup {

std::string chart_data(const Report& r, int64_t popup_id) {
  std::string out;
  for (const auto& d : r.days) {
    if (d.popup_id != popup_id) continue;
    char buf[96];
    snprintf(buf, sizeof buf, "%s %lld %.4f\n", format_iso_date(d.day).c_str(),
             static_cast<long long>(d.counts.impressions), ctr(d.counts) * 100);
    out += buf;
  }
  return out;
}

std::string chart_script(const Report& r, int64_t popup_id, const std::string& data_path,
                         const std::string& out_path) {
  int64_t first = 0, last = -1, most = 0;
  double best = 0;
  for (const auto& d : r.days) {
    if (d.popup_id != popup_id) continue;
    if (last < first) first = last = d.day;
    first = std::min(first, d.day);
    last = std::max(last, d.day);
    most = std::max(most, d.counts.impressions);
    best = std::max(best, ctr(d.counts) * 100);
  }
  // Headroom above the highest box and point, so none touches the frame.
  char ranges[128];
  snprintf(ranges, sizeof ranges, "set yrange [0:%.0f]\nset y2range [0:%.4f]\n",
           std::max(1.0, static_cast<double>(most) * 1.12), best > 0 ? best * 1.12 : 1.0);
  int64_t span = last >= first ? last - first + 1 : 1;
  int64_t step = (span + 14) / 15;  // days between ticks: at most 15 labels
  const int64_t kDay = 86400;
  std::string id = std::to_string(popup_id);
  bool svg = out_path.size() >= 4 && out_path.compare(out_path.size() - 4, 4, ".svg") == 0;
  // Times in gnuplot 5 are seconds since 1970-01-01; the range has half a
  // day on each side so that the first and last boxes are whole.
  std::string from = std::to_string(first * kDay - kDay / 2);
  std::string until = std::to_string(last * kDay + kDay / 2);
  return std::string(svg ? "set terminal svg size 1000,560 fixed font 'Sans,10'\n"
                         : "set terminal pngcairo size 1000,560 font 'Sans,10'\n") +
         "set output '" + out_path + "'\n"
         "set title 'popup " + id + ": daily impressions and click-through rate'\n"
         "set xdata time\nset timefmt '%Y-%m-%d'\nset format x '%Y-%m-%d'\n"
         "set xrange [" + from + ":" + until + "]\n"
         "set xtics " + std::to_string(first * kDay) + ", " + std::to_string(step * kDay) +
         " rotate by -45\nunset mxtics\n"
         "set xlabel 'day (UTC)'\nset ylabel 'impressions per day'\n"
         "set y2label 'click-through rate (%)'\n"
         "set ytics nomirror\nset y2tics\n" + ranges +
         "set style fill solid 0.5\nset boxwidth 0.8 * 86400 absolute\n"
         "set key outside below center horizontal\n"
         "plot '" + data_path + "' using 1:2 with boxes title 'impressions', \\\n"
         "     '' using 1:3 axes x1y2 with linespoints lw 2 title 'CTR %'\n";
}

}  // namespace popup

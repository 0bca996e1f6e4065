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

std::string chart_script(int64_t popup_id, const std::string& data_path,
                         const std::string& png_path) {
  std::string id = std::to_string(popup_id);
  return "set terminal pngcairo size 900,500\n"
         "set output '" + png_path + "'\n"
         "set title 'popup " + id + ": daily impressions and click-through rate'\n"
         "set xdata time\nset timefmt '%Y-%m-%d'\nset format x '%m-%d'\n"
         "set xtics rotate by -45\nset ylabel 'impressions'\nset y2label 'CTR %'\n"
         "set ytics nomirror\nset y2tics\nset yrange [0:*]\nset y2range [0:*]\n"
         "set offsets 43200, 43200, 0, 0\n"
         "set style fill solid 0.5\nset boxwidth 0.8 * 86400 absolute\nset key top left\n"
         "plot '" + data_path + "' using 1:2 with boxes title 'impressions', \\\n"
         "     '' using 1:3 axes x1y2 with linespoints lw 2 title 'CTR %'\n";
}

}  // namespace popup

// Civil-date arithmetic after Howard Hinnant's days_from_civil and
// civil_from_days, which are exact for every date and need no time zone
// database: popupctl never depends on the machine's TZ setting.
#include "core/iso_time.h"

#include <cstdio>

namespace popup {
namespace {

struct Civil {
  int64_t y;
  unsigned m, d;
};

Civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{static_cast<int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly n digits at *s; advances it.
bool digits(std::string_view* s, size_t n, unsigned* out) {
  if (s->size() < n) return false;
  unsigned v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = (*s)[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  s->remove_prefix(n);
  *out = v;
  return true;
}

bool literal(std::string_view* s, char c) {
  if (s->empty() || s->front() != c) return false;
  s->remove_prefix(1);
  return true;
}

// "YYYY-MM-DD" at the start of *s, checked against the calendar.
std::optional<int64_t> date_prefix(std::string_view* s) {
  unsigned y = 0, m = 0, d = 0;
  if (!digits(s, 4, &y) || !literal(s, '-') || !digits(s, 2, &m) || !literal(s, '-') ||
      !digits(s, 2, &d))
    return std::nullopt;
  if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return std::nullopt;
  return days_from_civil(y, m, d);
}

// "Z", "+HH:MM", "+HHMM" or "-..." to the whole rest of s: seconds east of UTC.
std::optional<int64_t> zone(std::string_view s) {
  if (s == "Z" || s == "z") return 0;
  if (s.empty() || (s.front() != '+' && s.front() != '-')) return std::nullopt;
  int sign = s.front() == '-' ? -1 : 1;
  s.remove_prefix(1);
  unsigned h = 0, m = 0;
  if (!digits(&s, 2, &h)) return std::nullopt;
  literal(&s, ':');
  if (!digits(&s, 2, &m) || !s.empty() || m > 59 || h * 60 + m > 18 * 60) return std::nullopt;
  return sign * static_cast<int64_t>(h * 3600 + m * 60);
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> parse_iso_time(std::string_view s) {
  auto day = date_prefix(&s);
  unsigned h = 0, mi = 0, sec = 0;
  if (!day || !(literal(&s, 'T') || literal(&s, 't')) || !digits(&s, 2, &h) ||
      !literal(&s, ':') || !digits(&s, 2, &mi))
    return std::nullopt;
  if (literal(&s, ':') && !digits(&s, 2, &sec)) return std::nullopt;
  if (h > 23 || mi > 59 || sec > 59) return std::nullopt;
  auto z = zone(s);
  if (!z) return std::nullopt;
  return *day * 86400 + h * 3600 + mi * 60 + sec - *z;
}

std::string format_iso_time(int64_t t) {
  int64_t day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t rest = t - day * 86400;
  char buf[48];
  snprintf(buf, sizeof buf, "%sT%02d:%02d:%02dZ", format_iso_date(day).c_str(),
           static_cast<int>(rest / 3600), static_cast<int>(rest / 60 % 60),
           static_cast<int>(rest % 60));
  return buf;
}

std::optional<int64_t> parse_iso_date(std::string_view s) {
  auto day = date_prefix(&s);
  if (!day || !s.empty()) return std::nullopt;
  return day;
}

std::string format_iso_date(int64_t day) {
  Civil c = civil_from_days(day);
  char buf[32];
  snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(c.y), c.m, c.d);
  return buf;
}

}  // namespace popup

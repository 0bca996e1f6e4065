// ISO-8601 times and dates for operators (popupctl's files and options):
// unix seconds in, text out, and back. UTC days are the reports' unit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace popup {

// "2026-12-01T09:30:00+01:00", "2026-12-01T08:30:00Z", "2026-12-01T08:30Z",
// "+0100" zones too. The zone is required: a time without one means
// different instants to different operators. nullopt on anything else
// (bad calendar dates, hours over 23, zones over 18:00).
std::optional<int64_t> parse_iso_time(std::string_view s);

// "2026-12-01T08:30:00Z" (UTC).
std::string format_iso_time(int64_t unix_s);

// "2026-12-01" as the number of days since 1970-01-01; nullopt otherwise.
std::optional<int64_t> parse_iso_date(std::string_view s);

// Days since 1970-01-01 as "2026-12-01".
std::string format_iso_date(int64_t day);

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

}  // namespace popup

// How a batch of events is cut into multi-row INSERTs (lib/mysql_events.cc).
// The statements are prepared once per connection, so their row counts come
// from a short list (powers of two up to kMaxStatementRows: at most 11
// shapes per table) and a chunk's missing rows repeat the batch's last event,
// which changes nothing (INSERT IGNORE of a known id, an upsert that is not
// newer). Those copies cost MariaDB as much as real rows (measured: 18 µs of
// CPU per event row sent, padded or not), and under load a batch of ~300
// events went out as 512 rows; so a batch's remainder becomes two chunks
// when that sends at least 16 rows fewer (300: 256 + 64), at the price of
// one more statement per table.
#pragma once

#include <cstddef>
#include <vector>

namespace popup {

inline constexpr size_t kMaxStatementRows = 1024;

// The rows of each statement for a batch of n events, in order: n /
// kMaxStatementRows full statements, then the remainder as one power of two
// or, when that spares at least 16 rows, the largest power of two below it
// and the rest rounded up to a power of two. Every entry is a power of two; the sum is
// at least n, and past 64 the padding is below a third of the remainder
// (with one power of two, up to all of it). Empty for 0.
std::vector<size_t> statement_rows(size_t n);

}  // namespace popup

#include "core/statement_rows.h"

#include <bit>

namespace popup {
namespace {

// A statement's own cost (a round trip, a statement start) against the
// rows it spares: a split must save at least this many rows.
constexpr size_t kSplitSavesRows = 16;

}  // namespace

std::vector<size_t> statement_rows(size_t n) {
  std::vector<size_t> out(n / kMaxStatementRows, kMaxStatementRows);
  size_t rest = n % kMaxStatementRows;
  if (!rest) return out;
  size_t up = std::bit_ceil(rest);
  if (up == rest) {
    out.push_back(up);
    return out;
  }
  size_t down = up / 2;
  size_t tail = std::bit_ceil(rest - down);
  if (down + tail + kSplitSavesRows <= up) {
    out.push_back(down);
    out.push_back(tail);
  } else {
    out.push_back(up);
  }
  return out;
}

}  // namespace popup

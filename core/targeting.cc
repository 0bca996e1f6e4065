#include "core/targeting.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <string>

namespace popup {
namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kCrcTable = make_crc_table();

// Continues a CRC over more bytes; start with 0xFFFFFFFF, finish with ~.
uint32_t crc_update(uint32_t c, std::string_view data) {
  for (unsigned char b : data) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c;
}

bool lang_matches(const std::string& want, const std::vector<std::string>& langs) {
  for (const auto& l : langs) {
    if (l.size() != want.size()) continue;
    bool eq = true;
    for (size_t i = 0; i < l.size() && eq; ++i)
      eq = std::tolower(static_cast<unsigned char>(l[i])) ==
           std::tolower(static_cast<unsigned char>(want[i]));
    if (eq) return true;
  }
  return false;
}

}  // namespace

uint32_t crc32_ieee(std::string_view data) { return ~crc_update(0xFFFFFFFFu, data); }

// Runs once per candidate popup on every visit, so the "<uid>:<id>" key is
// fed to the CRC piecewise instead of being built in a heap string.
int rollout_bucket(std::string_view uid, int64_t popup_id) {
  char id[24];  // holds any int64_t, so to_chars cannot fail
  char* end = std::to_chars(id, id + sizeof id, popup_id).ptr;
  uint32_t c = crc_update(crc_update(0xFFFFFFFFu, uid), ":");
  c = crc_update(c, std::string_view(id, static_cast<size_t>(end - id)));
  return static_cast<int>(~c % 100);
}

bool is_active(const Popup& p, int64_t now) {
  if (!p.enabled) return false;
  if (p.starts_at && now < *p.starts_at) return false;
  if (p.ends_at && now >= *p.ends_at) return false;
  return true;
}

bool targets(const Popup& p, const Visit& v) {
  if (!p.platforms.empty() &&
      std::find(p.platforms.begin(), p.platforms.end(), v.platform) == p.platforms.end())
    return false;
  if (p.min_version || p.max_version) {
    if (!v.version) return false;
    if (p.min_version && *v.version < *p.min_version) return false;
    if (p.max_version && *v.version > *p.max_version) return false;
  }
  if (!p.langs.empty() && (!v.lang || !lang_matches(*v.lang, p.langs))) return false;
  if (p.rollout_percent <= 0) return false;
  if (p.rollout_percent < 100 && rollout_bucket(v.uid, p.id) >= p.rollout_percent) return false;
  return true;
}

}  // namespace popup

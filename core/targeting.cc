#include "core/targeting.h"

#include <algorithm>
#include <array>
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

uint32_t crc32_ieee(std::string_view data) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

int rollout_bucket(std::string_view uid, int64_t popup_id) {
  std::string key(uid);
  key += ':';
  key += std::to_string(popup_id);
  return static_cast<int>(crc32_ieee(key) % 100);
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

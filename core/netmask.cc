#include "core/netmask.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <optional>

#include "core/list.h"

namespace popup {
namespace {

// IPv4 as ::ffff:a.b.c.d, so one comparison serves both families.
std::optional<std::array<uint8_t, 16>> parse_ip(std::string_view text, bool* v4) {
  std::string s(text);
  std::array<uint8_t, 16> out{};
  in_addr a4;
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    out[10] = out[11] = 0xff;
    memcpy(out.data() + 12, &a4, 4);
    *v4 = true;
    return out;
  }
  *v4 = false;
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) return out;
  return std::nullopt;
}

bool same_prefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<Network>> parse_networks(std::string_view list) {
  auto items = split_comma_list(list);
  if (!items.ok()) return items.error();
  std::vector<Network> out;
  for (std::string_view item : items.value()) {
    size_t slash = item.find('/');
    bool v4 = false;
    auto ip = parse_ip(item.substr(0, slash), &v4);
    int bits = v4 ? 32 : 128;
    if (ip && slash != std::string_view::npos) {
      std::string_view b = item.substr(slash + 1);
      auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
      if (ec != std::errc() || p != b.data() + b.size() || b.empty() || bits < 0 ||
          bits > (v4 ? 32 : 128))
        ip.reset();
    }
    if (!ip) return Error{"bad_request", "not an address or CIDR range: " + std::string(item)};
    out.push_back(Network{*ip, v4 ? bits + 96 : bits});
  }
  return out;
}

bool address_in(const std::vector<Network>& nets, std::string_view addr) {
  bool v4 = false;
  auto ip = parse_ip(addr, &v4);
  if (!ip) return false;
  for (const auto& n : nets)
    if (same_prefix(*ip, n.addr, n.prefix)) return true;
  return false;
}

}  // namespace popup

// Address ranges for operator endpoints: /api/metrics answers only peers in
// admin_networks (defence in depth behind nginx's allow/deny: a FastCGI
// server that does not filter, or a client of the socket that sends any
// REMOTE_ADDR it likes, still gets no metrics unless the address is inside).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/popup.h"

namespace popup {

// One CIDR range, IPv4 addresses held as IPv4-mapped IPv6.
struct Network {
  std::array<uint8_t, 16> addr{};
  int prefix = 0;  // bits, 0..128
};

// "127.0.0.0/8,::1/128,10.0.0.0/8" (split by core/list.h: spaces allowed,
// no empty item; an address without /bits is one host). Error naming the
// first item that does not parse.
Result<std::vector<Network>> parse_networks(std::string_view list);

// True when the numeric address `addr` (IPv4 or IPv6, as FastCGI's
// REMOTE_ADDR) is inside one of `nets`; false for anything else, "" too.
bool address_in(const std::vector<Network>& nets, std::string_view addr);

}  // namespace popup

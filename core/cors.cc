#include "core/cors.h"
#include "core/text.h"

#include <cctype>

namespace popup {
namespace {

bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
}

// A bracketed IPv6 literal: hex digits, ':' and '.' (for a mapped v4 tail).
bool valid_ipv6_host(std::string_view h) {
  if (h.size() < 4 || h.front() != '[' || h.back() != ']') return false;
  for (char c : h.substr(1, h.size() - 2))
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  return true;
}

bool valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  int v = 0;
  for (char c : p) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  return v >= 1 && v <= 65535;
}

// "scheme://host[:port]" lower-cased with the default port dropped; "" when
// the text is not an http(s) origin.
std::string canonical_origin(std::string_view text) {
  std::string s = lower(text);
  std::string_view v = s;
  std::string scheme;
  if (v.substr(0, 7) == "http://") scheme = "http";
  else if (v.substr(0, 8) == "https://") scheme = "https";
  else return "";
  v.remove_prefix(scheme.size() + 3);
  // The port follows the last ':' that is outside an IPv6 literal.
  size_t close = v.rfind(']');
  size_t colon = v.rfind(':');
  std::string_view host = v, port;
  if (colon != std::string_view::npos && (close == std::string_view::npos || colon > close)) {
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
    if (!valid_port(port)) return "";
  }
  if (host.empty()) return "";
  if (host.front() == '[') {
    if (!valid_ipv6_host(host)) return "";
  } else {
    for (char c : host)
      if (!host_char(c)) return "";
  }
  if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port = {};
  std::string out = scheme + "://" + std::string(host);
  if (!port.empty()) out += ":" + std::string(port);
  return out;
}

}  // namespace

Result<CorsPolicy> parse_cors_origins(std::string_view list) {
  CorsPolicy p;
  if (trim(list).empty()) return p;
  while (true) {
    size_t comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (item == "*") {
      p.any = true;
    } else {
      std::string o = canonical_origin(item);
      if (o.empty())
        return Error{"bad_request", "not an origin (http[s]://host[:port]): '" +
                                        std::string(item) + "'"};
      p.origins.push_back(std::move(o));
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (p.any && !p.origins.empty())
    return Error{"bad_request", "\"*\" allows every origin: give it alone, not with a list"};
  return p;
}

std::string allowed_origin(const CorsPolicy& p, std::string_view origin) {
  if (origin.empty()) return "";
  if (p.any) return "*";
  std::string o = canonical_origin(origin);
  if (o.empty()) return "";
  for (const auto& allowed : p.origins)
    if (allowed == o) return std::string(origin);
  return "";
}

std::string cors_headers(const CorsPolicy& p, const CorsRequest& r) {
  if (!p.enabled()) return "";
  std::string out = p.any ? "" : "Vary: Origin\r\n";
  std::string allow = allowed_origin(p, r.origin);
  if (allow.empty()) return out;
  out += "Access-Control-Allow-Origin: " + allow + "\r\n";
  if (!r.preflight) return out;
  out += "Access-Control-Allow-Methods: " + std::string(r.allow_methods) + "\r\n";
  out += "Access-Control-Allow-Headers: Content-Type, Idempotency-Key\r\n";
  out += "Access-Control-Max-Age: 600\r\n";
  return out;
}

}  // namespace popup

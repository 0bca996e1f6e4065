// Cross-origin access (CORS) for the browser-facing endpoints: which origins
// may read the answers, and the header lines that tell the browser so. Pure:
// the router passes in the request's Origin and preflight headers and
// appends the lines this returns, so the rules are unit-tested here.
//
// The service never asks for credentials (the uid travels in the query or
// the body, not in a cookie), so it never sends
// Access-Control-Allow-Credentials; that is what makes "*" safe to offer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/popup.h"

namespace popup {

struct CorsPolicy {
  bool any = false;                  // "*": every origin may read
  std::vector<std::string> origins;  // canonical "scheme://host[:port]"
  bool enabled() const { return any || !origins.empty(); }
};

// The cors_origins setting: "" (off: no CORS header at all), "*", or a
// comma-separated list of origins "http[s]://host[:port]" (no path, no
// trailing slash; host and scheme are compared case-insensitively and a
// default port, :80 for http and :443 for https, is dropped as browsers do).
// Error naming the first item that is not such an origin, or "*" mixed
// with a list.
Result<CorsPolicy> parse_cors_origins(std::string_view list);

// What a request brings that CORS looks at.
struct CorsRequest {
  std::string_view origin;          // Origin header ("" when absent)
  bool preflight = false;           // OPTIONS with Access-Control-Request-Method
  std::string_view allow_methods;   // the endpoint's methods, "GET, HEAD, OPTIONS"
};

// The Access-Control-Allow-Origin value for `origin`: "*" under "*", the
// origin itself when listed, "" when it is not allowed or absent.
std::string allowed_origin(const CorsPolicy& p, std::string_view origin);

// Header lines, each ending in "\r\n", for the answer to `r`: nothing when
// CORS is off; "Vary: Origin" whenever the answer depends on the origin (a
// list, not "*"), so that a cache never hands one origin's answer to
// another; Access-Control-Allow-Origin for an allowed origin; and for an
// allowed preflight the methods, the request headers the API reads
// (Content-Type, Idempotency-Key) and a max age of 600 s.
std::string cors_headers(const CorsPolicy& p, const CorsRequest& r);

}  // namespace popup

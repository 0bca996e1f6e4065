// Routing and HTTP framing for one FastCGI request: which endpoint, which
// method, the body limit, the test clock. Every error is SPEC JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/cors.h"
#include "core/netmask.h"
#include "fcgi/metrics.h"
#include "fcgi/response.h"
#include "fcgi/endpoints.h"

namespace popup {

inline constexpr size_t kMaxBody = 4096;

struct Request {
  std::string method;
  std::string path;  // DOCUMENT_URI (without the query string)
  std::string query;
  std::string content_type;
  int64_t content_length = 0;  // -1 when CONTENT_LENGTH is not a number
  std::string body;            // at most kMaxBody bytes were read
  std::string test_now;        // X-Popup-Now header, honoured only with test_clock
  std::string idempotency_key;  // Idempotency-Key header
  std::string request_id;       // nginx's $request_id (REQUEST_ID param)
  std::string route;            // the key nginx hashed to pick the worker (POPUP_ROUTE)
  std::string remote_addr;      // REMOTE_ADDR
  // It came on this process's slot socket, to which nginx sends the users
  // it hashes here (user affinity; false on the shared socket).
  bool via_slot = false;
  // It came on the operator endpoints' socket (admin_listen).
  bool via_admin = false;
  std::string origin;           // Origin header (browsers' cross-origin calls)
  std::string cors_method;      // Access-Control-Request-Method (a preflight)
};

// The endpoint a path belongs to (for metrics).
Endpoint endpoint_of(const std::string& path);

// What route() needs besides the request.
struct RouteOptions {
  bool test_clock = false;             // honour X-Popup-Now
  const std::vector<Network>* admin = nullptr;  // who may read /api/metrics
  const CorsPolicy* cors = nullptr;    // which origins' pages may read answers
  // admin_listen is set: the operator endpoints answer on that socket only.
  bool admin_listener = false;
};

// Answers one request. `now` is the wall clock; with test_clock on and an
// X-Popup-Now header of decimal seconds, that value is used instead.
// /api/metrics answers 403 unless REMOTE_ADDR is inside o.admin. With
// o.admin_listener, /api/metrics answers 404 unless r.via_admin, and the
// admin socket answers 404 to everything but /api/metrics and /api/healthz
// (operator_endpoint). OPTIONS on
// a browser-facing endpoint answers 204 with Allow (CORS preflights; the
// Access-Control-* lines come from cors_headers).
Response route(const Request& r, Endpoints& svc, const RouteOptions& o, int64_t now);

// The endpoints only operators use (/api/metrics): with admin_listen set
// they are served on that socket alone. /api/healthz is not one of them:
// load balancers probe it through the public location.
bool operator_endpoint(Endpoint ep);

// The methods `ep` answers, for Allow and preflights ("GET, HEAD, OPTIONS").
const char* allowed_methods(Endpoint ep);

// CORS header lines (core/cors.h) for the answer to `r` on a browser-facing
// endpoint (popup, action, healthz; never metrics or an unknown path); ""
// without a policy.
std::string cors_headers(const Request& r, Endpoint ep, const RouteOptions& o);

// "Status: ...\r\nContent-Type: ...\r\n...\r\n\r\n" + body. `extra` is added
// to the headers as is (each line ending in \r\n).
std::string http_frame(const Response& r, Endpoint ep, const std::string& extra = "");

}  // namespace popup

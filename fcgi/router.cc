#include "fcgi/router.h"

#include <charconv>

#include "core/answer.h"
#include "core/params.h"

namespace popup {
namespace {

Response method_not_allowed(Endpoint ep) {
  const char* allow = allowed_methods(ep);
  Response r = error_response("method_not_allowed",
                              std::string("this endpoint accepts ") + allow + " only");
  r.allow = allow;
  return r;
}

// The endpoints a page on another origin may call from the browser.
bool browser_facing(Endpoint ep) {
  return ep == Endpoint::popup || ep == Endpoint::action || ep == Endpoint::healthz;
}

// A preflight, or a plain OPTIONS: what the endpoint allows, no body.
Response options_response(Endpoint ep) {
  Response r;
  r.status = 204;
  r.allow = allowed_methods(ep);
  return r;
}

std::optional<int64_t> parse_seconds(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// Which endpoints a request may reach on the socket it came on, when the
// operator endpoints have a socket of their own (admin_listen): the admin
// socket serves those and healthz (for its monitor), the public ones the rest.
std::optional<Response> wrong_listener(const Request& r, Endpoint ep, const RouteOptions& o) {
  if (!o.admin_listener) return std::nullopt;
  if (r.via_admin && !operator_endpoint(ep) && ep != Endpoint::healthz)
    return error_response("not_found", "the admin listener serves /api/metrics and /api/healthz only");
  if (!r.via_admin && operator_endpoint(ep))
    return error_response("not_found", "no such endpoint here: operators read it on admin_listen");
  return std::nullopt;
}

}  // namespace

bool operator_endpoint(Endpoint ep) { return ep == Endpoint::metrics; }

const char* allowed_methods(Endpoint ep) {
  switch (ep) {
    case Endpoint::popup:
    case Endpoint::healthz: return "GET, HEAD, OPTIONS";
    case Endpoint::action: return "POST, OPTIONS";
    default: return "GET, HEAD";
  }
}

std::string cors_headers(const Request& r, Endpoint ep, const RouteOptions& o) {
  if (!o.cors || !browser_facing(ep)) return "";
  bool preflight = r.method == "OPTIONS" && !r.cors_method.empty();
  return cors_headers(*o.cors, CorsRequest{r.origin, preflight, allowed_methods(ep)});
}

Endpoint endpoint_of(const std::string& path) {
  if (path == "/api/popup") return Endpoint::popup;
  if (path == "/api/popup/action") return Endpoint::action;
  if (path == "/api/healthz") return Endpoint::healthz;
  if (path == "/api/metrics") return Endpoint::metrics;
  return Endpoint::other;
}

Response route(const Request& r, Endpoints& svc, const RouteOptions& o, int64_t now) {
  if (o.test_clock && !r.test_now.empty()) {
    auto t = parse_seconds(r.test_now);
    if (!t) return error_response("bad_request", "X-Popup-Now must be unix seconds");
    now = *t;
  }
  bool get = r.method == "GET" || r.method == "HEAD";
  Endpoint ep = endpoint_of(r.path);
  if (auto refused = wrong_listener(r, ep, o)) return *refused;
  if (r.method == "OPTIONS" && browser_facing(ep)) return options_response(ep);
  switch (ep) {
    case Endpoint::popup: {
      if (!get) return method_not_allowed(ep);
      auto v = parse_visit(r.query);
      if (!v.ok()) return error_response("bad_request", v.error().message);
      // Routed by this uid to this process: its owner (service.h).
      bool owner = r.via_slot && routed_to_owner(r.query, r.route, v.value().uid);
      // HEAD answers like GET and records nothing (SPEC).
      return r.method == "HEAD" ? svc.peek(v.value(), now, owner)
                                : svc.popup(v.value(), now, owner);
    }
    case Endpoint::action: {
      if (r.method != "POST") return method_not_allowed(ep);
      if (r.content_length < 0) return error_response("bad_request", "invalid Content-Length");
      if (static_cast<size_t>(r.content_length) > kMaxBody || r.body.size() > kMaxBody)
        return error_response("payload_too_large", "the body must be at most 4096 bytes");
      auto a = parse_action_request({r.content_type, r.body, r.query, r.idempotency_key});
      if (!a.ok()) return error_response("bad_request", a.error().message);
      // An action routed by its uid (in the query, or in the body through
      // nginx's $popup_route) reaches the owner.
      bool owner = r.via_slot && routed_to_owner(r.query, r.route, a.value().uid);
      return svc.action(a.value(), r.request_id, now, owner);
    }
    case Endpoint::healthz:
      if (!get) return method_not_allowed(ep);
      return svc.healthz();
    case Endpoint::metrics:
      if (!get) return method_not_allowed(ep);
      // Defence in depth: nginx allows only loopback, but a FastCGI server
      // that does not filter (or anyone who can reach the socket) must not
      // read the pool's internals either.
      if (!o.admin || !address_in(*o.admin, r.remote_addr))
        return error_response("forbidden", "not allowed from this address");
      return svc.metrics();
    default:
      return error_response("not_found", "no such endpoint: " + printable(r.path, 200));
  }
}

std::string http_frame(const Response& r, Endpoint ep, const std::string& extra) {
  std::string out;
  out.reserve(r.body.size() + 160);
  out += "Status: " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
  // A 204 (OPTIONS) has no body, so no type either.
  if (r.status != 204)
    out += ep == Endpoint::metrics && r.status == 200 ? "Content-Type: text/plain; version=0.0.4\r\n"
                                                      : "Content-Type: application/json\r\n";
  out += "Cache-Control: no-store\r\n";
  if (r.allow) out += std::string("Allow: ") + r.allow + "\r\n";
  out += extra;
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n";
  out += r.body;
  return out;
}

}  // namespace popup

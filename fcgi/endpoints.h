// What the router (fcgi/router.h) calls once it has checked the path, the
// method and the body: the endpoints themselves. fcgi/service.h implements
// them over Redis and MySQL; the unit tests give a fake that records the
// calls (tests/unit/router_test.cc).
#pragma once

#include <cstdint>
#include <string>

#include "core/popup.h"
#include "fcgi/response.h"

namespace popup {

// The endpoints the router tells apart (fcgi/router.h endpoint_of); metrics
// count requests per endpoint, and the router answers Allow per endpoint.
enum class Endpoint { popup, action, healthz, metrics, other, count };
inline constexpr int kEndpoints = static_cast<int>(Endpoint::count);

class Endpoints {
 public:
  virtual ~Endpoints() = default;
  // owner: the request was routed here by its uid (fcgi/service.h).
  virtual Response popup(const Visit& v, int64_t now, bool owner) = 0;
  // HEAD: answers like GET and records nothing.
  virtual Response peek(const Visit& v, int64_t now, bool owner) = 0;
  virtual Response action(const ActionRequest& a, const std::string& request_id, int64_t now,
                          bool owner) = 0;
  virtual Response healthz() = 0;
  virtual Response metrics() = 0;
};

}  // namespace popup

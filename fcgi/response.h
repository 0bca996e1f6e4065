// An answer before HTTP framing (fcgi/router.h http_frame).
#pragma once

#include <string>

namespace popup {

struct Response {
  int status = 200;
  std::string body;
  const char* allow = nullptr;  // Allow header for 405
};

// The SPEC's error shape with the status its code maps to.
Response error_response(const char* code, const std::string& message);

}  // namespace popup

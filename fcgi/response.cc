#include "fcgi/response.h"

#include "core/answer.h"

namespace popup {

Response error_response(const char* code, const std::string& message) {
  Error e{code, message};
  return Response{status_for(code), error_answer(e)};
}

}  // namespace popup

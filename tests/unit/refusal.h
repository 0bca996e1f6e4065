// The message of a core/ Result that must have been refused with
// bad_request: "(accepted)" or "(code X)" otherwise, so a BOOST_TEST on it
// shows what happened instead.
#pragma once

#include <string>

#include "core/popup.h"

namespace popup {

template <class T>
std::string refusal(const Result<T>& r) {
  if (r.ok()) return "(accepted)";
  if (r.error().code != "bad_request") return "(code " + r.error().code + ")";
  return r.error().message;
}

}  // namespace popup

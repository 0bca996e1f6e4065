// The JSON bodies the service answers with (Boost.JSON, so every string is
// escaped): popup answers, errors, the action acknowledgement.
#pragma once

#include <string>
#include <string_view>

#include "core/popup.h"

namespace popup {

// {"popup":null} when p is nullptr, else
// {"popup":{"id":..,"title":..,"body":..,"image_url":..,"link_url":..}},
// with "button_text" after them when the popup has one.
std::string popup_answer(const Popup* p);

// {"error":"<code>","message":"<message>"}
std::string error_answer(const Error& e);

// {"ok":true}
std::string ok_answer();

// The HTTP status for a SPEC error code: bad_request 400, not_found 404,
// method_not_allowed 405, payload_too_large 413, unavailable 503; any other
// code 500.
int status_for(std::string_view code);

// The HTTP reason phrase for a status ("OK", "Accepted", "Bad Request", ...).
const char* reason_phrase(int status);

}  // namespace popup

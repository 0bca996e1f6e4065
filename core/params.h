// Request parameters: query strings, form and JSON bodies, validated into
// Visit and ActionRequest. Every bad input becomes an Error with code
// "bad_request" and a message that names the offending field.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/popup.h"

namespace popup {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// True for 1..64 characters of [A-Za-z0-9._-].
bool valid_uid(std::string_view uid);

// Decodes %XX escapes and '+' (as space). nullopt on a malformed escape.
std::optional<std::string> url_decode(std::string_view s);

// Splits "a=1&b=2" into decoded pairs (empty segments skipped, "a" alone is
// ("a","")). Error on a malformed escape.
Result<Pairs> parse_form(std::string_view s);

// GET /api/popup parameters: uid (required, valid_uid), platform (web, ios,
// android; default web), version (parse_version), lang (1..35 of
// [A-Za-z0-9_-], lower-cased). A parameter given twice is an error; unknown
// parameters are ignored.
Result<Visit> parse_visit(std::string_view query);

// POST /api/popup/action body. content_type "application/x-www-form-urlencoded"
// or "application/json" (parameters such as "; charset=utf-8" allowed, case
// insensitive); anything else is an error. Fields: uid (string), popup_id
// (positive integer; a JSON number without fraction, or decimal digits in a
// form), action ("click" or "ignore"). Wrong types, missing fields, invalid
// JSON or a non-object JSON body are errors.
Result<ActionRequest> parse_action_body(std::string_view content_type,
                                        std::string_view body);

}  // namespace popup

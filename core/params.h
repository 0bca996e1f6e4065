// Request parameters: query strings, form and JSON bodies, validated into
// Visit and ActionRequest. Every bad input becomes an Error with code
// "bad_request" and a message that names the offending field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/popup.h"

namespace popup {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// `s` for a message: printable ASCII kept, every other byte as '?', at most
// `max` bytes, so that an answer never carries invalid UTF-8.
std::string printable(std::string_view s, size_t max);

// The request's path from the FastCGI parameters any server sends:
// DOCUMENT_URI (nginx), else SCRIPT_NAME + PATH_INFO (lighttpd, Apache,
// cgi-fcgi by hand), else REQUEST_URI without its query, %-decoded (an
// escape that does not decode leaves it as it came).
std::string request_path(std::string_view document_uri, std::string_view script_name,
                         std::string_view path_info, std::string_view request_uri);

// The values of n names in a FastCGI request's parameters (envp: "NAME=value"
// strings up to a null pointer; null = none), in one pass: out[i] is the
// first value of names[i], or "" when it is absent or has no '=', as
// FCGX_GetParam answers it (which walks the whole list once per name; a
// request reads 15 of them). At most 64 names: past them out[i] stays "".
void find_params(const char* const* envp, const std::string_view* names, size_t n,
                 std::string_view* out);

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

// What a POST /api/popup/action brings: the body with its Content-Type, the
// query string and the Idempotency-Key header ("" when absent).
struct ActionSource {
  std::string_view content_type;
  std::string_view body;
  std::string_view query;
  std::string_view key_header;
};

// POST /api/popup/action. content_type "application/x-www-form-urlencoded"
// or "application/json" (parameters such as "; charset=utf-8" allowed, case
// insensitive); anything else is an error. Body fields: uid (string),
// popup_id (positive integer; a JSON number without fraction, or decimal
// digits in a form), action ("click" or "ignore"), action_id (optional
// idempotency key); a field given twice, in a form or as a JSON key, is an
// error. The uid may come from the query string instead (?uid=U,
// which lets nginx route the action by user); given in both, they must be
// equal. The key is the action_id field or the Idempotency-Key header (both
// given: equal), 1..64 of [A-Za-z0-9._-]; ActionRequest::key is "" without
// one. Wrong types, missing fields, invalid JSON or a non-object JSON body
// are errors.
Result<ActionRequest> parse_action_request(const ActionSource& src);

// True when the query string's first "uid" parameter is `uid` byte for
// byte, undecoded: what nginx hashes ($arg_uid) to pick the user's worker
// (user affinity). An escaped or missing uid may have been routed anywhere.
bool routed_by_uid(std::string_view query, std::string_view uid);

// True when nginx hashed `uid` to pick this worker: `route` is the key it
// hashed (the POPUP_ROUTE parameter, $popup_route: the query's uid, else
// the body's, else the request's own id), which must be `uid` byte for byte.
// Without the parameter (a front end that does not send it), only the
// query string can tell: routed_by_uid.
bool routed_to_owner(std::string_view query, std::string_view route, std::string_view uid);

// parse_action_request for a body alone (no query string, no header).
Result<ActionRequest> parse_action_body(std::string_view content_type, std::string_view body);

}  // namespace popup

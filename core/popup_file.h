// popupctl's file format: popups as operators write them. A JSON document
// {"popups":[{...}]} with the SPEC's field names, ISO-8601 times with a
// zone (core/iso_time.h), lists for platforms and languages and true/false
// for enabled. Only id and name are required; an absent field takes the
// default the popups table gives it (sql/migrations/001_init.sql), and an
// unknown field is an error, so a typo never passes silently.
//
// Content rules on top of the types and ranges: title and body must not be
// empty; langs are language tags whose first part is an ISO 639-1 code
// ("de", "pt-br", "zh-hant-tw"), which is what browsers and apps send;
// link_url and image_url are empty, http(s) URLs with a host, or relative
// URLs (no other scheme: "javascript:" never reaches a page); button_text
// is plain text of at most kButtonTextMax characters on one line, without
// control characters or markup (< >).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/popup.h"

namespace popup {

// One input file: its name (for messages) and its text.
struct SourceFile {
  std::string name;
  std::string text;
};

// What parse_popup_files found. `errors` lists every problem, each as
// "FILE: popup ID (#N): FIELD: what is wrong" (N counts from 1 in its file);
// when it is non-empty `popups` must not be written anywhere.
struct ParsedPopups {
  std::vector<Popup> popups;
  std::vector<std::string> errors;
};

inline constexpr size_t kButtonTextMax = 40;

// Which rules parse_popup_files applies. `all`: every rule, for what is
// about to be written. `stored`: only what reading a value back needs
// (types, ranges, times, versions), for popups written before the content
// rules existed (the audit trail's old entries).
enum class PopupChecks { all, stored };

// Parses and validates every file and checks across them (an id given
// twice). Never throws; every problem of every file is reported. A file
// that is not JSON is reported with the line and column of the problem.
ParsedPopups parse_popup_files(const std::vector<SourceFile>& files,
                               PopupChecks checks = PopupChecks::all);

// Every problem of one popup as "FIELD: what is wrong", in field order;
// empty when it meets every rule (the checks parse_popup_files applies to
// a popup in a file).
std::vector<std::string> popup_problems(const Popup& p);

// Whether `tag` (lower case) is a language tag with a known ISO 639-1 code:
// "en", "pt-br", "zh-hant", "es-419".
bool known_language_tag(std::string_view tag);

// "" when `url` may be a popup's link or image (empty, http(s) with a
// host, or relative), else why not.
std::string url_problem(std::string_view url);

// "" when `text` is a valid button_text, else why not.
std::string button_text_problem(std::string_view text);

// The popups in the file format, one field per line, in the order given:
// parse_popup_files reads it back to equal popups (export | apply).
std::string encode_popup_file(const std::vector<Popup>& popups);

// One popup in the file format as one line of JSON (audit rows, --json).
std::string popup_json(const Popup& p);

// Each field of the file format with its value as compact JSON text, in
// file order: what diffs and `show` compare and print.
std::vector<std::pair<std::string, std::string>> popup_fields(const Popup& p);

}  // namespace popup

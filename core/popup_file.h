// popupctl's file format: popups as operators write them. A JSON document
// {"popups":[{...}]} with the SPEC's field names, ISO-8601 times with a
// zone (core/iso_time.h), lists for platforms and languages and true/false
// for enabled. Only id and name are required; an absent field takes the
// default the popups table gives it (sql/migrations/001_init.sql), and an
// unknown field is an error, so a typo never passes silently.
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

// Parses and validates every file and checks across them (an id given
// twice). Never throws; every problem of every file is reported.
ParsedPopups parse_popup_files(const std::vector<SourceFile>& files);

// The popups in the file format, one field per line, in the order given:
// parse_popup_files reads it back to equal popups (export | apply).
std::string encode_popup_file(const std::vector<Popup>& popups);

// One popup in the file format as one line of JSON (audit rows, --json).
std::string popup_json(const Popup& p);

// Each field of the file format with its value as compact JSON text, in
// file order: what diffs and `show` compare and print.
std::vector<std::pair<std::string, std::string>> popup_fields(const Popup& p);

}  // namespace popup

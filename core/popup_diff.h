// What `popupctl apply` would change: the popups of the files against the
// popups in MySQL, field by field in the file format (core/popup_file.h).
#pragma once

#include <string>
#include <vector>

#include "core/popup.h"

namespace popup {

struct FieldChange {
  std::string field;
  std::string before;  // compact JSON of the file format
  std::string after;
};

struct PopupChange {
  enum Kind { create, update, unchanged } kind = unchanged;
  int64_t id = 0;
  std::string name;                 // the desired name
  std::vector<FieldChange> fields;  // update: the fields that differ; create: every field
};

// One entry per desired popup, in id order. Popups of `current` that
// `desired` does not name are left out: apply never deletes.
std::vector<PopupChange> diff_popups(const std::vector<Popup>& current,
                                     const std::vector<Popup>& desired);

// Text for operators: "+ 7 name" (create, with its fields), "~ 7 name" with
// "    field: before -> after" lines, "= 7 name" (unchanged), and a last line
// "N to create, N to update, N unchanged".
std::string format_diff(const std::vector<PopupChange>& changes);

// The same as JSON: {"create":N,"update":N,"unchanged":N,"changes":[...]}.
std::string diff_json(const std::vector<PopupChange>& changes);

}  // namespace popup

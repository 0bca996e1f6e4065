// Dotted numeric app versions, compared part by part as integers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/popup.h"

namespace popup {

// Parses "1", "1.2", "1.2.3" or "1.2.3.4" (each part 1..9 decimal digits).
// Returns nullopt for anything else (empty, "1.", "a.b", 5 parts, signs, spaces).
std::optional<Version> parse_version(std::string_view s);

// "1.10.0.0" style text with trailing zero parts dropped ("1.10").
std::string format_version(const Version& v);

}  // namespace popup

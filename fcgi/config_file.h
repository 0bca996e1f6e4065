// Reading the configuration file named on the command line (shared by the
// three programs).
#pragma once

#include <string>

#include "core/settings.h"

namespace popup {

// Reads and parses `path`. On failure prints "<program>: <path>: <why>" to
// stderr and returns false.
bool load_settings_file(const std::string& path, Settings* out, const char* program);

// Finds "--config FILE" (or "-c FILE") in argv; "" when absent.
std::string config_arg(int argc, char** argv);
bool has_flag(int argc, char** argv, const char* flag);

}  // namespace popup

// The command line and the configuration file it names, shared by the three
// programs (popupd, popup-writer, popupctl). The command line is parsed
// strictly: an option or word that a program does not know is a usage
// error (exit 2), never silently ignored, so that a typo cannot start a
// second pool or writer with settings nobody asked for.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/popup.h"
#include "core/settings.h"

namespace popup {

// What one program accepts on its command line.
struct ArgSpec {
  const char* program;                // "popupd", used in messages
  const char* usage;                  // the usage text, ending in '\n'
  bool check_flag = false;            // accepts --check / -t
  std::vector<std::string> commands;  // non-empty: exactly one of these words is required
  bool print_config_flag = false;     // accepts --print-config
  const char* version = nullptr;      // set: --version / -V prints "<program> <version>"
};

// A parsed command line.
struct Args {
  std::string config;   // --config FILE, -c FILE, --config=FILE
  bool check = false;   // --check, -t
  bool help = false;    // --help, -h
  bool version = false;  // --version, -V (when the program has a version)
  bool print_config = false;  // --print-config
  std::string command;  // one of ArgSpec::commands, or ""
};

// Parses argv[1..argc) against `spec`. Returns Error (bad_request) naming
// the first problem: an unknown option, an option without its value, an
// option given twice, a word that is not one of spec.commands (or any word
// when there are none), or a missing --config or command. With --help the
// config and command may be absent; everything else is still checked.
// --print-config stands alone: it needs no config and refuses --config and
// --check (it prints the defaults, not a file's values).
Result<Args> parse_args(int argc, const char* const* argv, const ArgSpec& spec);

// Prints "<program>: <why>" and the usage text to stderr; returns 2, the
// exit code of a usage error.
int usage_error(const ArgSpec& spec, const std::string& why);

// The start every program shares: parses argv against `spec` and reads the
// configuration file it names. Returns nullopt when the program goes on
// (*args and *s filled), else the exit code to return: 0 after --help (the
// usage on stdout) or --print-config (format_settings_docs() on stdout), 2 on
// a usage error, 1 when the file does not load.
std::optional<int> read_command_line(int argc, const char* const* argv, const ArgSpec& spec,
                                     Args* args, Settings* s);

// Reads and parses `path`. A line "include = FILE" in it (not in a file it
// includes) stands for FILE's lines at that place, so what comes later wins:
// a generated file can end with the include of a file its owner never
// rewrites (scripts/stack.sh: DIR/popup.local.conf). A relative FILE is
// taken relative to `path`'s folder; a missing FILE is an error. Error
// (bad_request) "<file>: line N: <why>" names the file with the problem.
Result<Settings> read_settings_file(const std::string& path);

// read_settings_file; on failure prints "<program>: <why>" to stderr and
// returns false.
bool load_settings_file(const std::string& path, Settings* out, const char* program);

}  // namespace popup

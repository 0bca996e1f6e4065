// popupctl's command line: `popupctl [global options] COMMAND [words]
// [command options]`, parsed strictly and without IO so that the rules
// are unit-tested. Global options may stand anywhere: -c/--config FILE,
// --by NAME, --json, -h/--help, -V/--version; a word "help" asks for the
// usage too.
// Command options take their value as "--from X" or "--from=X"; "--" ends
// the options. A command may declare a global option's name for itself
// (explain --version V): after that command's name it is the command's.
// Anything unknown, and an option value of the wrong kind, is a usage error
// (exit 2), reported on one line (usage_error).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/popup.h"

namespace popup {

// What an option's value must be; parse_ctl_args checks it.
enum class CtlValue {
  text,          // anything
  time_or_none,  // an ISO-8601 time with a zone, or "none"
  date,          // an ISO-8601 date, 2026-12-01
  popup_id,      // 1..4294967295
};

// What one command accepts.
struct CtlCommand {
  std::string name;
  size_t min_words = 0, max_words = 0;  // positional words after the command
  std::vector<std::string> value_options;  // "--from": takes a value
  std::vector<std::string> flags;          // "--dry-run": takes none
  std::map<std::string, CtlValue> kinds = {};  // value options not listed: text
};

struct CtlArgs {
  std::string config;
  std::string by;  // --by NAME: the operator to record; "" = not given
  bool help = false;
  bool version = false;
  bool json = false;
  std::string command;
  std::vector<std::string> words;
  std::map<std::string, std::string> options;  // flags map to ""

  bool has(const std::string& opt) const { return options.count(opt) != 0; }
  std::string get(const std::string& opt, const std::string& dflt = "") const {
    auto it = options.find(opt);
    return it == options.end() ? dflt : it->second;
  }
};

// Error (bad_request) naming the first problem: an unknown command or
// option, an option without its value or given twice, too few or too many
// words, a missing --config or command. With --help or --version the
// command and config may be absent.
Result<CtlArgs> parse_ctl_args(int argc, const char* const* argv,
                               const std::vector<CtlCommand>& commands);

// The one line a usage error prints: "popupctl: PROBLEM (see popupctl --help)\n".
std::string usage_error(const std::string& problem);

// "" when `name` may be recorded as the operator (1 to 64 characters, no
// control characters, not only spaces), else why not.
std::string operator_name_problem(const std::string& name);

}  // namespace popup

// popupctl's command line: `popupctl [global options] COMMAND [words]
// [command options]`, parsed strictly and without IO so that the rules
// are unit-tested. Global options may stand anywhere: -c/--config FILE,
// --json, -h/--help, -V/--version; a word "help" asks for the usage too.
// Command options take their value as "--from X" or "--from=X"; "--" ends
// the options. A command may declare a global option's name for itself
// (explain --version V): after that command's name it is the command's.
// Anything unknown is a usage error (exit 2).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/popup.h"

namespace popup {

// What one command accepts.
struct CtlCommand {
  std::string name;
  size_t min_words = 0, max_words = 0;  // positional words after the command
  std::vector<std::string> value_options;  // "--from": takes a value
  std::vector<std::string> flags;          // "--dry-run": takes none
};

struct CtlArgs {
  std::string config;
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

}  // namespace popup

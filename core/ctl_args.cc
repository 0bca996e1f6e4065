#include "core/ctl_args.h"

#include <algorithm>

namespace popup {
namespace {

Error bad(std::string m) { return Error{"bad_request", std::move(m)}; }

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string set_once(bool* flag, const std::string& name) {
  if (*flag) return name + " given twice";
  *flag = true;
  return "";
}

// One global option at argv[*i] (advances *i past a separate value).
// "" or the problem.
std::string global_option(int argc, const char* const* argv, int* i, CtlArgs* out) {
  std::string word = argv[*i];
  std::string name = word.substr(0, word.find('='));
  bool has_eq = name.size() != word.size();
  if (name != "--config" && name != "-c" && has_eq) return name + " takes no value";
  if (name == "--json") return set_once(&out->json, "--json");
  if (name == "--help" || name == "-h") return set_once(&out->help, "--help");
  if (name == "--version" || name == "-V") return set_once(&out->version, "--version");
  std::string v;
  if (has_eq) {
    v = word.substr(name.size() + 1);
  } else if (*i + 1 < argc) {
    v = argv[++*i];
  } else {
    return "--config needs a FILE";
  }
  if (v.empty()) return "--config needs a FILE";
  if (!out->config.empty()) return "--config given twice";
  out->config = v;
  return "";
}

// Resolves the command options once the command is known: a value option
// without '=' takes the next word, which the first pass read as a word.
std::string resolve(const CtlCommand& cmd, const std::vector<std::string>& raw, CtlArgs* out) {
  std::vector<std::string> words;
  for (size_t i = 0; i < raw.size(); ++i) {
    const std::string& w = raw[i];
    if (w == "--") {
      words.insert(words.end(), raw.begin() + static_cast<long>(i) + 1, raw.end());
      break;
    }
    if (w.size() < 2 || w[0] != '-') {
      words.push_back(w);
      continue;
    }
    std::string name = w.substr(0, w.find('='));
    bool has_eq = name.size() != w.size();
    if (out->options.count(name)) return name + " given twice";
    if (contains(cmd.flags, name) && !has_eq) {
      out->options[name] = "";
    } else if (contains(cmd.value_options, name)) {
      if (has_eq) {
        out->options[name] = w.substr(name.size() + 1);
      } else if (i + 1 < raw.size()) {
        out->options[name] = raw[++i];
      } else {
        return name + " needs a value";
      }
    } else {
      return "unknown option " + name + " for " + cmd.name;
    }
  }
  if (words.size() < cmd.min_words) return cmd.name + ": too few arguments";
  if (words.size() > cmd.max_words) return cmd.name + ": unexpected argument " + words[cmd.max_words];
  out->words = std::move(words);
  return "";
}

bool is_global(const std::string& name) {
  return name == "--json" || name == "--help" || name == "-h" || name == "--version" ||
         name == "-V" || name == "--config" || name == "-c";
}

// Whether `command` declares `name` itself (explain's --version is the app
// version of the visit, not popupctl's).
bool claims(const std::vector<CtlCommand>& commands, const std::string& command,
            const std::string& name) {
  for (const auto& c : commands)
    if (c.name == command) return contains(c.value_options, name) || contains(c.flags, name);
  return false;
}

}  // namespace

Result<CtlArgs> parse_ctl_args(int argc, const char* const* argv,
                               const std::vector<CtlCommand>& commands) {
  CtlArgs out;
  std::vector<std::string> rest;  // the command's words and options, in order
  bool after_dashes = false;
  for (int i = 1; i < argc; ++i) {
    std::string w = argv[i];
    std::string name = w.substr(0, w.find('='));
    if (after_dashes || w.size() < 2 || w[0] != '-' || !is_global(name) ||
        claims(commands, out.command, name)) {
      after_dashes = after_dashes || w == "--";
      if (out.command.empty() && !after_dashes && (w.empty() || w[0] != '-')) {
        out.command = w;
        continue;
      }
      rest.push_back(w);
      continue;
    }
    std::string problem = global_option(argc, argv, &i, &out);
    if (!problem.empty()) return bad(problem);
  }
  if (out.command == "help") {
    out.help = true;
    out.command.clear();
  }
  if (out.help || out.version) return out;
  if (out.command.empty()) return bad("a command is required");
  auto cmd = std::find_if(commands.begin(), commands.end(),
                          [&](const CtlCommand& c) { return c.name == out.command; });
  if (cmd == commands.end()) return bad("unknown command " + out.command);
  std::string problem = resolve(*cmd, rest, &out);
  if (!problem.empty()) return bad(problem);
  if (out.config.empty()) return bad("--config FILE is required");
  return out;
}

}  // namespace popup

#include "ctl/args.h"

#include <algorithm>

#include "core/iso_time.h"
#include "core/text.h"

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
  bool takes_value = name == "--config" || name == "-c" || name == "--by";
  if (!takes_value && has_eq) return name + " takes no value";
  if (name == "--json") return set_once(&out->json, "--json");
  if (name == "--help" || name == "-h") return set_once(&out->help, "--help");
  if (name == "--version" || name == "-V") return set_once(&out->version, "--version");
  std::string v;
  bool by = name == "--by";
  if (has_eq) {
    v = word.substr(name.size() + 1);
  } else if (*i + 1 < argc) {
    v = argv[++*i];
  } else {
    return by ? "--by needs a NAME" : "--config needs a FILE";
  }
  if (by) {
    if (!out->by.empty()) return "--by given twice";
    std::string problem = operator_name_problem(v);
    if (!problem.empty()) return "--by: " + problem;
    out->by = v;
    return "";
  }
  if (v.empty()) return "--config needs a FILE";
  if (!out->config.empty()) return "--config given twice";
  out->config = v;
  return "";
}

std::string check_value(const std::string& opt, CtlValue kind, const std::string& v);

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
  for (const auto& [opt, kind] : cmd.kinds) {
    auto it = out->options.find(opt);
    if (it == out->options.end()) continue;
    std::string problem = check_value(opt, kind, it->second);
    if (!problem.empty()) return problem;
  }
  if (words.size() < cmd.min_words) return cmd.name + ": too few arguments";
  if (words.size() > cmd.max_words) return cmd.name + ": unexpected argument " + words[cmd.max_words];
  out->words = std::move(words);
  return "";
}

bool is_global(const std::string& name) {
  return name == "--json" || name == "--help" || name == "-h" || name == "--version" ||
         name == "-V" || name == "--config" || name == "-c" || name == "--by";
}

// "" or what is wrong with the value of `opt`.
std::string check_value(const std::string& opt, CtlValue kind, const std::string& v) {
  switch (kind) {
    case CtlValue::time_or_none:
      if (v == "none" || parse_iso_time(v)) return "";
      return opt + ": not an ISO-8601 time with a zone (2026-12-01T09:00:00+01:00) or none: " + v;
    case CtlValue::date:
      if (parse_iso_date(v)) return "";
      return opt + ": not a date (2026-12-01): " + v;
    case CtlValue::popup_id: {
      bool ok = !v.empty() && v.size() <= 10 && v.find_first_not_of("0123456789") == std::string::npos &&
                std::stoll(v) >= 1 && std::stoll(v) <= 4294967295LL;
      return ok ? "" : opt + ": not a popup id (1 to 4294967295): " + v;
    }
    case CtlValue::text:
      break;
  }
  return "";
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

std::string usage_error(const std::string& problem) {
  return "popupctl: " + problem + " (see popupctl --help)\n";
}

std::string operator_name_problem(const std::string& name) {
  if (name.empty() || trim(name).empty()) return "the name must not be empty";
  if (name.size() > 64) return "the name must be at most 64 bytes";
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return "the name must not contain control characters";
  return "";
}

}  // namespace popup

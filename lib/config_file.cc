// Strict command-line parsing, written out rather than left to getopt_long
// (global state, its own messages, argument permutation) so that the rules
// and messages are the same in all three programs and can be unit-tested
// without running them.
#include "lib/config_file.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

namespace popup {
namespace {

Error bad(std::string message) { return Error{"bad_request", std::move(message)}; }

// Sets *flag, refusing a repeat. "" or the problem.
std::string set_flag(bool* flag, std::string_view name) {
  if (*flag) return std::string(name) + " given twice";
  *flag = true;
  return "";
}

// The value of --config: "--config=FILE", or the next word. Advances *i
// past a separate value. "" or the problem.
std::string take_config(int argc, const char* const* argv, int* i, std::string_view word,
                        Args* out) {
  std::string value;
  auto eq = word.find('=');
  if (eq != std::string_view::npos && word.substr(0, eq) == "--config") {
    value = std::string(word.substr(eq + 1));
  } else if (*i + 1 < argc) {
    value = argv[++*i];
  } else {
    return std::string(word) + " needs a FILE";
  }
  if (value.empty()) return "--config needs a FILE";
  if (!out->config.empty()) return "--config given twice";
  out->config = value;
  return "";
}

// One option word (starts with '-'). "" or the problem.
std::string take_option(int argc, const char* const* argv, int* i, const ArgSpec& spec,
                        Args* out) {
  std::string_view w = argv[*i];
  if (w == "--config" || w == "-c" || w.substr(0, 9) == "--config=")
    return take_config(argc, argv, i, w, out);
  if (w == "--help" || w == "-h") return set_flag(&out->help, "--help");
  if (spec.version && (w == "--version" || w == "-V")) return set_flag(&out->version, "--version");
  if (spec.check_flag && (w == "--check" || w == "-t")) return set_flag(&out->check, "--check");
  if (spec.print_config_flag && w == "--print-config")
    return set_flag(&out->print_config, "--print-config");
  return "unknown option " + std::string(w);
}

// One word that is not an option. "" or the problem.
std::string take_word(std::string_view w, const ArgSpec& spec, Args* out) {
  const auto& cmds = spec.commands;
  if (std::find(cmds.begin(), cmds.end(), w) == cmds.end())
    return "unexpected argument " + std::string(w);
  if (!out->command.empty()) return "one command at a time (got " + out->command + " and " +
                                    std::string(w) + ")";
  out->command = std::string(w);
  return "";
}

}  // namespace

Result<Args> parse_args(int argc, const char* const* argv, const ArgSpec& spec) {
  Args out;
  for (int i = 1; i < argc; ++i) {
    std::string_view w = argv[i];
    std::string problem = w.size() > 1 && w.front() == '-' ? take_option(argc, argv, &i, spec, &out)
                                                           : take_word(w, spec, &out);
    if (!problem.empty()) return bad(problem);
  }
  if (out.help || out.version) return out;
  if (out.print_config && !out.config.empty())
    return bad("--print-config takes no --config: it prints every key's default");
  if (out.print_config && out.check) return bad("--print-config and --check: one at a time");
  if (out.print_config) return out;
  if (out.config.empty()) return bad("--config FILE is required");
  if (!spec.commands.empty() && out.command.empty()) return bad("a command is required");
  return out;
}

int usage_error(const ArgSpec& spec, const std::string& why) {
  fprintf(stderr, "%s: %s\n%s", spec.program, why.c_str(), spec.usage);
  return 2;
}

std::optional<int> read_command_line(int argc, const char* const* argv, const ArgSpec& spec,
                                     Args* args, Settings* s) {
  auto parsed = parse_args(argc, argv, spec);
  if (!parsed.ok()) return usage_error(spec, parsed.error().message);
  *args = std::move(parsed.value());
  if (args->help) {
    fputs(spec.usage, stdout);
    return 0;
  }
  if (args->version) {
    printf("%s %s\n", spec.program, spec.version);
    return 0;
  }
  if (args->print_config) {
    fputs(format_settings_docs().c_str(), stdout);
    return 0;
  }
  if (!load_settings_file(args->config, s, spec.program)) return 1;
  return std::nullopt;
}

namespace {

// The text of `path`, or Error "<path>: cannot read: <why>".
Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return bad(path + ": cannot read: " + strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return bad(path + ": cannot read: " + strerror(errno));
  return text.str();
}

// FILE when `line` is "include = FILE" (spaces around '=' optional), else "".
std::string include_target(std::string_view line) {
  auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line.substr(first, 7) != "include") return "";
  auto rest = line.substr(first + 7);
  auto eq = rest.find_first_not_of(" \t");
  if (eq == std::string_view::npos || rest[eq] != '=') return "";
  rest = rest.substr(eq + 1);
  auto b = rest.find_first_not_of(" \t");
  auto e = rest.find_last_not_of(" \t\r");
  return b == std::string_view::npos ? "" : std::string(rest.substr(b, e - b + 1));
}

// Checks `text` alone (so that a message's line number is that file's);
// Error "<path>: <why>".
Result<Settings> check_text(const std::string& path, const std::string& text) {
  auto parsed = parse_settings(text);
  if (!parsed.ok()) return bad(path + ": " + parsed.error().message);
  return parsed;
}

}  // namespace

Result<Settings> read_settings_file(const std::string& path) {
  auto top = read_text(path);
  if (!top.ok()) return top.error();
  // The top file with its include lines blanked (line numbers stay), and
  // the whole in order: the top file's lines with each include replaced by
  // the included file's text.
  std::string own, whole;
  std::string_view rest = top.value();
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    std::string target = include_target(line);
    if (target.empty()) {
      own.append(line).append("\n");
      whole.append(line).append("\n");
      continue;
    }
    own.append("\n");
    if (target.front() != '/') {
      auto slash = path.rfind('/');
      if (slash != std::string::npos) target = path.substr(0, slash + 1) + target;
    }
    auto text = read_text(target);
    if (!text.ok()) return text.error();
    std::string_view t = text.value();
    for (size_t at = 0; at < t.size();) {
      auto nl2 = t.find('\n', at);
      auto l = t.substr(at, nl2 == std::string_view::npos ? std::string_view::npos : nl2 - at);
      if (!include_target(l).empty()) return bad(target + ": include is allowed only in " + path);
      at = nl2 == std::string_view::npos ? t.size() : nl2 + 1;
    }
    if (auto checked = check_text(target, text.value()); !checked.ok()) return checked.error();
    whole.append(text.value()).append("\n");
  }
  if (auto checked = check_text(path, own); !checked.ok()) return checked.error();
  return check_text(path, whole);
}

bool load_settings_file(const std::string& path, Settings* out, const char* program) {
  auto parsed = read_settings_file(path);
  if (!parsed.ok()) {
    fprintf(stderr, "%s: %s\n", program, parsed.error().message.c_str());
    return false;
  }
  *out = parsed.value();
  return true;
}

}  // namespace popup

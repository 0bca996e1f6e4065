#include "fcgi/config_file.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace popup {

bool load_settings_file(const std::string& path, Settings* out, const char* program) {
  std::ifstream in(path);
  if (!in) {
    fprintf(stderr, "%s: %s: cannot read: %s\n", program, path.c_str(), strerror(errno));
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = parse_settings(text.str());
  if (!parsed.ok()) {
    fprintf(stderr, "%s: %s: %s\n", program, path.c_str(), parsed.error().message.c_str());
    return false;
  }
  *out = parsed.value();
  return true;
}

std::string config_arg(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) return argv[i + 1];
  return "";
}

bool has_flag(int argc, char** argv, const char* flag) {
  for (int i = 1; i < argc; ++i)
    if (!strcmp(argv[i], flag)) return true;
  return false;
}

}  // namespace popup

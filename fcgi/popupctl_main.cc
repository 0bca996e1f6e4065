// popupctl: operator commands against the configured MySQL and Redis.
//   publish   bump the configuration version in MySQL and copy every
//             popup (enabled or not) into Redis; every worker serves them within ~1 s
//   show      print the configuration set as MySQL has it (JSON)
#include <cstdio>
#include <cstring>

#include "core/config_json.h"
#include "fcgi/config_file.h"
#include "fcgi/mysql.h"
#include "fcgi/redis.h"
#include "fcgi/store.h"

using namespace popup;

namespace {
const ArgSpec kArgs{"popupctl",
                    "usage: popupctl --config FILE publish|show\n"
                    "  -c, --config FILE  the configuration file\n"
                    "  -h, --help         this text\n",
                    false,
                    {"publish", "show"}};
}  // namespace

int main(int argc, char** argv) {
  Args args;
  Settings s;
  if (auto done = read_command_line(argc, argv, kArgs, &args, &s)) return *done;
  const char* cmd = args.command.c_str();
  mysql_global_init();
  Mysql mysql(s);
  std::string err;
  ConfigSet cfg;
  if (!strcmp(cmd, "show")) {
    if (!mysql.load_config(&cfg, &err)) return fprintf(stderr, "popupctl: %s\n", err.c_str()), 1;
    printf("%s\n", encode_config(cfg).c_str());
    return 0;
  }
  int64_t version = 0;
  if (!mysql.bump_version(&version, &err) || !mysql.load_config(&cfg, &err))
    return fprintf(stderr, "popupctl: %s\n", err.c_str()), 1;
  Redis redis(*parse_address(s.redis), s.redis_timeout_ms);
  if (!publish_config(redis, Keys{s.key_prefix}, cfg, &err))
    return fprintf(stderr, "popupctl: %s\n", err.c_str()), 1;
  size_t enabled = 0;
  for (const auto& p : cfg.popups) enabled += p.enabled;
  printf("popupctl: published version %lld with %zu popups (%zu enabled)\n",
         static_cast<long long>(cfg.version), cfg.popups.size(), enabled);
  return 0;
}

// popupctl: the operators' tool. One table maps each command to its
// function and what it accepts (core/ctl_args.h parses against it); the
// commands live in files after what they do: authoring.cc (apply, export),
// verbs.cc (list, show, enable, ...), explain_cmd.cc, report_cmd.cc (report,
// chart), retention.cc, history.cc; popups_db.cc is their MySQL and
// publishing.
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "ctl/ctl.h"
#include "lib/config_file.h"

using namespace popup;

namespace {

const char* const kVersion = "popupctl 1.1 (schema 002_operator)";

const char* const kUsage =
    "usage: popupctl --config FILE [--json] COMMAND [ARGS]\n"
    "\n"
    "authoring (popups as JSON files, times ISO-8601 with a zone):\n"
    "  apply FILE... [--dry-run]    validate all, show the difference, write in one\n"
    "                               transaction and publish (--dry-run: only show)\n"
    "  export [--out FILE]          every popup in the same format (stdout by default)\n"
    "day to day (each change is audited and published):\n"
    "  list                         id, name, enabled, schedule, targeting, rollout, live\n"
    "  show ID                      one popup in the file format\n"
    "  enable ID | disable ID\n"
    "  schedule ID [--from TIME|none] [--until TIME|none]\n"
    "  rollout ID PERCENT\n"
    "  delete ID                    only a popup without events (else: disable it)\n"
    "  publish                      copy MySQL's popups to Redis; workers serve them in ~1 s\n"
    "preview:\n"
    "  explain --uid U [--platform P] [--version V] [--lang L] [--at TIME|UNIX]\n"
    "                               what GET /api/popup answers this visit, and why not\n"
    "reports (from the daily roll-ups; days are UTC):\n"
    "  report [--from DAY] [--until DAY] [--popup ID] [--csv]\n"
    "  chart ID [--out FILE.png] [--from DAY] [--until DAY]\n"
    "housekeeping:\n"
    "  retention [--days N] [--batch N]   delete raw events older than N days\n"
    "                               (default retention_days); roll-ups stay\n"
    "  history [ID]                 the audit trail: who changed what, when\n"
    "\n"
    "options: -c, --config FILE   the service's configuration file\n"
    "         --json              machine-readable output\n"
    "         -h, --help          this text;  -V, --version   the version\n"
    "exit status: 0 done, 1 failed (nothing written on a failed change), 2 usage error\n";

struct Command {
  CtlCommand spec;
  int (*run)(Ctl&);
};

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {{"apply", 1, 1000, {}, {"--dry-run"}}, cmd_apply},
      {{"export", 0, 0, {"--out"}, {}}, cmd_export},
      {{"list", 0, 0, {}, {}}, cmd_list},
      {{"show", 1, 1, {}, {}}, cmd_show},
      {{"enable", 1, 1, {}, {}}, cmd_enable},
      {{"disable", 1, 1, {}, {}}, cmd_disable},
      {{"schedule", 1, 1, {"--from", "--until"}, {}}, cmd_schedule},
      {{"rollout", 2, 2, {}, {}}, cmd_rollout},
      {{"delete", 1, 1, {}, {}}, cmd_delete},
      {{"publish", 0, 0, {}, {}}, cmd_publish},
      {{"explain", 0, 0, {"--uid", "--platform", "--version", "--lang", "--at"}, {}}, cmd_explain},
      {{"report", 0, 0, {"--from", "--until", "--popup"}, {"--csv"}}, cmd_report},
      {{"chart", 1, 1, {"--out", "--from", "--until"}, {}}, cmd_chart},
      {{"retention", 0, 0, {"--days", "--batch"}, {}}, cmd_retention},
      {{"history", 0, 1, {}, {}}, cmd_history},
  };
  return kCommands;
}

std::string os_user() {
  std::string who;
  if (const passwd* pw = getpwuid(geteuid())) who = pw->pw_name;
  if (who.empty()) who = "uid " + std::to_string(geteuid());
  const char* sudo = getenv("SUDO_USER");
  if (sudo && *sudo) who = std::string(sudo) + " (sudo as " + who + ")";
  return who.substr(0, 64);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<CtlCommand> specs;
  for (const auto& c : commands()) specs.push_back(c.spec);
  auto parsed = parse_ctl_args(argc, argv, specs);
  if (!parsed.ok()) {
    fprintf(stderr, "popupctl: %s\n%s", parsed.error().message.c_str(), kUsage);
    return 2;
  }
  Ctl c;
  c.args = parsed.value();
  if (c.args.help) return fputs(kUsage, stdout), 0;
  if (c.args.version) return printf("%s\n", kVersion), 0;
  if (c.args.command == "explain" && !c.args.has("--uid")) {
    fprintf(stderr, "popupctl: explain needs --uid U\n%s", kUsage);
    return 2;
  }
  if (!load_settings_file(c.args.config, &c.s, "popupctl")) return 1;
  mysql_global_init();
  Mysql mysql(c.s);
  c.mysql = &mysql;
  c.os_user = os_user();
  c.now = time(nullptr);
  for (const auto& cmd : commands())
    if (cmd.spec.name == c.args.command) return cmd.run(c);
  return 2;
}

// popup-writer: drains the event queue into MySQL (see writer/writer.h) in a
// child process that its own small supervisor keeps running
// (writer/writer_supervisor.h).
#include <signal.h>

#include <cstdio>
#include <cstring>

#include "lib/config_file.h"
#include "lib/log.h"
#include "lib/mysql.h"
#include "writer/writer.h"
#include "writer/writer_supervisor.h"

using namespace popup;

namespace {
volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_stop_signal = 0;
void on_stop(int sig) {
  g_stop_signal = sig;
  g_stop = 1;
}

// The writer in the supervisor's child: SIGTERM, SIGINT and SIGQUIT ask it
// to finish the batch in hand and stop (its supervisor then starts a new
// one). HUP, USR2 and WINCH stay logged and ignored as the supervisor set
// them (writer/writer_supervisor.cc); USR1 reopens log_file.
int writer_child(const Settings& s, const std::string& owner) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGQUIT}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  mysql_global_init();
  int rc = run_writer(s, &g_stop, owner);
  if (g_stop_signal != 0) log_info("writer: stopped on %s", signal_name(g_stop_signal).c_str());
  return rc;
}
}  // namespace

int main(int argc, char** argv) {
  static const ArgSpec kArgs{"popup-writer",
                             "usage: popup-writer --config FILE [--check]\n"
                             "       popup-writer --print-config\n"
                             "  -c, --config FILE  the configuration file\n"
                             "  -t, --check        validate the configuration and exit\n"
                             "  --print-config     print every configuration key with its\n"
                             "                     default and description, and exit\n"
                             "  -h, --help         this text\n",
                             true,
                             {},
                             true};
  Args args;
  Settings s;
  if (auto done = read_command_line(argc, argv, kArgs, &args, &s)) return *done;
  if (args.check) {
    printf("popup-writer: %s: configuration ok\n", args.config.c_str());
    return 0;
  }
  std::string err;
  if (!log_configure(s.log_level, s.log_file, &err)) {
    fprintf(stderr, "popup-writer: %s: %s\n", args.config.c_str(), err.c_str());
    return 1;
  }
  log_set_name("popup-writer");
  return run_writer_supervisor(s, writer_child);
}

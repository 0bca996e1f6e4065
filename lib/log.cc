#include "lib/log.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace popup {
namespace {

char g_name[32] = "popup";

void vlog(const char* level, const char* fmt, va_list ap) {
  char msg[2048];
  vsnprintf(msg, sizeof msg, fmt, ap);
  time_t t = time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  char line[2200];
  int n = snprintf(line, sizeof line, "%s %s[%d] %s: %s\n", stamp, g_name,
                   static_cast<int>(getpid()), level, msg);
  if (n > 0) {
    // One write() per record so lines from several processes do not interleave.
    ssize_t w = write(STDERR_FILENO, line, static_cast<size_t>(n) < sizeof line ? n : sizeof line - 1);
    (void)w;
  }
}

}  // namespace

void log_set_name(std::string_view program) {
  std::string s(program.substr(0, sizeof g_name - 1));
  snprintf(g_name, sizeof g_name, "%s", s.c_str());
}

std::string exit_description(int status) {
  char buf[128];
  if (WIFEXITED(status))
    snprintf(buf, sizeof buf, "exited with code %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    snprintf(buf, sizeof buf, "killed by signal %d (%s)%s", WTERMSIG(status),
             strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
  else
    snprintf(buf, sizeof buf, "status %d", status);
  return buf;
}

#define DEFINE_LOG(fn, level)        \
  void fn(const char* fmt, ...) {    \
    va_list ap;                      \
    va_start(ap, fmt);               \
    vlog(level, fmt, ap);            \
    va_end(ap);                      \
  }
DEFINE_LOG(log_info, "info")
DEFINE_LOG(log_warn, "warn")
DEFINE_LOG(log_error, "error")
#undef DEFINE_LOG

}  // namespace popup

#include "lib/log.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace popup {
namespace {

char g_name[32] = "popup";
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
// Written once by log_configure before the handler is installed, then only
// read (by the handler).
char g_file[4096] = "";

const char* level_name(LogLevel l) {
  static const char* names[] = {"debug", "info", "warn", "error"};
  return names[static_cast<int>(l)];
}

int open_log(const char* path) {
  return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

const char* known_signal_name(int sig) {
  switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGWINCH: return "SIGWINCH";
    case SIGCHLD: return "SIGCHLD";
    case SIGPIPE: return "SIGPIPE";
    default: return nullptr;
  }
}

// A bounded string builder that only uses async-signal-safe operations.
struct SafeLine {
  char buf[256];
  size_t n = 0;
  void add(const char* s) {
    while (*s && n < sizeof buf - 1) buf[n++] = *s++;
  }
  void add_int(long long v, int width = 0) {
    // Digits filled from the end, so they are copied out in order.
    char digits[24];
    size_t first = sizeof digits;
    bool neg = v < 0;
    unsigned long long u = neg ? 0ULL - static_cast<unsigned long long>(v)
                               : static_cast<unsigned long long>(v);
    do {
      digits[--first] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u != 0 && first > 0);
    while (first > 0 && sizeof digits - first < static_cast<size_t>(width > 0 ? width : 0))
      digits[--first] = '0';
    if (neg && n < sizeof buf - 1) buf[n++] = '-';
    for (size_t i = first; i < sizeof digits && n < sizeof buf - 1; ++i) buf[n++] = digits[i];
  }
};

// One log record in the same logfmt as vlog, "<what> <signal><tail>",
// written from a signal handler: dropped below log_level like any record;
// no allocation, no stdio, no locale (the UTC date by integer arithmetic),
// one write().
void log_from_handler(LogLevel level, const char* what, int sig, const char* tail) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  int saved = errno;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  long long secs = ts.tv_sec;
  long long days = secs / 86400, rem = secs % 86400;
  // Days since 1970-01-01 to a civil date (proleptic Gregorian).
  long long z = days + 719468, era = z / 146097, doe = z - era * 146097;
  long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  long long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  long long y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  SafeLine l;
  l.add("ts=");
  l.add_int(y, 4);
  l.add("-");
  l.add_int(m, 2);
  l.add("-");
  l.add_int(d, 2);
  l.add("T");
  l.add_int(rem / 3600, 2);
  l.add(":");
  l.add_int(rem / 60 % 60, 2);
  l.add(":");
  l.add_int(rem % 60, 2);
  l.add(".");
  l.add_int(ts.tv_nsec / 1000000, 3);
  l.add("Z level=");
  l.add(level_name(level));
  l.add(" component=");
  l.add(g_name);
  l.add(" pid=");
  l.add_int(getpid());
  l.add(" msg=\"");
  l.add(what);
  l.add(" ");
  const char* name = known_signal_name(sig);
  if (name) {
    l.add(name);
  } else {
    l.add("signal ");
    l.add_int(sig);
  }
  l.add(tail);
  l.add("\"\n");
  ssize_t w = write(STDERR_FILENO, l.buf, l.n);
  (void)w;
  errno = saved;
}

void on_ignored(int sig) { log_from_handler(LogLevel::warn, "signal", sig, " ignored"); }

// SIGUSR1 without a log_file: nothing to reopen, said in the log.
void on_reopen_nothing(int sig) {
  log_from_handler(LogLevel::warn, "signal", sig, " ignored: no log_file to reopen");
}

// SIGUSR1: reopen log_file onto stderr. Unlike the other handlers (which
// only set a flag), this one does the work itself: open, dup2 and close are
// async-signal-safe, and doing it here means every process lets go of the
// rotated file at once, also an idle worker blocked in accept() that has
// nothing to log, without a check in any main loop. dup2 replaces fd 2 in
// one step, so a concurrent write goes wholly to the old or the new file.
void on_reopen(int) {
  int saved = errno;
  int fd = open_log(g_file);
  if (fd >= 0) {
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  errno = saved;
  log_from_handler(LogLevel::info, "log_file reopened on", SIGUSR1, "");
}

void vlog(LogLevel level, const char* fmt, va_list ap) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  char msg[2048];
  vsnprintf(msg, sizeof msg, fmt, ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line;
  line.reserve(256);
  char head[128];
  snprintf(head, sizeof head, "ts=%s.%03dZ level=%s component=", stamp,
           static_cast<int>(ts.tv_nsec / 1000000), level_name(level));
  line += head;
  line += logfmt_value(g_name);
  line += " pid=" + std::to_string(getpid()) + " msg=" + logfmt_value(msg) + "\n";
  // One write() per record so lines from several processes do not interleave.
  ssize_t w = write(STDERR_FILENO, line.data(), line.size());
  (void)w;
}

}  // namespace

void log_set_name(std::string_view program) {
  std::string s(program.substr(0, sizeof g_name - 1));
  snprintf(g_name, sizeof g_name, "%s", s.c_str());
}

bool log_configure(const std::string& level, const std::string& file, std::string* err) {
  LogLevel l = LogLevel::info;
  if (level == "debug") l = LogLevel::debug;
  else if (level == "warn") l = LogLevel::warn;
  else if (level == "error") l = LogLevel::error;
  if (!file.empty()) {
    if (file.size() >= sizeof g_file) {
      *err = "log_file: path too long";
      return false;
    }
    int fd = open_log(file.c_str());
    if (fd < 0) {
      *err = "log_file: cannot open " + file + ": " + strerror(errno);
      return false;
    }
    dup2(fd, STDERR_FILENO);
    close(fd);
    snprintf(g_file, sizeof g_file, "%s", file.c_str());
  }
  g_level.store(static_cast<int>(l));
  log_handle_reopen_signal();
  return true;
}

void log_handle_reopen_signal() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = g_file[0] ? on_reopen : on_reopen_nothing;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, nullptr);
}

void log_ignore_signals(std::span<const int> signals) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_ignored;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int sig : signals) sigaction(sig, &sa, nullptr);
}

std::string signal_name(int sig) {
  const char* name = known_signal_name(sig);
  return name ? std::string(name) : "signal " + std::to_string(sig);
}

std::string logfmt_value(std::string_view v) {
  bool quote = v.empty();
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      quote = true;
  if (!quote) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char hex[8];
          snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
          out += hex;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
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
DEFINE_LOG(log_debug, LogLevel::debug)
DEFINE_LOG(log_info, LogLevel::info)
DEFINE_LOG(log_warn, LogLevel::warn)
DEFINE_LOG(log_error, LogLevel::error)
#undef DEFINE_LOG

}  // namespace popup

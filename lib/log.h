// One log record per line on stderr, in logfmt:
//   ts=2026-11-25T10:00:00.123Z level=warn component=popupd-worker pid=123 msg="redis: ..."
// stderr is what systemd's journal, spawn-fcgi, the supervisor and stack.sh
// collect. With log_file set, each program opens that file itself onto its
// stderr and reopens it on SIGUSR1, so logrotate can move it away
// (deploy/logrotate/popup).
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace popup {

enum class LogLevel { debug, info, warn, error };

void log_set_name(std::string_view program);

// Applies the log settings: records below `level` ("debug", "info", "warn",
// "error"; the settings table checks it) are dropped, and with a non-empty
// `file` it is opened for appending onto stderr and the SIGUSR1 handler
// that reopens it is installed (it logs "log_file reopened on SIGUSR1";
// without a file SIGUSR1 is logged and ignored). Returns
// false and sets *err when the file cannot be opened; nothing changes then.
bool log_configure(const std::string& level, const std::string& file, std::string* err);

// (Re)installs the SIGUSR1 disposition log_configure chose; for processes
// that reset their signals (libfcgi's FCGX_Init installs its own SIGUSR1
// handler, which would make a worker leave).
void log_handle_reopen_signal();

// The signals a person might send that a process does not act on: each one
// is logged from its handler ("signal SIGUSR2 ignored", level warn) and has
// no other effect (SA_RESTART, so no system call fails with EINTR). Kept
// across fork, reset by exec.
void log_ignore_signals(std::span<const int> signals);

// "SIGUSR2" for the signals a person sends, "signal 40" for the others.
// Async-signal-safe for the named ones.
std::string signal_name(int sig);

void log_debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// The logfmt form of a value: bare when it has no space, quote, '=' or
// control character, else quoted with \" \\ \n \t escaped.
std::string logfmt_value(std::string_view v);

// How a child ended, from a waitpid status, for a log line: "exited with
// code 1", "killed by signal 9 (Killed)".
std::string exit_description(int status);

}  // namespace popup

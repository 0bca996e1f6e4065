// One-line log records on stderr: "2026-11-25T10:00:00Z popupd[123] level: text".
// stderr is what spawn-fcgi, the supervisor and stack.sh redirect to files.
#pragma once

#include <string>
#include <string_view>

namespace popup {

void log_set_name(std::string_view program);
void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// How a child ended, from a waitpid status, for a log line: "exited with
// code 1", "killed by signal 9 (Killed)".
std::string exit_description(int status);

}  // namespace popup

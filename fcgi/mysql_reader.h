// A user's states read from MySQL within a deadline, for the request path.
//
// Why a thread: the Connector's read timeout counts whole seconds, and a
// hung MariaDB answers nothing, so a read on the serving thread would hold
// a visit for the full timeout. The read runs on a companion thread with a
// connection of its own; the serving thread waits at most kDeadlineMs for
// it and otherwise reports the state as unknown (the caller answers
// {"popup":null} and records nothing). An abandoned read finishes in the
// background (within the connection's read timeout); until it has, further
// reads report unknown at once instead of queueing behind it.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/popup.h"
#include "core/settings.h"
#include "lib/mysql.h"

namespace popup {

class MysqlReader {
 public:
  static constexpr int kDeadlineMs = 500;
  // deadline_ms: how long read() waits for the companion thread.
  explicit MysqlReader(const Settings& s, int deadline_ms = kDeadlineMs);
  ~MysqlReader();  // stops and joins the companion thread (it may finish a read first)
  MysqlReader(const MysqlReader&) = delete;
  MysqlReader& operator=(const MysqlReader&) = delete;

  enum class Outcome { ok, failed, late };
  // Every (popup, state) row of `uid` into *out. `late`: no answer within
  // the deadline, or an earlier read still waits for the server; `failed`:
  // MySQL answered with an error (*err says which).
  Outcome user_states(const std::string& uid, UserStates* out, std::string* err);

 private:
  void run();

  const Settings& s_;
  const int deadline_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool busy_ = false;       // the companion has a read in hand
  bool abandoned_ = false;  // nobody waits for the read in hand
  bool done_ = false;       // the read in hand ended; its result is below
  std::string uid_;
  bool ok_ = false;
  UserStates result_;
  std::string err_;
  std::thread thread_;  // started by the first read
};

}  // namespace popup

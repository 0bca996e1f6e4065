// popupctl, the operators' tool: what every command shares. Each command
// is a function of a Ctl (settings, the parsed command line, a MySQL
// connection, who runs it and when) returning the exit status: 0 done,
// 1 failed (bad input, MySQL or Redis), 2 usage error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ctl/args.h"
#include "core/popup.h"
#include "core/settings.h"
#include "lib/mysql.h"

namespace popup {

struct Ctl {
  Settings s;
  CtlArgs args;
  Mysql* mysql = nullptr;
  std::string os_user;       // the operator recorded in the audit table
  std::string os_user_from;  // where that name came from: --by, SUDO_USER,
                             // ctl_operator, USER or account
  int64_t now = 0;           // unix seconds at start
};

// Prints "popupctl: <msg>" to stderr; returns 1.
int fail(const std::string& msg);

// --- popups in MySQL (ctl/popups_db.cc) --------------------------------

// Every popup in MySQL, by id. False (and *err) when MySQL fails.
bool load_popups(Ctl& c, std::vector<Popup>* out, std::string* err);

// The popup with this id in *out; false when MySQL fails or it does not
// exist (then *err says which).
bool load_popup(Ctl& c, int64_t id, Popup* out, std::string* err);

// INSERT ... ON DUPLICATE KEY UPDATE of every column: creates or replaces.
// Every value is a bound parameter (Mysql::Statement), never SQL text.
Mysql::Statement upsert_sql(const Popup& p);

// The audit row of one change: `before`/`after` are popup_json text or "".
Mysql::Statement audit_sql(const Ctl& c, const std::string& command, int64_t popup_id,
                           const std::string& before, const std::string& after);

// A change is all or nothing: `stmts` (the change and its audit rows), the
// version increment and the copy of the resulting set into Redis happen
// together. In one MySQL transaction the statements run and the set is
// read; it is published to Redis before the commit, and a failed publish
// (Redis down) rolls the transaction back, so MySQL, the audit trail and
// what the service serves never disagree. Prints "popupctl: written,
// audited and published version N ..." (or "published version N" when
// `changed` is false; JSON with --json) unless quiet; on failure says that
// nothing was written. 0 or 1.
int commit_and_publish(Ctl& c, const std::vector<Mysql::Statement>& stmts, bool changed = true,
                       bool quiet = false);

// A popup id from a word; false on anything but 1..4294967295.
bool parse_id(const std::string& word, int64_t* id);

// --- the commands ------------------------------------------------------
int cmd_apply(Ctl& c);
int cmd_export(Ctl& c);
int cmd_list(Ctl& c);
int cmd_show(Ctl& c);
int cmd_enable(Ctl& c);
int cmd_disable(Ctl& c);
int cmd_schedule(Ctl& c);
int cmd_rollout(Ctl& c);
int cmd_delete(Ctl& c);
int cmd_publish(Ctl& c);
int cmd_explain(Ctl& c);
int cmd_report(Ctl& c);
int cmd_chart(Ctl& c);
int cmd_retention(Ctl& c);
int cmd_history(Ctl& c);
int cmd_revert(Ctl& c);

}  // namespace popup

#include "lib/mysql.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>

#include "core/select.h"
#include "core/version.h"
#include "lib/log.h"
#include "lib/clock.h"

namespace popup {
namespace {

// A batch's transaction (autocommit off, lib/mysql_events.cc) whose
// client is gone without a FIN or RST reaching the server (its host died or
// was cut off between two statements, or while one waited for a lock)
// would keep its row locks until TCP gives up (minutes) or wait_timeout
// (hours), and a writer that takes the batch over would wait on them (the
// same event ids), losing its own lease meanwhile. A batch's statements
// follow one another at once, so the server may end a transaction idle for
// as long as a writer's heartbeat lasts: by then its batch is taken over
// anyway (writer/writer.h). MariaDB's idle_transaction_timeout, in batch
// sessions only (0 outside them: popupctl's transactions wait for Redis);
// a server without the variable (MySQL) keeps its behaviour.
void set_idle_transaction_timeout(sql::Connection* c, int seconds) {
  try {
    std::unique_ptr<sql::Statement> st(c->createStatement());
    st->execute("SET SESSION idle_transaction_timeout = " + std::to_string(seconds));
  } catch (const sql::SQLException& e) {
    if (e.getErrorCode() != 1193) throw;  // ER_UNKNOWN_SYSTEM_VARIABLE
  }
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (!isspace(static_cast<unsigned char>(c))) {
      cur += static_cast<char>(tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::optional<int64_t> opt_int(sql::ResultSet* rs, const char* col) {
  if (rs->isNull(col)) return std::nullopt;
  return static_cast<int64_t>(rs->getInt64(col));
}

// One popups row into a Popup; false (with *why) when a field does not parse.
bool popup_from_row(sql::ResultSet* rs, Popup* p, std::string* why) {
  p->id = rs->getInt64("id");
  p->name = rs->getString("name");
  p->priority = rs->getInt64("priority");
  p->enabled = rs->getInt("enabled") != 0;
  p->starts_at = opt_int(rs, "starts_at");
  p->ends_at = opt_int(rs, "ends_at");
  for (const auto& name : split_list(rs->getString("platforms"))) {
    auto pl = parse_platform(name);
    if (!pl) return *why = "unknown platform " + name, false;
    p->platforms.push_back(*pl);
  }
  for (const char* col : {"min_version", "max_version"}) {
    if (rs->isNull(col)) continue;
    auto v = parse_version(std::string(rs->getString(col)));
    if (!v) return *why = std::string("bad ") + col, false;
    (col[1] == 'i' ? p->min_version : p->max_version) = *v;
  }
  p->langs = split_list(rs->getString("langs"));
  p->rollout_percent = rs->getInt("rollout_percent");
  p->max_impressions = opt_int(rs, "max_impressions");
  p->show_cooldown_s = rs->getInt64("show_cooldown_s");
  p->ignore_cooldown_s = rs->getInt64("ignore_cooldown_s");
  p->click_cooldown_s = opt_int(rs, "click_cooldown_s");
  p->title = rs->getString("title");
  p->body = rs->getString("body");
  p->image_url = rs->getString("image_url");
  p->link_url = rs->getString("link_url");
  p->button_text = rs->getString("button_text");
  return true;
}

}  // namespace

Mysql::Mysql(const Settings& s, int read_timeout_s)
    : s_(s), read_timeout_s_(read_timeout_s), nodes_(s, read_timeout_s) {}

int64_t Mysql::now_ms() { return popup::steady_ms(); }
Mysql::~Mysql() = default;

bool Mysql::fail(const std::string& what, std::string* err, DbFailure why) {
  *err = "mysql: " + what;
  prepared_.clear();
  conn_.reset();
  last_failure_ = why;
  nodes_.failed(why, what);
  return false;
}

bool Mysql::fail(const sql::SQLException& e, std::string* err) {
  return fail(e.what(), err, classify_db_error(e.getErrorCode(), e.what()));
}

bool Mysql::again(int* deadlocks, size_t* moves, bool* reused, int64_t took_ms, bool repeatable,
                  const std::string& err) {
  switch (last_failure_) {
    case DbFailure::retry_transaction:
      if (++*deadlocks >= kDeadlockAttempts) return false;
      log_warn("%s; running it again (%d of %d)", err.c_str(), *deadlocks + 1, kDeadlockAttempts);
      // Two transactions that collided both retry: pauses that grow and
      // differ (by the clock's low bits) let one of them go first.
      std::this_thread::sleep_for(
          std::chrono::milliseconds(5 * *deadlocks + now_ms() % (5 * *deadlocks + 1)));
      return true;
    case DbFailure::next_node:
      return ++*moves < nodes_.size();
    case DbFailure::lost:
      if (!repeatable) return false;
      if (nodes_.size() > 1) return ++*moves < nodes_.size();
      // One server: a quick failure on a connection that predates the call
      // is a stale connection; a slow one is a hung server, not tried again.
      if (!*reused || took_ms >= read_timeout_s_ * 500) return false;
      *reused = false;
      return true;
    case DbFailure::other:
      return false;
  }
  return false;
}

bool Mysql::ensure_connected(std::string* err, bool batch) {
  if (!conn_ && !connect(err)) return false;
  if (batch == batch_) return true;
  try {
    conn_->setAutoCommit(!batch);
    set_idle_transaction_timeout(conn_.get(),
                                 batch ? std::max(1, (s_.writer_heartbeat_ttl_ms + 999) / 1000) : 0);
    batch_ = batch;
    return true;
  } catch (const sql::SQLException& e) {
    return fail(e, err);
  }
}

bool Mysql::connect(std::string* err) {
  batch_ = false;
  conn_ = nodes_.connect(err);
  if (conn_) return true;
  // Every node was tried: another attempt within this call would only
  // wait for them again.
  *err = "mysql: connect: " + *err;
  last_failure_ = DbFailure::other;
  return false;
}

bool Mysql::once(const std::function<bool(std::string*)>& body, std::string* err) {
  if (!ensure_connected(err)) return false;
  try {
    return body(err);
  } catch (const sql::SQLException& e) {
    return fail(e, err);
  }
}

sql::PreparedStatement* Mysql::prepared(const std::string& sql) {
  auto& slot = prepared_[sql];
  if (!slot) slot.reset(conn_->prepareStatement(sql));
  return slot.get();
}

bool Mysql::load_config(ConfigSet* out, std::string* err) {
  return on_connection([&](std::string*) {
    *out = read_config();
    return true;
  }, err, true);
}

ConfigSet Mysql::read_config() {
  std::unique_ptr<sql::Statement> st(conn_->createStatement());
  ConfigSet cfg;
  {
    std::unique_ptr<sql::ResultSet> rs(
        st->executeQuery("SELECT version FROM config_meta WHERE id = 1"));
    cfg.version = rs->next() ? rs->getInt64(1) : 0;
  }
  std::unique_ptr<sql::ResultSet> rs(st->executeQuery(
      "SELECT id, name, priority, enabled, starts_at, ends_at, platforms, min_version,"
      " max_version, langs, rollout_percent, max_impressions, show_cooldown_s,"
      " ignore_cooldown_s, click_cooldown_s, title, body, image_url, link_url, button_text"
      " FROM popups"));
  while (rs->next()) {
    Popup p;
    std::string why;
    if (!popup_from_row(rs.get(), &p, &why)) {
      log_warn("config: popup %lld skipped: %s", static_cast<long long>(p.id), why.c_str());
      continue;
    }
    cfg.popups.push_back(std::move(p));
  }
  sort_for_selection(cfg.popups);
  return cfg;
}

bool Mysql::load_user_states(const std::string& uid, UserStates* out, std::string* err) {
  return on_connection([&](std::string*) {
    sql::PreparedStatement* st = prepared(
        "SELECT popup_id, next_show_at, impressions, last_action, updated_at, ev_order"
        " FROM user_state WHERE uid = ?");
    st->setString(1, uid);
    std::unique_ptr<sql::ResultSet> rs(st->executeQuery());
    out->clear();
    while (rs->next()) {
      UserState s;
      s.next_show_at = rs->getInt64("next_show_at");
      s.impressions = rs->getInt64("impressions");
      s.last_action = parse_last_action(std::string(rs->getString("last_action")))
                          .value_or(LastAction::show);
      s.updated_at = rs->getInt64("updated_at");
      s.order = rs->getInt64("ev_order");
      (*out)[rs->getInt64("popup_id")] = s;
    }
    return true;
  }, err, true);
}

bool Mysql::ping(std::string* err) {
  return on_connection([&](std::string* e) {
    std::string why;
    DbFailure failure = DbFailure::other;
    return nodes_.ready(conn_.get(), &why, &failure) || fail("ping: " + why, e, failure);
  }, err, true);
}

}  // namespace popup

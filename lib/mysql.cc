#include "lib/mysql.h"

#include <cppconn/datatype.h>
#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

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

sql::mysql::MySQL_Driver* driver() {
  static sql::mysql::MySQL_Driver* d = sql::mysql::get_mysql_driver_instance();
  return d;
}

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

// A query's rows, from its prepared statement when it carries values, else
// from plain text; the text statement lives as long as its rows.
struct QueryRows {
  std::unique_ptr<sql::Statement> text;
  std::unique_ptr<sql::ResultSet> rs;
};
QueryRows run_query(sql::Connection* conn, sql::PreparedStatement* bound, const std::string& sql) {
  QueryRows r;
  if (bound) {
    r.rs.reset(bound->executeQuery());
  } else {
    r.text.reset(conn->createStatement());
    r.rs.reset(r.text->executeQuery(sql));
  }
  return r;
}

}  // namespace

void mysql_global_init() { driver(); }

Mysql::Mysql(const Settings& s, int read_timeout_s) : s_(s), read_timeout_s_(read_timeout_s) {}

int64_t Mysql::now_ms() { return popup::steady_ms(); }
Mysql::~Mysql() = default;

bool Mysql::fail(const std::string& what, std::string* err, DbFailure why) {
  *err = "mysql: " + what;
  prepared_.clear();
  conn_.reset();
  last_failure_ = why;
  if ((why == DbFailure::next_node || why == DbFailure::lost) && nodes_.size() > 1 &&
      !node_.empty()) {
    cur_ = (cur_ + 1) % nodes_.size();
    log_warn("mysql: node %s failed (%s); the next connection tries %s first", node_.c_str(),
             what.c_str(), to_string(nodes_[cur_]).c_str());
  }
  node_.clear();
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
  nodes_ = db_nodes(s_);
  if (cur_ >= nodes_.size()) cur_ = 0;
  std::string why;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    size_t at = (cur_ + i) % nodes_.size();
    std::string e;
    if (connect_to(nodes_[at], &e)) {
      if (i != 0) log_warn("mysql: connected to node %s", node_.c_str());
      cur_ = at;
      no_node_ = false;
      return true;
    }
    why += (why.empty() ? "" : "; ") + e;
  }
  // Every node was tried: another attempt within this call would only
  // wait for them again.
  *err = "mysql: connect: " + why;
  last_failure_ = DbFailure::other;
  no_node_ = true;
  return false;
}

bool Mysql::connect_to(const DbNode& n, std::string* err) {
  std::string name = to_string(n);
  try {
    sql::ConnectOptionsMap opts;
    opts["userName"] = sql::SQLString(s_.mysql_user);
    opts["password"] = sql::SQLString(s_.mysql_password);
    opts["schema"] = sql::SQLString(s_.mysql_db);
    if (!n.socket.empty()) {
      opts["hostName"] = sql::SQLString("localhost");
      opts["socket"] = sql::SQLString(n.socket);
    } else {
      opts["hostName"] = sql::SQLString(n.host);
      opts["port"] = n.port;
    }
    opts["OPT_CONNECT_TIMEOUT"] = std::min(2, read_timeout_s_);
    opts["OPT_READ_TIMEOUT"] = read_timeout_s_;
    opts["OPT_WRITE_TIMEOUT"] = read_timeout_s_;
    opts["OPT_RECONNECT"] = false;
    opts["CLIENT_MULTI_STATEMENTS"] = false;
    conn_.reset(driver()->connect(opts));
    std::unique_ptr<sql::Statement> st(conn_->createStatement());
    st->execute("SET NAMES utf8mb4");
    // A Galera node (wsrep_on) takes statements only while wsrep_ready is
    // ON (in the primary component and synced); a server without wsrep, or
    // with it off (whose wsrep_ready then says OFF), is usable.
    {
      std::unique_ptr<sql::ResultSet> rs(st->executeQuery("SHOW VARIABLES LIKE 'wsrep_on'"));
      wsrep_ = rs->next() && std::string(rs->getString(2)) == "ON";
    }
    if (wsrep_) {
      std::unique_ptr<sql::ResultSet> rs(
          st->executeQuery("SHOW GLOBAL STATUS LIKE 'wsrep_ready'"));
      std::string ready = rs->next() ? std::string(rs->getString(2)) : "missing";
      if (ready != "ON") {
        conn_.reset();
        *err = name + ": wsrep_ready is " + ready;
        return false;
      }
    }
    node_ = name;
    return true;
  } catch (const sql::SQLException& e) {
    prepared_.clear();
    conn_.reset();
    *err = (nodes_.size() > 1 ? name + ": " : "") + e.what();
    return false;
  }
}

sql::PreparedStatement* Mysql::prepared(const std::string& sql) {
  auto& slot = prepared_[sql];
  if (!slot) slot.reset(conn_->prepareStatement(sql));
  return slot.get();
}

bool Mysql::load_config(ConfigSet* out, std::string* err) {
  return attempts([&](std::string* e) { return load_config_once(out, e); }, err, true);
}

bool Mysql::load_user_states(const std::string& uid, UserStates* out, std::string* err) {
  return attempts([&](std::string* e) { return load_user_states_once(uid, out, e); }, err, true);
}

bool Mysql::load_config_once(ConfigSet* out, std::string* err) {
  if (!ensure_connected(err)) return false;
  try {
    *out = read_config();
    return true;
  } catch (const sql::SQLException& e) {
    return fail(e, err);
  }
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

bool Mysql::commit_published(const std::vector<Statement>& stmts,
                             const std::function<bool(const ConfigSet&, std::string*)>& publish,
                             ConfigSet* cfg, bool* published, std::string* err) {
  // Once the set is published, a failed commit is the caller's to handle.
  return attempts(
      [&](std::string* e) {
        if (commit_published_once(stmts, publish, cfg, published, e)) return true;
        if (*published) last_failure_ = DbFailure::other;
        return false;
      },
      err, false);
}

bool Mysql::commit_published_once(const std::vector<Statement>& stmts,
                                  const std::function<bool(const ConfigSet&, std::string*)>& publish,
                                  ConfigSet* cfg, bool* published, std::string* err) {
  *published = false;
  if (!ensure_connected(err)) return false;
  try {
    std::unique_ptr<sql::Statement> st(conn_->createStatement());
    st->execute("START TRANSACTION");
    for (const auto& q : stmts) run_update(q);
    st->execute("UPDATE config_meta SET version = version + 1 WHERE id = 1");
    *cfg = read_config();
    if (!publish(*cfg, err)) {
      st->execute("ROLLBACK");
      return false;
    }
    *published = true;
    st->execute("COMMIT");
    return true;
  } catch (const sql::SQLException& e) {
    return fail(e, err);
  }
}

bool Mysql::load_user_states_once(const std::string& uid, UserStates* out, std::string* err) {
  if (!ensure_connected(err)) return false;
  try {
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
  } catch (const sql::SQLException& e) {
    return fail(e, err);
  }
}

bool Mysql::bump_version(int64_t* version, std::string* err) {
  if (!execute("UPDATE config_meta SET version = version + 1 WHERE id = 1", err)) return false;
  return query_int("SELECT version FROM config_meta WHERE id = 1", version, err);
}

sql::PreparedStatement* Mysql::bound(const Statement& q) {
  sql::PreparedStatement* st = prepared(q.sql);
  st->clearParameters();
  unsigned i = 1;
  for (const Param& p : q.params) {
    if (const auto* n = std::get_if<int64_t>(&p))
      st->setInt64(i, *n);
    else if (const auto* t = std::get_if<std::string>(&p))
      st->setString(i, *t);
    else
      st->setNull(i, sql::DataType::VARCHAR);
    ++i;
  }
  return st;
}

int64_t Mysql::run_update(const Statement& q) {
  if (!q.params.empty()) return bound(q)->executeUpdate();
  std::unique_ptr<sql::Statement> st(conn_->createStatement());
  return st->executeUpdate(q.sql);
}

bool Mysql::ping(std::string* err) {
  return attempts([&](std::string* err) {
    if (!ensure_connected(err)) return false;
    try {
      if (wsrep_) {
        std::unique_ptr<sql::Statement> st(conn_->createStatement());
        std::unique_ptr<sql::ResultSet> rs(
            st->executeQuery("SHOW GLOBAL STATUS LIKE 'wsrep_ready'"));
        if (rs->next() && std::string(rs->getString(2)) == "ON") return true;
        return fail("ping: " + node_ + " is not ready (wsrep_ready OFF)", err,
                    DbFailure::next_node);
      }
      if (conn_->isValid()) return true;
      return fail("ping: no answer", err, DbFailure::lost);
    } catch (const sql::SQLException& e) {
      return fail(e, err);
    }
  }, err, true);
}

bool Mysql::query_int(const Statement& q, int64_t* out, std::string* err) {
  return attempts([&](std::string* err) {
    if (!ensure_connected(err)) return false;
    try {
      QueryRows r = run_query(conn_.get(), q.params.empty() ? nullptr : bound(q), q.sql);
      sql::ResultSet* rs = r.rs.get();
      *out = rs->next() ? rs->getInt64(1) : 0;
      return true;
    } catch (const sql::SQLException& e) {
      return fail(e, err);
    }
  }, err, true);
}

bool Mysql::execute(const Statement& q, std::string* err) {
  return attempts([&](std::string* err) {
    if (!ensure_connected(err)) return false;
    try {
      if (!q.params.empty()) {
        bound(q)->execute();
      } else {
        std::unique_ptr<sql::Statement> st(conn_->createStatement());
        st->execute(q.sql);
      }
      return true;
    } catch (const sql::SQLException& e) {
      return fail(e, err);
    }
  }, err, false);
}

bool Mysql::query_rows(const Statement& q, std::vector<Row>* out, std::string* err) {
  return attempts([&](std::string* err) {
    if (!ensure_connected(err)) return false;
    try {
      QueryRows r = run_query(conn_.get(), q.params.empty() ? nullptr : bound(q), q.sql);
      sql::ResultSet* rs = r.rs.get();
      unsigned cols = rs->getMetaData()->getColumnCount();
      out->clear();
      while (rs->next()) {
        Row row;
        for (unsigned c = 1; c <= cols; ++c)
          row.push_back(rs->isNull(c) ? std::nullopt
                                      : std::optional<std::string>(rs->getString(c)));
        out->push_back(std::move(row));
      }
      return true;
    } catch (const sql::SQLException& e) {
      return fail(e, err);
    }
  }, err, true);
}

bool Mysql::transaction(const std::vector<Statement>& stmts, std::string* err) {
  return attempts([&](std::string* err) {
    if (!ensure_connected(err)) return false;
    try {
      std::unique_ptr<sql::Statement> st(conn_->createStatement());
      st->execute("START TRANSACTION");
      for (const auto& q : stmts) run_update(q);
      st->execute("COMMIT");
      return true;
    } catch (const sql::SQLException& e) {
      return fail(e, err);
    }
  }, err, false);
}

bool Mysql::execute_count(const Statement& q, int64_t* affected, std::string* err) {
  return attempts([&](std::string* err) {
    if (!ensure_connected(err)) return false;
    try {
      *affected = run_update(q);
      return true;
    } catch (const sql::SQLException& e) {
      return fail(e, err);
    }
  }, err, false);
}

}  // namespace popup

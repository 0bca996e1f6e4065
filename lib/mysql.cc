#include "lib/mysql.h"

#include <boost/json.hpp>
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
#include <set>

#include "core/rollup.h"
#include "core/select.h"
#include "core/version.h"
#include "lib/log.h"

namespace popup {
namespace {

sql::mysql::MySQL_Driver* driver() {
  static sql::mysql::MySQL_Driver* d = sql::mysql::get_mysql_driver_instance();
  return d;
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
  return true;
}

// Rows per multi-row INSERT for a batch of n: as few statements as before
// prepared statements (one per table up to 1,024 events), each of a power
// of two rows, so a connection prepares at most 11 shapes per table. The
// rows past the batch's end repeat its last event, which changes nothing:
// INSERT IGNORE skips a known event id, and the state upsert keeps a row
// whose (ev_order, event_id) is not newer.
std::vector<size_t> chunk_rows(size_t n) {
  constexpr size_t kMaxRows = 1024;
  std::vector<size_t> out(n / kMaxRows, kMaxRows);
  if (size_t rest = n % kMaxRows) {
    size_t rows = 1;
    while (rows < rest) rows *= 2;
    out.push_back(rows);
  }
  return out;
}

// "INSERT ... VALUES " + rows copies of `row` ("(?,?,...)") + `tail`.
std::string insert_sql(const char* head, const char* row, size_t rows, const std::string& tail) {
  std::string out = head;
  for (size_t i = 0; i < rows; ++i) {
    if (i) out += ',';
    out += row;
  }
  return out + tail;
}

const char* kEventInsert =
    "INSERT IGNORE INTO popup_events (event_id, uid, popup_id, kind, ts, ev_order,"
    " next_show_at, impressions) VALUES ";
const char* kStateInsert =
    "INSERT INTO user_state (uid, popup_id, next_show_at, impressions, last_action,"
    " updated_at, ev_order, event_id) VALUES ";
const char* kRow8 = "(?,?,?,?,?,?,?,?)";
// The roll-ups (core/rollup.h; before migration 003, a trigger per event),
// from a JSON array of rows in one parameter.
const char* kDailyUpsert =
    "INSERT INTO popup_daily (day, popup_id, impressions, clicks, ignores)"
    " SELECT DATE('1970-01-01') + INTERVAL j.d DAY, j.p, j.n_show, j.n_click, j.n_ignore"
    " FROM JSON_TABLE(?, '$[*]' COLUMNS (p INT UNSIGNED PATH '$[0]', d BIGINT PATH '$[1]',"
    " n_show BIGINT PATH '$[2]', n_click BIGINT PATH '$[3]', n_ignore BIGINT PATH '$[4]')) AS j"
    " ON DUPLICATE KEY UPDATE impressions = popup_daily.impressions + VALUES(impressions),"
    " clicks = popup_daily.clicks + VALUES(clicks), ignores = popup_daily.ignores + VALUES(ignores)";
const char* kDailyUsersInsert =
    "INSERT IGNORE INTO popup_daily_users (popup_id, day, uid)"
    " SELECT j.p, DATE('1970-01-01') + INTERVAL j.d DAY, j.u"
    " FROM JSON_TABLE(?, '$[*]' COLUMNS (p INT UNSIGNED PATH '$[0]', d BIGINT PATH '$[1]',"
    " u VARCHAR(64) CHARACTER SET ascii PATH '$[2]')) AS j";

// The first event of each id, in order (a batch that holds one id twice).
std::vector<Event> unique_by_id(const std::vector<Event>& events) {
  std::set<std::string> seen;
  std::vector<Event> out;
  for (const Event& e : events)
    if (seen.insert(e.id).second) out.push_back(e);
  return out;
}

// Assignments run left to right and later ones see earlier results, so the
// comparison keys (event_id, ev_order) are assigned last; with equal
// ev_order the event_id assignment makes the ev_order test false, which is
// right because ev_order is then unchanged anyway.
std::string state_upsert_tail() {
  const std::string newer = "(VALUES(ev_order), VALUES(event_id)) > (ev_order, event_id)";
  return " ON DUPLICATE KEY UPDATE next_show_at = IF(" + newer +
         ", VALUES(next_show_at), next_show_at), impressions = IF(" + newer +
         ", VALUES(impressions), impressions), last_action = IF(" + newer +
         ", VALUES(last_action), last_action), updated_at = IF(" + newer +
         ", VALUES(updated_at), updated_at), event_id = IF(" + newer +
         ", VALUES(event_id), event_id),"
         " ev_order = IF(VALUES(ev_order) > ev_order, VALUES(ev_order), ev_order)";
}

// Binds one event's 8 columns from parameter index `first` on.
void bind_event(sql::PreparedStatement* st, unsigned first, const Event& e) {
  st->setString(first, e.id);
  st->setString(first + 1, e.uid);
  st->setInt64(first + 2, e.popup_id);
  st->setString(first + 3, to_string(e.kind));
  st->setInt64(first + 4, e.ts);
  st->setInt64(first + 5, e.order);
  st->setInt64(first + 6, e.state.next_show_at);
  st->setInt64(first + 7, e.state.impressions);
}

void bind_state(sql::PreparedStatement* st, unsigned first, const Event& e) {
  st->setString(first, e.uid);
  st->setInt64(first + 1, e.popup_id);
  st->setInt64(first + 2, e.state.next_show_at);
  st->setInt64(first + 3, e.state.impressions);
  st->setString(first + 4, to_string(e.state.last_action));
  st->setInt64(first + 5, e.ts);
  st->setInt64(first + 6, e.order);
  st->setString(first + 7, e.id);
}

}  // namespace

void mysql_global_init() { driver(); }

Mysql::Mysql(const Settings& s) : s_(s) {}
Mysql::~Mysql() = default;

bool Mysql::fail(const std::string& what, std::string* err) {
  *err = "mysql: " + what;
  prepared_.clear();
  conn_.reset();
  return false;
}

bool Mysql::ensure_connected(std::string* err, bool batch) {
  if (!conn_ && !connect(err)) return false;
  if (batch == batch_) return true;
  try {
    conn_->setAutoCommit(!batch);
    batch_ = batch;
    return true;
  } catch (const sql::SQLException& e) {
    return fail(e.what(), err);
  }
}

bool Mysql::connect(std::string* err) {
  batch_ = false;
  try {
    sql::ConnectOptionsMap opts;
    opts["userName"] = sql::SQLString(s_.mysql_user);
    opts["password"] = sql::SQLString(s_.mysql_password);
    opts["schema"] = sql::SQLString(s_.mysql_db);
    if (!s_.mysql_socket.empty()) {
      opts["hostName"] = sql::SQLString("localhost");
      opts["socket"] = sql::SQLString(s_.mysql_socket);
    } else {
      opts["hostName"] = sql::SQLString(s_.mysql_host);
      opts["port"] = s_.mysql_port;
    }
    opts["OPT_CONNECT_TIMEOUT"] = 2;
    opts["OPT_READ_TIMEOUT"] = 10;
    opts["OPT_WRITE_TIMEOUT"] = 10;
    opts["OPT_RECONNECT"] = false;
    opts["CLIENT_MULTI_STATEMENTS"] = false;
    conn_.reset(driver()->connect(opts));
    std::unique_ptr<sql::Statement> st(conn_->createStatement());
    st->execute("SET NAMES utf8mb4");
    return true;
  } catch (const sql::SQLException& e) {
    return fail(std::string("connect: ") + e.what(), err);
  }
}

sql::PreparedStatement* Mysql::prepared(const std::string& sql) {
  auto& slot = prepared_[sql];
  if (!slot) slot.reset(conn_->prepareStatement(sql));
  return slot.get();
}

bool Mysql::load_config(ConfigSet* out, std::string* err) {
  return again_if_stale([&](std::string* e) { return load_config_once(out, e); }, err);
}

bool Mysql::load_user_states(const std::string& uid, UserStates* out, std::string* err) {
  return again_if_stale([&](std::string* e) { return load_user_states_once(uid, out, e); }, err);
}

bool Mysql::apply_events(const std::vector<Event>& events, std::string* err) {
  return again_if_stale([&](std::string* e) { return apply_events_once(events, e); }, err);
}

bool Mysql::load_config_once(ConfigSet* out, std::string* err) {
  if (!ensure_connected(err)) return false;
  try {
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
        " ignore_cooldown_s, click_cooldown_s, title, body, image_url, link_url"
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
    *out = std::move(cfg);
    return true;
  } catch (const sql::SQLException& e) {
    return fail(e.what(), err);
  }
}

bool Mysql::load_user_states_once(const std::string& uid, UserStates* out, std::string* err) {
  if (!ensure_connected(err)) return false;
  try {
    sql::PreparedStatement* st = prepared(
        "SELECT popup_id, next_show_at, impressions, last_action, updated_at"
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
      (*out)[rs->getInt64("popup_id")] = s;
    }
    return true;
  } catch (const sql::SQLException& e) {
    return fail(e.what(), err);
  }
}

// The roll-up rows of the events a batch inserted (core/rollup.h), each
// table's rows as one JSON array bound to one parameter and expanded by
// JSON_TABLE: one statement and one prepared shape per table whatever the
// batch holds (padding with repeated rows, as the event rows are, made
// InnoDB handle a duplicate key for every padded user row).
void Mysql::apply_rollup(const std::vector<Event>& inserted) {
  Rollup r = rollup(inserted);
  if (!r.counts.empty()) {
    boost::json::array rows;
    for (const DailyCount& c : r.counts)
      rows.push_back(boost::json::array{c.popup_id, c.day, c.impressions, c.clicks, c.ignores});
    sql::PreparedStatement* st = prepared(kDailyUpsert);
    st->setString(1, boost::json::serialize(rows));
    st->executeUpdate();
  }
  if (!r.users.empty()) {
    boost::json::array rows;
    for (const DailyUser& u : r.users) rows.push_back(boost::json::array{u.popup_id, u.day, u.uid});
    sql::PreparedStatement* st = prepared(kDailyUsersInsert);
    st->setString(1, boost::json::serialize(rows));
    st->executeUpdate();
  }
}

// Events one at a time, each followed by its state: what a batch that holds
// a replayed event takes (rare), so that only the events really inserted
// are counted in the roll-ups.
std::vector<Event> Mysql::insert_one_by_one(const std::vector<Event>& events) {
  std::vector<Event> inserted;
  static const std::string state_tail = state_upsert_tail();
  sql::PreparedStatement* ev = prepared(insert_sql(kEventInsert, kRow8, 1, ""));
  sql::PreparedStatement* us = prepared(insert_sql(kStateInsert, kRow8, 1, state_tail));
  for (const Event& e : events) {
    bind_event(ev, 1, e);
    if (ev->executeUpdate() == 1) inserted.push_back(e);
    bind_state(us, 1, e);
    us->executeUpdate();
  }
  return inserted;
}

bool Mysql::apply_events_once(const std::vector<Event>& events, std::string* err) {
  if (events.empty()) return true;
  // Autocommit off: every statement is in a transaction until commit(), so
  // a batch needs no START TRANSACTION (writer goal: at most 10 statements
  // per 1,000 events; the roll-ups add two per batch).
  if (!ensure_connected(err, true)) return false;
  try {
    static const std::string state_tail = state_upsert_tail();
    std::set<std::string> ids;  // of the rows sent so far
    bool replay = false;
    size_t at = 0;
    for (size_t rows : chunk_rows(events.size())) {
      sql::PreparedStatement* ev = prepared(insert_sql(kEventInsert, kRow8, rows, ""));
      sql::PreparedStatement* us = prepared(insert_sql(kStateInsert, kRow8, rows, state_tail));
      size_t fresh = 0;  // distinct ids new to this batch, each inserted at most once
      for (size_t i = 0; i < rows; ++i) {
        const Event& e = events[std::min(at + i, events.size() - 1)];
        if (at + i < events.size()) fresh += ids.insert(e.id).second;
        bind_event(ev, static_cast<unsigned>(8 * i + 1), e);
        bind_state(us, static_cast<unsigned>(8 * i + 1), e);
      }
      // Fewer rows than distinct ids: an event was there before (a replay).
      if (static_cast<size_t>(ev->executeUpdate()) != fresh) {
        replay = true;
        break;
      }
      // Events first, then states, chunk by chunk in batch order: a later
      // event of the same (uid, popup) still reaches the upsert after an
      // earlier one.
      us->executeUpdate();
      at += rows;
    }
    if (replay) {
      conn_->rollback();
      apply_rollup(insert_one_by_one(events));
    } else {
      apply_rollup(events.size() == ids.size() ? events : unique_by_id(events));
    }
    conn_->commit();
    return true;
  } catch (const sql::SQLException& e) {
    // Dropping the connection rolls back whatever the transaction did.
    return fail(e.what(), err);
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

bool Mysql::query_int(const Statement& q, int64_t* out, std::string* err) {
  if (!ensure_connected(err)) return false;
  try {
    std::unique_ptr<sql::Statement> text;
    std::unique_ptr<sql::ResultSet> rs;
    if (!q.params.empty()) {
      rs.reset(bound(q)->executeQuery());
    } else {
      text.reset(conn_->createStatement());
      rs.reset(text->executeQuery(q.sql));
    }
    *out = rs->next() ? rs->getInt64(1) : 0;
    return true;
  } catch (const sql::SQLException& e) {
    return fail(e.what(), err);
  }
}

bool Mysql::execute(const Statement& q, std::string* err) {
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
    return fail(e.what(), err);
  }
}

bool Mysql::query_rows(const Statement& q, std::vector<Row>* out, std::string* err) {
  if (!ensure_connected(err)) return false;
  try {
    std::unique_ptr<sql::Statement> text;
    std::unique_ptr<sql::ResultSet> rs;
    if (!q.params.empty()) {
      rs.reset(bound(q)->executeQuery());
    } else {
      text.reset(conn_->createStatement());
      rs.reset(text->executeQuery(q.sql));
    }
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
    return fail(e.what(), err);
  }
}

bool Mysql::transaction(const std::vector<Statement>& stmts, std::string* err) {
  if (!ensure_connected(err)) return false;
  try {
    std::unique_ptr<sql::Statement> st(conn_->createStatement());
    st->execute("START TRANSACTION");
    for (const auto& q : stmts) run_update(q);
    st->execute("COMMIT");
    return true;
  } catch (const sql::SQLException& e) {
    return fail(e.what(), err);
  }
}

bool Mysql::execute_count(const Statement& q, int64_t* affected, std::string* err) {
  if (!ensure_connected(err)) return false;
  try {
    *affected = run_update(q);
    return true;
  } catch (const sql::SQLException& e) {
    return fail(e.what(), err);
  }
}

}  // namespace popup

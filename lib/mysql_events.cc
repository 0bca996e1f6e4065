// Mysql::apply_events (lib/mysql.h): a batch of events, their states and
// the daily roll-ups in one transaction, as the writer's batches and a
// worker writing straight to MySQL send them.
#include "lib/mysql.h"

#include <boost/json.hpp>
#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <memory>
#include <set>

#include "core/rollup.h"
#include "core/statement_rows.h"
#include "lib/log.h"

namespace popup {
namespace {

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

// How many of the ids (a JSON array of strings) popup_events holds.
const char* kEventsPresent =
    "SELECT COUNT(e.event_id) FROM popup_events e JOIN JSON_TABLE(?, '$[*]' COLUMNS"
    " (id CHAR(32) CHARACTER SET ascii PATH '$')) AS j ON e.event_id = j.id";

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
// right because ev_order is then unchanged anyway. The impression count
// only grows, whichever event is newer (lib/store.h: an action decided
// before the owner's impressions were stored keeps them counted).
const std::string& state_upsert_tail() {
  static const std::string newer = "(VALUES(ev_order), VALUES(event_id)) > (ev_order, event_id)";
  static const std::string tail = " ON DUPLICATE KEY UPDATE next_show_at = IF(" + newer +
         ", VALUES(next_show_at), next_show_at),"
         " impressions = GREATEST(impressions, VALUES(impressions)), last_action = IF(" + newer +
         ", VALUES(last_action), last_action), updated_at = IF(" + newer +
         ", VALUES(updated_at), updated_at), event_id = IF(" + newer +
         ", VALUES(event_id), event_id),"
         " ev_order = IF(VALUES(ev_order) > ev_order, VALUES(ev_order), ev_order)";
  return tail;
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

bool Mysql::apply_events(const std::vector<Event>& events, std::string* err) {
  return attempts([&](std::string* e) { return apply_events_once(events, e); }, err, true);
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
  sql::PreparedStatement* ev = prepared(insert_sql(kEventInsert, kRow8, 1, ""));
  sql::PreparedStatement* us = prepared(insert_sql(kStateInsert, kRow8, 1, state_upsert_tail()));
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
    std::set<std::string> ids;  // of the rows sent so far; at the commit, the batch's
    bool replay = false;
    size_t at = 0;
    for (size_t rows : statement_rows(events.size())) {
      sql::PreparedStatement* ev = prepared(insert_sql(kEventInsert, kRow8, rows, ""));
      sql::PreparedStatement* us =
          prepared(insert_sql(kStateInsert, kRow8, rows, state_upsert_tail()));
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
      for (const Event& e : events) ids.insert(e.id);
    } else {
      apply_rollup(events.size() == ids.size() ? events : unique_by_id(events));
    }
    conn_->commit();
    // A Galera node that lost its peers while the commit waited for the
    // group may release it as it leaves the primary component (a
    // transitional view), and such a commit is not in the cluster the node
    // later rejoins: only a node still in the primary component after the
    // commit vouches for the batch. Otherwise it counts as not applied and
    // is applied again, elsewhere or later (a replay is harmless: INSERT
    // IGNORE by event id).
    std::string why;
    DbFailure failure = DbFailure::other;
    if (!nodes_.galera()) return true;
    if (!nodes_.ready(conn_.get(), &why, &failure))
      return fail("after the commit: " + why + "; the batch counts as not applied", err, failure);
    // And the node has its rows: in the cluster tests a batch committed
    // without an error (its processing list then dropped it) was on no
    // node afterwards, right after the cluster re-formed from a partition.
    // One read of the batch's ids by primary key; short, it is applied
    // again (see above).
    boost::json::array wanted;
    for (const std::string& id : ids) wanted.push_back(boost::json::string(id));
    sql::PreparedStatement* st = prepared(kEventsPresent);
    st->setString(1, boost::json::serialize(wanted));
    std::unique_ptr<sql::ResultSet> rs(st->executeQuery());
    int64_t present = rs->next() ? rs->getInt64(1) : -1;
    rs.reset();
    conn_->commit();  // ends the read's snapshot
    if (present == static_cast<int64_t>(ids.size())) return true;
    log_error("mysql: node %s answered the commit of %zu events, but holds %lld of them after it; "
              "the batch counts as not applied",
              nodes_.node().c_str(), ids.size(), static_cast<long long>(present));
    return fail("after the commit: " + std::to_string(present) + " of " +
                    std::to_string(ids.size()) + " events on the node",
                err, DbFailure::next_node);
  } catch (const sql::SQLException& e) {
    // Dropping the connection rolls back whatever the transaction did.
    return fail(e, err);
  }
}

}  // namespace popup

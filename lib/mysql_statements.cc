// Mysql's statements with bound values (lib/mysql.h, Mysql::Statement):
// popupctl's queries, changes and transactions, and the transaction that
// publishes a configuration change.
#include "lib/mysql.h"

#include <cppconn/connection.h>
#include <cppconn/datatype.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>
#include <cppconn/statement.h>

namespace popup {
namespace {

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

bool Mysql::in_transaction(const std::function<bool(sql::Statement*, std::string*)>& body,
                           std::string* err, const bool* committing) {
  auto one = [&](std::string* e) {
    std::unique_ptr<sql::Statement> st(conn_->createStatement());
    st->execute("START TRANSACTION");
    if (!body(st.get(), e)) {
      st->execute("ROLLBACK");
      return false;
    }
    st->execute("COMMIT");
    return true;
  };
  return attempts(
      [&](std::string* e) {
        if (once(one, e)) return true;
        if (committing && *committing) last_failure_ = DbFailure::other;
        return false;
      },
      err, false);
}

bool Mysql::commit_published(const std::vector<Statement>& stmts,
                             const std::function<bool(const ConfigSet&, std::string*)>& publish,
                             ConfigSet* cfg, bool* published, std::string* err) {
  *published = false;
  // Once the set is published, a failed commit is the caller's to handle.
  return in_transaction(
      [&](sql::Statement* st, std::string* e) {
        for (const auto& q : stmts) run_update(q);
        st->execute("UPDATE config_meta SET version = version + 1 WHERE id = 1");
        *cfg = read_config();
        if (!publish(*cfg, e)) return false;
        *published = true;
        return true;
      },
      err, published);
}

bool Mysql::transaction(const std::vector<Statement>& stmts, std::string* err) {
  return in_transaction(
      [&](sql::Statement*, std::string*) {
        for (const auto& q : stmts) run_update(q);
        return true;
      },
      err);
}

bool Mysql::bump_version(int64_t* version, std::string* err) {
  if (!execute("UPDATE config_meta SET version = version + 1 WHERE id = 1", err)) return false;
  return query_int("SELECT version FROM config_meta WHERE id = 1", version, err);
}

bool Mysql::query_int(const Statement& q, int64_t* out, std::string* err) {
  return on_connection([&](std::string*) {
    QueryRows r = run_query(conn_.get(), q.params.empty() ? nullptr : bound(q), q.sql);
    *out = r.rs->next() ? r.rs->getInt64(1) : 0;
    return true;
  }, err, true);
}

bool Mysql::execute(const Statement& q, std::string* err) {
  return on_connection([&](std::string*) {
    if (!q.params.empty()) {
      bound(q)->execute();
    } else {
      std::unique_ptr<sql::Statement> st(conn_->createStatement());
      st->execute(q.sql);
    }
    return true;
  }, err, false);
}

bool Mysql::query_rows(const Statement& q, std::vector<Row>* out, std::string* err) {
  return on_connection([&](std::string*) {
    QueryRows r = run_query(conn_.get(), q.params.empty() ? nullptr : bound(q), q.sql);
    sql::ResultSet* rs = r.rs.get();
    unsigned cols = rs->getMetaData()->getColumnCount();
    out->clear();
    while (rs->next()) {
      Row row;
      for (unsigned c = 1; c <= cols; ++c)
        row.push_back(rs->isNull(c) ? std::nullopt : std::optional<std::string>(rs->getString(c)));
      out->push_back(std::move(row));
    }
    return true;
  }, err, true);
}

bool Mysql::execute_count(const Statement& q, int64_t* affected, std::string* err) {
  return on_connection([&](std::string*) {
    *affected = run_update(q);
    return true;
  }, err, false);
}

}  // namespace popup

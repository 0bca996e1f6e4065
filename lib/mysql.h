// The MySQL edge (Connector/C++ legacy API). Every query that carries data
// is a server-side prepared statement (sql::PreparedStatement) with its
// values bound as parameters, prepared once per connection and kept with it;
// no value is ever spliced into SQL text. Every Connector exception is
// caught here and turned into `false` + an error string; after an error the
// connection is dropped and the next call reconnects.
//
// Nodes: lib/mysql_nodes.h chooses the node of each connection and moves
// on to the next one when a node refuses statements or breaks.
//
// Attempts within one call (attempts() below): a deadlock or Galera
// certification failure (rolled back by the server) runs the call again,
// up to kDeadlockAttempts times with a short growing pause; a refusal
// (nothing ran) runs it on the next node. A broken connection runs again
// only a call that is safe to repeat: the reads and apply_events (events
// are idempotent by id, so a batch whose commit was lost is counted once
// when it is replayed). With one server, such a call runs once more only
// when it failed quickly on a connection made before the call (the server
// restarted since), so a MariaDB restart costs no request an error and a
// hung server costs one read timeout.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/db_nodes.h"
#include "core/event.h"
#include "core/popup.h"
#include "core/settings.h"
#include "lib/mysql_nodes.h"

namespace sql {
class Connection;
class PreparedStatement;
class SQLException;
class Statement;
}

namespace popup {

// Call once in main() before any thread: the driver's initialisation is not
// thread-safe.
void mysql_global_init();

class Mysql {
 public:
  // read_timeout_s: how long one read or write may wait for the server
  // (the request path passes kRequestTimeoutS: a hung MariaDB must cost a
  // visit about a second, not the writer's ten).
  explicit Mysql(const Settings& s, int read_timeout_s = 10);
  static constexpr int kRequestTimeoutS = 1;
  ~Mysql();
  Mysql(const Mysql&) = delete;
  static constexpr int kDeadlockAttempts = 5;

  // The node of the current connection (to_string(DbNode)); "" when there
  // is none (never connected, or the last call failed on every node).
  const std::string& node() const { return nodes_.node(); }
  // True when the last connect found no node that answers and takes
  // statements (every node was tried); false again once one does.
  bool no_node() const { return nodes_.no_node(); }
  Mysql& operator=(const Mysql&) = delete;

  // Every popup, enabled or not, and the published version. Rows that do not parse
  // (bad version text, unknown platform) are skipped and logged.
  bool load_config(ConfigSet* out, std::string* err);

  // Every (popup, state) row of one user; an empty map means "no state".
  bool load_user_states(const std::string& uid, UserStates* out, std::string* err);

  // Applies a batch in one transaction: event rows with INSERT IGNORE (a
  // known event id adds nothing), state rows upserted only when the event is
  // newer (order, then id) than the stored one, and the daily roll-ups of
  // the events inserted (core/rollup.h). Replaying changes nothing: a batch
  // in which an event was there before is redone event by event, so only
  // new events are counted.
  // Values are bound parameters; a batch goes out as one or two multi-row
  // INSERTs per table (per 1,024 events), each of a power of two rows, the
  // missing ones copies of the last event (core/statement_rows.h), so a
  // connection prepares few shapes.
  bool apply_events(const std::vector<Event>& events, std::string* err);

  // Increments config_meta.version and returns the new value.
  bool bump_version(int64_t* version, std::string* err);

  // One value for one `?` of a Statement: NULL, an integer or text.
  using Param = std::variant<std::nullptr_t, int64_t, std::string>;

  // SQL text with `?` placeholders and the values bound to them, in order
  // (popupctl's statements). One with values runs as a prepared statement
  // (kept with the connection, like the service's); the values never
  // become SQL text. One without values is a constant and runs as text.
  struct Statement {
    Statement(const char* q) : sql(q) {}  // NOLINT: a constant converts implicitly
    Statement(std::string q) : sql(std::move(q)) {}  // NOLINT
    Statement(std::string q, std::vector<Param> p) : sql(std::move(q)), params(std::move(p)) {}
    std::string sql;
    std::vector<Param> params;
  };

  // A round trip to the server (COM_PING: no statement, so it counts in no
  // Com_select; on a Galera node, SHOW STATUS of wsrep_ready, since a node
  // outside the primary component still answers COM_PING); connects first
  // when there is no connection. false: no answer within the read timeout,
  // an error, or a Galera node that no longer takes statements.
  bool ping(std::string* err);
  // One integer from a query (the first column of its first row; 0 when none).
  bool query_int(const Statement& q, int64_t* out, std::string* err);

  // Runs a statement that returns no rows.
  bool execute(const Statement& q, std::string* err);

  // Every row of a query, each column as text (nullopt = NULL); for popupctl.
  using Row = std::vector<std::optional<std::string>>;
  bool query_rows(const Statement& q, std::vector<Row>* out, std::string* err);

  // Runs the statements in one transaction; on any failure nothing is
  // committed (the connection is dropped, which rolls back).
  bool transaction(const std::vector<Statement>& stmts, std::string* err);

  // Runs one statement (autocommit) and returns the rows it changed.
  bool execute_count(const Statement& q, int64_t* affected, std::string* err);

  // popupctl's all-or-nothing change: in one transaction runs `stmts`,
  // increments config_meta.version and reads the configuration set as it
  // will be once committed (*cfg); then calls publish(*cfg, err) and
  // commits only when it returned true, else rolls back. The version row
  // stays locked until then, so concurrent changes publish in version
  // order. Returns whether it committed; *published tells whether publish
  // succeeded (true with a false return: the commit itself failed after
  // the set was published).
  bool commit_published(const std::vector<Statement>& stmts,
                        const std::function<bool(const ConfigSet&, std::string*)>& publish,
                        ConfigSet* cfg, bool* published, std::string* err);

 private:
  // The configuration set on the current connection (inside whatever
  // transaction it is in); throws sql::SQLException.
  ConfigSet read_config();
  // batch: autocommit off (apply_events commits each batch itself); every
  // other use turns it back on, so reads never sit in an old snapshot.
  bool ensure_connected(std::string* err, bool batch = false);
  bool connect(std::string* err);
  bool apply_events_once(const std::vector<Event>& events, std::string* err);
  std::vector<Event> insert_one_by_one(const std::vector<Event>& events);
  void apply_rollup(const std::vector<Event>& inserted);
  // op(err), and again as the header says: `repeatable` when running op
  // twice has the effect of running it once.
  template <class Op>
  bool attempts(Op op, std::string* err, bool repeatable) {
    int deadlocks = 0;
    size_t moves = 0;
    bool reused = conn_ != nullptr;
    for (;;) {
      last_failure_ = DbFailure::other;
      int64_t start = now_ms();
      if (op(err)) return true;
      if (!again(&deadlocks, &moves, &reused, now_ms() - start, repeatable, *err)) return false;
    }
  }
  // Whether a call that failed with last_failure_ after took_ms runs again
  // (counting in *deadlocks and *moves); pauses before a deadlock's retry.
  bool again(int* deadlocks, size_t* moves, bool* reused, int64_t took_ms, bool repeatable,
             const std::string& err);
  static int64_t now_ms();
  // Drops the connection and reports `what`; `why` decides the next attempt
  // and, for a node that refuses or broke, moves the next connection on.
  bool fail(const std::string& what, std::string* err, DbFailure why = DbFailure::other);
  bool fail(const sql::SQLException& e, std::string* err);
  // One attempt of body on a connection: connects first and fail()s a
  // Connector exception body throws.
  bool once(const std::function<bool(std::string*)>& body, std::string* err);
  // body through attempts(), each attempt once().
  bool on_connection(const std::function<bool(std::string*)>& body, std::string* err,
                     bool repeatable) {
    return attempts([&](std::string* e) { return once(body, e); }, err, repeatable);
  }
  // body in one transaction, through attempts() (not repeatable: a commit
  // whose answer was lost may have happened): START TRANSACTION, body(st,
  // err), then COMMIT when it returned true, or ROLLBACK when it returned
  // false (its *err says why; not run again). A failure once *committing is
  // true (body sets it when the transaction must not run twice) ends the
  // call too.
  bool in_transaction(const std::function<bool(sql::Statement*, std::string*)>& body,
                      std::string* err, const bool* committing = nullptr);
  // The statement for `sql`, prepared on the current connection at its first
  // use; throws sql::SQLException like any Connector call.
  sql::PreparedStatement* prepared(const std::string& sql);
  // q's prepared statement with q's values bound; q must have values.
  sql::PreparedStatement* bound(const Statement& q);
  // Runs q (prepared when it has values) and returns the rows it changed.
  int64_t run_update(const Statement& q);

  const Settings& s_;
  int read_timeout_s_;
  std::unique_ptr<sql::Connection> conn_;
  bool batch_ = false;  // conn_ has autocommit off
  MysqlNodes nodes_;  // conn_'s node, and the one the next connect tries first
  DbFailure last_failure_ = DbFailure::other;
  // Statements of conn_, by SQL text; cleared before conn_ is dropped.
  std::map<std::string, std::unique_ptr<sql::PreparedStatement>> prepared_;
};

}  // namespace popup

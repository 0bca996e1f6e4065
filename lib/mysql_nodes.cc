#include "lib/mysql_nodes.h"

#include <cppconn/connection.h>
#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include <algorithm>

#include "lib/log.h"
#include "lib/mysql.h"

namespace popup {
namespace {

sql::mysql::MySQL_Driver* driver() {
  static sql::mysql::MySQL_Driver* d = sql::mysql::get_mysql_driver_instance();
  return d;
}

// The node's wsrep_ready ("ON", "OFF", or "missing" without the variable).
std::string wsrep_ready(sql::Statement* st) {
  std::unique_ptr<sql::ResultSet> rs(st->executeQuery("SHOW GLOBAL STATUS LIKE 'wsrep_ready'"));
  return rs->next() ? std::string(rs->getString(2)) : "missing";
}

}  // namespace

void mysql_global_init() { driver(); }

MysqlNodes::MysqlNodes(const Settings& s, int read_timeout_s)
    : s_(s), read_timeout_s_(read_timeout_s) {}

std::unique_ptr<sql::Connection> MysqlNodes::connect(std::string* err) {
  nodes_ = db_nodes(s_);
  if (cur_ >= nodes_.size()) cur_ = 0;
  std::string why;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    size_t at = (cur_ + i) % nodes_.size();
    std::string e;
    if (auto c = connect_to(nodes_[at], &e)) {
      if (i != 0) log_warn("mysql: connected to node %s", node_.c_str());
      cur_ = at;
      no_node_ = false;
      return c;
    }
    why += (why.empty() ? "" : "; ") + e;
  }
  *err = why;
  no_node_ = true;
  return nullptr;
}

std::unique_ptr<sql::Connection> MysqlNodes::connect_to(const DbNode& n, std::string* err) {
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
    std::unique_ptr<sql::Connection> c(driver()->connect(opts));
    std::unique_ptr<sql::Statement> st(c->createStatement());
    st->execute("SET NAMES utf8mb4");
    // A Galera node (wsrep_on) takes statements only while wsrep_ready is
    // ON (in the primary component and synced); a server without wsrep, or
    // with it off (whose wsrep_ready then says OFF), is usable.
    {
      std::unique_ptr<sql::ResultSet> rs(st->executeQuery("SHOW VARIABLES LIKE 'wsrep_on'"));
      wsrep_ = rs->next() && std::string(rs->getString(2)) == "ON";
    }
    if (wsrep_) {
      std::string ready = wsrep_ready(st.get());
      if (ready != "ON") {
        *err = name + ": wsrep_ready is " + ready;
        return nullptr;
      }
    }
    node_ = name;
    return c;
  } catch (const sql::SQLException& e) {
    *err = (nodes_.size() > 1 ? name + ": " : "") + e.what();
    return nullptr;
  }
}

void MysqlNodes::failed(DbFailure why, const std::string& what) {
  if ((why == DbFailure::next_node || why == DbFailure::lost) && nodes_.size() > 1 &&
      !node_.empty()) {
    cur_ = (cur_ + 1) % nodes_.size();
    log_warn("mysql: node %s failed (%s); the next connection tries %s first", node_.c_str(),
             what.c_str(), to_string(nodes_[cur_]).c_str());
  }
  node_.clear();
}

bool MysqlNodes::ready(sql::Connection* c, std::string* why, DbFailure* failure) const {
  if (wsrep_) {
    std::unique_ptr<sql::Statement> st(c->createStatement());
    if (wsrep_ready(st.get()) == "ON") return true;
    *why = node_ + " is not ready (wsrep_ready OFF)";
    *failure = DbFailure::next_node;
    return false;
  }
  if (c->isValid()) return true;
  *why = "no answer";
  *failure = DbFailure::lost;
  return false;
}

}  // namespace popup

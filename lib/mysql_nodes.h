// Which MySQL node a Mysql (lib/mysql.h) connects to, and moving on when
// it fails. The nodes are `mysql_hosts` (core/db_nodes.h), or the one server
// of mysql_host/mysql_socket. A connection goes to the first node, from the
// current one on in list order, that answers and takes statements (a
// Galera node with wsrep_ready OFF does not), and that node stays current.
// A node that breaks the connection or refuses statements (Galera ERROR
// 1047, outside the primary component) makes the next node current, in
// list order, round.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/db_nodes.h"
#include "core/settings.h"

namespace sql {
class Connection;
}

namespace popup {

class MysqlNodes {
 public:
  // read_timeout_s: the connections' read and write timeout (connect: at
  // most 2 s).
  MysqlNodes(const Settings& s, int read_timeout_s);

  // A connection to the first node, from the current one on, that answers
  // and takes statements (the list is read from the settings at each
  // connect); that node becomes current. nullptr when none does: *err names
  // each node's failure and no_node() turns true.
  std::unique_ptr<sql::Connection> connect(std::string* err);

  // The current node's connection failed with `why` (`what` for the log):
  // a node that refused statements or broke the connection (next_node,
  // lost) sends the next connect to the next node first. Either way there
  // is no connected node until the next connect.
  void failed(DbFailure why, const std::string& what);

  // Whether the node of `c` (a connection from connect()) still takes
  // statements: on a Galera node wsrep_ready is ON (a node outside the
  // primary component still answers COM_PING); elsewhere it answers
  // COM_PING. False with *why and *failure (next_node, lost) otherwise;
  // throws sql::SQLException like any Connector call.
  bool ready(sql::Connection* c, std::string* why, DbFailure* failure) const;

  // The connected node is a Galera node (wsrep_on).
  bool galera() const { return wsrep_; }
  // The connected node (to_string(DbNode)); "" when there is none.
  const std::string& node() const { return node_; }
  // True when the last connect found no node that answers and takes
  // statements (every node was tried); false again once one does.
  bool no_node() const { return no_node_; }
  // Nodes in the list as of the last connect.
  size_t size() const { return nodes_.size(); }

 private:
  // One node: connected, and taking statements; nullptr with *err otherwise.
  std::unique_ptr<sql::Connection> connect_to(const DbNode& n, std::string* err);

  const Settings& s_;
  int read_timeout_s_;
  std::vector<DbNode> nodes_;  // db_nodes(s_), at each connect
  size_t cur_ = 0;             // the node tried first on the next connect
  std::string node_;           // the connected node; "" without one
  bool wsrep_ = false;         // node_ is a Galera node
  bool no_node_ = false;       // the last connect found none
};

}  // namespace popup

// The MySQL nodes the service may use (a Galera cluster, or one server) and
// what a failed call on one of them means for the next attempt. Pure: the
// edge (lib/mysql.cc) feeds it the server's error numbers and messages.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/popup.h"
#include "core/settings.h"

namespace popup {

// One server: host:port, or a unix socket (socket non-empty) on this host.
struct DbNode {
  std::string host;
  int port = 0;
  std::string socket;
};

// How a node is named in logs and /api/healthz: "host:port" or the socket path.
std::string to_string(const DbNode& n);

// `mysql_hosts`: "host:port,host:port,..." in order of preference (split by
// core/list.h: spaces allowed, no empty item; an IPv6 host in brackets,
// "[::1]:3306"); every item needs a port in 1..65535 and no host appears
// twice. Empty: an empty list. Error naming the first item that does not
// parse.
Result<std::vector<DbNode>> parse_db_nodes(std::string_view list);

// The nodes a process connects to: `mysql_hosts` when set, else the one
// server of mysql_socket, or of mysql_host and mysql_port. The settings are
// checked at load, so a list that does not parse here yields the single
// server.
std::vector<DbNode> db_nodes(const Settings& s);

// What a failed statement means for trying again.
enum class DbFailure {
  // Deadlock, lock wait timeout or Galera certification failure: the server
  // rolled the transaction back; running it again (on the same node) is safe.
  retry_transaction,
  // The node refuses statements (Galera: not in the primary component,
  // "WSREP has not yet prepared node for application use"): nothing ran;
  // another node may take it at once.
  next_node,
  // The connection broke or timed out mid-call: whether a write committed
  // is unknown, so only a call that is safe to repeat runs again, on the
  // next node.
  lost,
  // Anything else (bad SQL, a constraint, a privilege): trying again gives
  // the same answer.
  other,
};

// From the MySQL error number (Connector/C++ getErrorCode(); 0 when the
// connector itself found the connection closed) and the message.
DbFailure classify_db_error(int code, std::string_view message);

const char* to_string(DbFailure f);

}  // namespace popup

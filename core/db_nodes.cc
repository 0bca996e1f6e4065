#include "core/db_nodes.h"

#include <charconv>

#include "core/list.h"

namespace popup {
namespace {

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

// "host:port" or "[v6]:port" into *n; false when it is neither.
bool parse_node(std::string_view item, DbNode* n) {
  size_t colon = item.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = item.substr(0, colon), port = item.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
    for (char c : host)
      if (!(isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
  } else {
    for (char c : host)
      if (!host_char(c)) return false;
  }
  int p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
    return false;
  n->host = std::string(host);
  n->port = p;
  return true;
}

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

}  // namespace

std::string to_string(const DbNode& n) {
  if (!n.socket.empty()) return n.socket;
  bool v6 = n.host.find(':') != std::string::npos;
  return (v6 ? "[" + n.host + "]" : n.host) + ":" + std::to_string(n.port);
}

Result<std::vector<DbNode>> parse_db_nodes(std::string_view list) {
  auto items = split_comma_list(list);
  if (!items.ok()) return items.error();
  std::vector<DbNode> out;
  for (std::string_view item : items.value()) {
    DbNode n;
    if (!parse_node(item, &n))
      return Error{"bad_request", "not host:port: " + std::string(item)};
    for (const DbNode& seen : out)
      if (seen.host == n.host && seen.port == n.port)
        return Error{"bad_request", "named twice: " + std::string(item)};
    out.push_back(std::move(n));
  }
  return out;
}

std::vector<DbNode> db_nodes(const Settings& s) {
  if (!s.mysql_hosts.empty()) {
    auto list = parse_db_nodes(s.mysql_hosts);
    if (list.ok() && !list.value().empty()) return list.value();
  }
  DbNode one;
  if (!s.mysql_socket.empty())
    one.socket = s.mysql_socket;
  else
    one.host = s.mysql_host, one.port = s.mysql_port;
  return {one};
}

DbFailure classify_db_error(int code, std::string_view message) {
  // Galera reports a certification failure as a deadlock (1213) whose text
  // names WSREP; older servers used other numbers with the same text.
  if (code == 1213 || code == 1205 || contains(message, "WSREP detected deadlock/conflict") ||
      contains(message, "Deadlock found"))
    return DbFailure::retry_transaction;
  // ER_UNKNOWN_COM_ERROR: what a Galera node outside the primary component
  // (or still joining) answers to every statement.
  if (code == 1047 || contains(message, "WSREP has not yet prepared node")) return DbFailure::next_node;
  switch (code) {
    case 0:     // the connector found the connection closed
    case 1053:  // ER_SERVER_SHUTDOWN
    case 1927:  // ER_CONNECTION_KILLED
    case 2002:  // CR_CONNECTION_ERROR (socket)
    case 2003:  // CR_CONN_HOST_ERROR
    case 2005:  // CR_UNKNOWN_HOST
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST
    case 2026:  // CR_SSL_CONNECTION_ERROR
    case 2055:  // CR_SERVER_LOST_EXTENDED
    case 4031:  // ER_CLIENT_INTERACTION_TIMEOUT
      return DbFailure::lost;
    default:
      return DbFailure::other;
  }
}

const char* to_string(DbFailure f) {
  switch (f) {
    case DbFailure::retry_transaction: return "retry_transaction";
    case DbFailure::next_node: return "next_node";
    case DbFailure::lost: return "lost";
    case DbFailure::other: return "other";
  }
  return "other";
}

}  // namespace popup

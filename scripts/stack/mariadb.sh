# scripts/stack/mariadb.sh: the private MariaDB (mariadb.cnf.in), its
# database, the two accounts and their grants (sql/grants.sql), and the
# migrations. MariaDB runs as the db account (accounts.sh); the stack
# itself reaches it as the datadir's superuser $admin, which MariaDB
# authenticates by the OS user on its socket.

# The accounts' hosts: localhost, and STORES_CLIENTS (a host pattern such as
# 10.77.0.%) when the stores listen on TCP for other hosts (STORES_BIND).
db_hosts=(localhost)
[ -z "$STORES_BIND" ] || db_hosts+=("$STORES_CLIENTS")

sql_admin() { mariadb --no-defaults -S "$dir/mysql.sock" -u "$admin" --batch "$@"; }
mariadb_ping() { mariadb-admin --no-defaults -S "$dir/mysql.sock" -u "$admin" ping; }

# Set by start_mariadb when it made the datadir; removed once the new
# database got its demo data (DEMO=1) and a published configuration, so a
# start that failed before that does it on the next start. Inside the
# datadir, so that it goes with a datadir that is made again.
demo_marker=$dir/mysql/popup-demo-pending

install_datadir() {
  # A datadir that an interrupted install left half made is made again.
  rm -rf "$dir/mysql" && mkdir -p "$dir/mysql"
  give_to db "$dir/mysql"
  # install-db makes root@localhost and $admin@localhost superusers that
  # log in through unix socket authentication as that OS user. --user: the
  # datadir's owner (the db account); the second superuser stays the admin
  # ($admin), not that account.
  mariadb-install-db --no-defaults --datadir="$dir/mysql" --tmpdir="$dir/mysql.run/tmp" \
    --user="$db_user" --auth-root-authentication-method=socket --auth-root-socket-user="$admin" \
    --skip-test-db > "$dir/log/mariadb-install.log" 2>&1 9>&- ||
    fail "mariadb-install-db failed" "$dir/log/mariadb-install.log"
  : > "$demo_marker"
  if is_root; then chown -R "$db_user:$db_group" "$dir/mysql"; fi
}

start_mariadb() {
  running mysql.pid && return 0
  [ -d "$dir/mysql/mysql" ] || install_datadir
  [ -O "$dir/mysql" ] || is_root ||
    fail "$dir/mysql belongs to another user; start the stack as that user or use another DIR"
  local net=skip-networking
  [ -z "$STORES_BIND" ] || net=$'bind-address = '"$STORES_BIND"$'\nport = 3306'
  render "$here/mariadb.cnf.in" "$dir/mariadb.cnf" DIR="$dir" NETWORKING="$net" \
    MYSQL_BUFFER_POOL="$MYSQL_BUFFER_POOL"
  share_with "$db_group" "$dir/mariadb.cnf"
  link_run mysql
  # launch runs it as the db account, so no --user.
  local sched; write_behind_sched
  launch db "$dir/mysql.run/mysql.pid" "$dir/log/mariadb.log" \
    "${sched[@]}" mariadbd --defaults-file="$dir/mariadb.cnf" ||
    fail "mariadbd did not start" "$dir/log/mariadb.log"
  wait_up 60 mysql.pid mariadb_ping || fail "MariaDB did not come up within 60s" "$dir/log/mariadb.log"
  # mariadbd binds its socket with umask 0 (0777); its set-group-id folder
  # already keeps all but the service's group out, and so does the socket.
  chmod 660 "$dir/mysql.run/mysql.sock"
  # Readiness: ping answers before the server takes queries; retry briefly.
  local i
  for ((i = 0; i < 50; i++)); do sql_admin -e 'SELECT 1' > /dev/null 2>&1 && break; sleep 0.1; done
  # On stdin: a password in -e would show in ps.
  local host
  { echo "CREATE DATABASE IF NOT EXISTS popup CHARACTER SET utf8mb4;"
    for host in "${db_hosts[@]}"; do
      cat <<SQL
CREATE USER IF NOT EXISTS 'popup'@'$host';
ALTER USER 'popup'@'$host' IDENTIFIED BY '$(cat "$dir/mysql.password")';
CREATE USER IF NOT EXISTS 'popupctl'@'$host';
ALTER USER 'popupctl'@'$host' IDENTIFIED BY '$(cat "$dir/popupctl.password")';
SQL
    done
  } | sql_admin 2> "$dir/log/mariadb-setup.log" ||
    fail "cannot set up database popup as MariaDB user '$admin' (socket authentication); was $dir/mysql made by another OS user?" \
      "$dir/log/mariadb-setup.log"
}

migrate() {
  MYSQL_ADMIN=$admin "$top/scripts/migrate.sh" "$dir/mysql.sock" popup 2> "$dir/log/migrate.log" ||
    fail "migrations failed" "$dir/log/migrate.log"
  grant_service
}

# Each account gets what its programs use and nothing else: sql/grants.sql
# (docs/deployment.md points there too).
grant_service() {
  local host
  for host in "${db_hosts[@]}"; do
    sed -e 's/@SERVICE@/popup/g' -e 's/@CTL@/popupctl/g' -e "s/@HOST@/$host/g" \
      "$top/sql/grants.sql" | sql_admin 2>> "$dir/log/mariadb-setup.log" ||
      fail "cannot grant the service accounts their privileges (sql/grants.sql)" "$dir/log/mariadb-setup.log"
  done
}

#!/usr/bin/env bash
# Applies the schema migrations sql/migrations/NNN_name.sql that the database
# has not recorded yet, in version order, and records each one in
# schema_migrations. Idempotent: a second run applies nothing.
#
#   scripts/migrate.sh MYSQL_SOCKET [DB]      (DB defaults to popup)
#
# Connects through the unix socket as MYSQL_ADMIN (default: the OS user, who
# is the socket-authenticated superuser of a datadir made by stack.sh), or as
# MYSQL_USER with MYSQL_PASSWORD when those are set (handed to the client in
# its environment as MYSQL_PWD, never on its command line, where ps shows it).
#
# Each file and the INSERT of its record go through one client session that
# stops at the first error, so a failed file is not recorded and is applied
# again next time. MariaDB commits DDL implicitly, so a file that fails half
# way keeps its first statements: write migrations that can be re-run
# (CREATE TABLE IF NOT EXISTS, INSERT IGNORE, ...).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then echo "usage: $0 MYSQL_SOCKET [DB]" >&2; exit 2; fi
sock=$1
db=${2:-popup}
[ -S "$sock" ] || { echo "migrate: $sock is not a socket (is MariaDB running?)" >&2; exit 1; }

if [ -n "${MYSQL_USER:-}" ]; then
  export MYSQL_PWD=${MYSQL_PASSWORD:-}
  mysql=(mariadb --no-defaults -S "$sock" -u "$MYSQL_USER" --batch "$db")
else
  mysql=(mariadb --no-defaults -S "$sock" -u "${MYSQL_ADMIN:-$(id -un)}" --batch "$db")
fi

"${mysql[@]}" -e "CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INT PRIMARY KEY,
  name       VARCHAR(200) NOT NULL,
  applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
applied=$("${mysql[@]}" -N -e "SELECT version FROM schema_migrations")

count=0
for f in "$top"/sql/migrations/[0-9][0-9][0-9]_*.sql; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  version=$((10#${name%%_*}))
  grep -qx "$version" <<<"$applied" && continue
  echo "migrate: applying $name"
  # The file may end without a semicolon or newline; the record follows it.
  { cat "$f"; printf '\n;\n'
    printf "INSERT INTO schema_migrations (version, name) VALUES (%d, '%s');\n" \
      "$version" "${name//\'/\'\'}"
  } | "${mysql[@]}" || { echo "migrate: $name failed; not recorded" >&2; exit 1; }
  count=$((count + 1))
done
[ $count -gt 0 ] || echo "migrate: $db is up to date"

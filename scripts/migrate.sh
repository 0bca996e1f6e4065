#!/usr/bin/env bash
# Applies sql/migrations/NNN_*.sql that the database has not recorded yet, in
# order, each followed by its row in schema_migrations. Idempotent.
#   scripts/migrate.sh MYSQL_SOCKET [DB]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
sock=$1
db=${2:-popup}
mysql=(mariadb --no-defaults -S "$sock" -u "${MYSQL_ADMIN:-root}" "$db")

"${mysql[@]}" -e "CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT PRIMARY KEY, name VARCHAR(200) NOT NULL,
  applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
applied=$("${mysql[@]}" -N -B -e "SELECT version FROM schema_migrations")
for f in "$top"/sql/migrations/[0-9][0-9][0-9]_*.sql; do
  name=$(basename "$f")
  version=$((10#${name%%_*}))
  if grep -qx "$version" <<<"$applied"; then continue; fi
  echo "migrate: applying $name"
  { cat "$f"; echo ";"; echo "INSERT INTO schema_migrations (version, name) VALUES ($version, '$name');"; } |
    "${mysql[@]}"
done

#!/usr/bin/env bash
# Install unixODBC and the ODBC drivers the project and its tests use, from Debian's packages, when missing.
set -euo pipefail
need=()
drivers="$(odbcinst -q -d 2>/dev/null || true)"
dpkg -s unixodbc >/dev/null 2>&1 || need+=(unixodbc)
dpkg -s unixodbc-dev >/dev/null 2>&1 || need+=(unixodbc-dev)
grep -q '^\[PostgreSQL Unicode\]' <<<"$drivers" || need+=(odbc-postgresql)
grep -q '^\[MariaDB Unicode\]' <<<"$drivers" || need+=(odbc-mariadb)
grep -q '^\[SQLite3\]' <<<"$drivers" || need+=(libsqliteodbc)
if [ ${#need[@]} -eq 0 ]; then
  echo "ODBC: unixODBC and the PostgreSQL, MariaDB and SQLite3 drivers are installed"
  exit 0
fi
echo "ODBC: installing ${need[*]}"
bash "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh" ODBC "${need[@]}"
odbcinst -q -d

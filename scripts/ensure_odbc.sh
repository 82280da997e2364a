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
# Quiet when nothing is missing: every make target runs this first, and its output is the target's own.
[ ${#need[@]} -eq 0 ] && exit 0
echo "ODBC: installing ${need[*]}"
bash "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh" ODBC "${need[@]}"
odbcinst -q -d

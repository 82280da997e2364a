#!/usr/bin/env bash
# make up: run Airflow locally (`airflow standalone`: SQLite metadata, LocalExecutor, UI on :8080) with the demo
# sources, their demo databases, demo orders and the Stock2Shop sandbox on :8765. Ctrl-C stops Airflow;
# `make stop` stops the sandbox.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
BIN="$ROOT/.venv/bin"
mkdir -p "$DEMO_DIR"
for demo in demo_custom_db:custom_database demo_sage_evolution:sage_evolution demo_sage_pastel_partner:sage_pastel_partner; do
  [ -f "$DEMO_DIR/${demo%%:*}.sqlite" ] || \
    "$BIN/python" -m stock2shop_sync.demo.create --preset "${demo#*:}" --sqlite "$DEMO_DIR/${demo%%:*}.sqlite"
done
"$BIN/python" -m stock2shop_sync.cli check-config || true
SANDBOX_SOURCES="101:Demo custom database,102:Demo Sage Evolution,103:Demo Sage Pastel Partner,104:Demo Sage Accounting,105:Demo iSync" \
  "$ROOT/scripts/sandbox.sh" start
"$BIN/python" -m stock2shop_sync.demo.orders --sandbox "http://127.0.0.1:$SANDBOX_PORT" --drop "$DEMO_DIR/order-drop/pastel"
# Local only: everyone is admin (no login), as Airflow's simple auth manager allows for development.
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS:-True}"
# The metadata database, then the pools the order pushes run in (a task whose pool is missing never runs).
"$BIN/airflow" db migrate > "$DEMO_DIR/airflow-db-migrate.log" 2>&1 || { tail -40 "$DEMO_DIR/airflow-db-migrate.log"; exit 1; }
"$BIN/python" -m stock2shop_sync.cli ensure-pools
echo "==> airflow standalone: http://localhost:8080 (DAGs s2s_*; unpause one, or Trigger it with params)"
# standalone starts its components as `airflow ...` subprocesses: they must find this virtualenv's airflow.
export PATH="$BIN:$PATH"
exec "$BIN/airflow" standalone

#!/usr/bin/env bash
# make up: run Airflow locally (`airflow standalone`, LocalExecutor) with every configured source (the demos and
# your own), the demo sources' databases and orders, and the Stock2Shop sandbox on :8765 serving the configured
# sources. Ctrl-C stops Airflow; `make stop` stops the sandbox.
#
# Metadata and state store: PostgreSQL when a local server answers (S2S_UP_POSTGRES, default
# postgresql://postgres@127.0.0.1:5432; databases s2s_up_airflow and s2s_up_state are created on first use),
# else SQLite files in .demo/ with a warning (SQLite takes one writer: a backfill beside the scheduler can lock
# it). AIRFLOW_PORT (default 8080) moves the UI, its base URL and the execution API together.
# UP_PRINT_ONLY=1 prints the settings it would use and stops (tests use it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
user_metadata="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}"
user_state="${S2S_STATE_URL:-}"
source "$ROOT/scripts/env.sh"
BIN="$ROOT/.venv/bin"
mkdir -p "$DEMO_DIR"

port="${AIRFLOW_PORT:-8080}"
export AIRFLOW__API__PORT="$port"
export AIRFLOW__API__BASE_URL="http://localhost:$port"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://localhost:$port/execution/"

postgres="${S2S_UP_POSTGRES:-postgresql://postgres@127.0.0.1:5432}"
if [ -z "$user_metadata" ] && "$BIN/python" "$ROOT/scripts/pg_databases.py" "$postgres" s2s_up_airflow s2s_up_state \
  2>/dev/null
then
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${postgres/postgresql:/postgresql+psycopg2:}/s2s_up_airflow"
  [ -n "$user_state" ] || export S2S_STATE_URL="$postgres/s2s_up_state"
  metadata="PostgreSQL ($postgres/s2s_up_airflow)"
else
  [ -n "$user_metadata" ] && metadata="$user_metadata" || {
    metadata="SQLite in $AIRFLOW_HOME"
    echo "WARNING: no PostgreSQL answers at $postgres; Airflow's metadata is a SQLite file, which takes one writer"
    echo "         at a time: a backfill from the UI beside the scheduler can fail with 'database is locked'."
    echo "         Start PostgreSQL (or set S2S_UP_POSTGRES) for backfills."
  }
fi
redact() { sed -E 's#(//[^:/@]+):[^@/]*@#\1:***@#g' <<<"$1"; }
echo "==> metadata: $(redact "$metadata"); state store: $(redact "$S2S_STATE_URL"); UI and API on port $port"
[ "${UP_PRINT_ONLY:-0}" = 1 ] && exit 0
"$BIN/python" "$ROOT/scripts/port_free.py" "$port" 0.0.0.0 "move Airflow's UI and API: AIRFLOW_PORT=<port> make up" \
  || exit 1

bash "$ROOT/scripts/demo_data.sh"
"$BIN/python" -m stock2shop_sync.cli check-config || true
# Local only: everyone is admin (no login), as Airflow's simple auth manager allows for development.
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS:-True}"
# The metadata database, then the pools the tasks run in (a task whose pool is missing never runs).
"$BIN/airflow" db migrate > "$DEMO_DIR/airflow-db-migrate.log" 2>&1 || { tail -40 "$DEMO_DIR/airflow-db-migrate.log"; exit 1; }
"$BIN/python" -m stock2shop_sync.cli ensure-pools
echo "==> airflow standalone: http://localhost:$port (DAGs s2s_*; unpause one, or Trigger it with params)"
# standalone starts its components as `airflow ...` subprocesses: they must find this virtualenv's airflow.
export PATH="$BIN:$PATH"
exec "$BIN/airflow" standalone

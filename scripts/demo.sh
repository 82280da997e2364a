#!/usr/bin/env bash
# make demo: seed the embedded demo source, start the Stock2Shop sandbox, run the demo source's DAG end to
# end with `airflow dags test` (SQLite metadata) and print what happened.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
BIN="$ROOT/.venv/bin"
mkdir -p "$DEMO_DIR"

echo "==> demo database"
"$BIN/python" -m stock2shop_sync.demo.seed --sqlite "$DEMO_DIR/demo_custom_db.sqlite"

echo "==> source configs"
"$BIN/python" -m stock2shop_sync.cli check-config

"$ROOT/scripts/sandbox.sh" start

echo "==> Airflow metadata database ($AIRFLOW_HOME)"
"$BIN/airflow" db migrate > "$DEMO_DIR/airflow-db-migrate.log" 2>&1 || { tail -40 "$DEMO_DIR/airflow-db-migrate.log"; exit 1; }

echo "==> airflow dags test s2s_demo_custom_db (log: $DEMO_DIR/dags-test.log)"
if ! PATH="$BIN:$PATH" "$BIN/airflow" dags test s2s_demo_custom_db > "$DEMO_DIR/dags-test.log" 2>&1; then
  tail -60 "$DEMO_DIR/dags-test.log"
  echo "the demo DAG run failed; full log: $DEMO_DIR/dags-test.log" >&2
  exit 1
fi
grep -E "task_id=|state=" "$DEMO_DIR/dags-test.log" | grep -oE "task_id=[a-z_]+.*state=[a-z_]+" | sort -u || true

"$BIN/python" -m stock2shop_sync.cli demo-summary --source demo_custom_db --sandbox "http://127.0.0.1:$SANDBOX_PORT"
echo
echo "The sandbox keeps running so you can look; 'make stop' stops it. 'make demo' again re-syncs without duplicating."

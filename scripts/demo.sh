#!/usr/bin/env bash
# make demo: seed the embedded demo source, start the Stock2Shop sandbox, run the demo source's DAG end to
# end with `airflow dags test` (SQLite metadata) and print what happened.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
BIN="$ROOT/.venv/bin"
mkdir -p "$DEMO_DIR"

# source id -> mapping preset of the shipped demo sources
DEMOS=(demo_custom_db:custom_database demo_sage_evolution:sage_evolution demo_sage_pastel_partner:sage_pastel_partner)
# cloud sources served by the sandbox's stand-ins (read in full: their data is not "changed in the last hour")
API_DEMOS=(demo_sage_accounting demo_isync)

echo "==> demo databases"
for demo in "${DEMOS[@]}"; do
  "$BIN/python" -m stock2shop_sync.demo.create --preset "${demo#*:}" --sqlite "$DEMO_DIR/${demo%%:*}.sqlite"
done

echo "==> source configs"
"$BIN/python" -m stock2shop_sync.cli check-config

"$ROOT/scripts/sandbox.sh" start   # serves every configured source

echo "==> demo web orders"
"$BIN/python" -m stock2shop_sync.demo.orders --sandbox "http://127.0.0.1:$SANDBOX_PORT" --drop "$DEMO_DIR/order-drop/pastel"

echo "==> Airflow metadata database ($AIRFLOW_HOME)"
"$BIN/airflow" db migrate > "$DEMO_DIR/airflow-db-migrate.log" 2>&1 || { tail -40 "$DEMO_DIR/airflow-db-migrate.log"; exit 1; }
"$BIN/python" -m stock2shop_sync.cli ensure-pools > /dev/null

for source_id in "${DEMOS[@]%%:*}" "${API_DEMOS[@]}"; do
  log="$DEMO_DIR/dags-test-$source_id.log"
  echo "==> airflow dags test s2s_$source_id --conf '{\"full_sync\": true}' (log: $log)"
  if ! PATH="$BIN:$PATH" "$BIN/airflow" dags test "s2s_$source_id" --conf '{"full_sync": true}' > "$log" 2>&1; then
    tail -60 "$log"
    echo "the demo DAG run of $source_id failed; full log: $log" >&2
    exit 1
  fi
  "$BIN/python" -m stock2shop_sync.cli demo-summary --source "$source_id" --sandbox "http://127.0.0.1:$SANDBOX_PORT"
done
echo
echo "The sandbox keeps running so you can look; 'make stop' stops it. 'make demo' again re-syncs without duplicating."

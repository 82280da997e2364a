#!/usr/bin/env bash
# make run SOURCE=<source_id> [CONF='{"full_sync": true}']: one run of that source's DAG on this machine
# (`airflow dags test`, the project's environment from scripts/env.sh), then what it did. Starts the local
# Stock2Shop sandbox when the Stock2Shop connection points at it and it is not serving the source yet.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
BIN="$ROOT/.venv/bin"
source_id="${1:?usage: scripts/run.sh <source_id> [conf JSON]}"
conf="${2:-}"
mkdir -p "$DEMO_DIR"

# The source must be configured and valid: the DAG of a broken config only fails with its error.
"$BIN/python" -m stock2shop_sync.cli run-check "$source_id"

sandbox="http://127.0.0.1:$SANDBOX_PORT"
if [[ "${AIRFLOW_CONN_STOCK2SHOP_DEFAULT:-}" == *"127.0.0.1:$SANDBOX_PORT"* ]]; then
  s2s_id="$("$BIN/python" -m stock2shop_sync.cli run-check "$source_id" --print-stock2shop-id)"
  if ! "$BIN/python" - "$sandbox" "$s2s_id" <<'PYCODE'
import json, sys, urllib.request
try:
    health = json.load(urllib.request.urlopen(sys.argv[1] + "/health", timeout=2))
except OSError:
    sys.exit(1)
sys.exit(0 if not sys.argv[2] or int(sys.argv[2]) in health.get("sources", []) else 1)
PYCODE
  then
    bash "$ROOT/scripts/sandbox.sh" start
  fi
fi

log="$DEMO_DIR/run-$source_id.log"
"$BIN/airflow" db migrate > "$DEMO_DIR/airflow-db-migrate.log" 2>&1 || { tail -40 "$DEMO_DIR/airflow-db-migrate.log"; exit 1; }
"$BIN/python" -m stock2shop_sync.cli ensure-pools > /dev/null
echo "==> airflow dags test s2s_$source_id${conf:+ --conf '$conf'} (log: $log)"
args=(dags test "s2s_$source_id")
[ -n "$conf" ] && args+=(--conf "$conf")
if ! PATH="$BIN:$PATH" "$BIN/airflow" "${args[@]}" > "$log" 2>&1; then
  # Each failed task's exception (the line a traceback ends with), once; the summary below says which steps.
  grep -E "^[A-Za-z_][A-Za-z0-9_.]*(Exception|Error|Failed|Timeout)[A-Za-z]*: " "$log" | awk '!seen[$0]++' | tail -20 || true
  echo "the run of s2s_$source_id failed; full log: $log" >&2
  "$BIN/python" -m stock2shop_sync.cli demo-summary --source "$source_id" --sandbox "$sandbox" || true
  exit 1
fi
"$BIN/python" -m stock2shop_sync.cli demo-summary --source "$source_id" --sandbox "$sandbox"

#!/usr/bin/env bash
# The demo sources' data for a running Airflow (make up, make cluster): the demo databases where missing, the
# Stock2Shop sandbox with the demo sources, and the demo web orders (in the sandbox's order API, and as order
# files in the folder the Pastel demo's config reads). make demo recreates the databases itself on every run.
# Only the demo sources still configured get their data: with your own sources alone (the demo_*.yaml files
# removed from include/sources) this only starts the sandbox, which serves whatever is configured.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
BIN="$ROOT/.venv/bin"
mkdir -p "$DEMO_DIR"
SOURCES_DIR="${S2S_SOURCES_DIR:-$ROOT/include/sources}"
for demo in demo_custom_db:custom_database demo_sage_evolution:sage_evolution demo_sage_pastel_partner:sage_pastel_partner; do
  [ -f "$SOURCES_DIR/${demo%%:*}.yaml" ] || continue
  [ -f "$DEMO_DIR/${demo%%:*}.sqlite" ] || \
    "$BIN/python" -m stock2shop_sync.demo.create --preset "${demo#*:}" --sqlite "$DEMO_DIR/${demo%%:*}.sqlite"
done
"$ROOT/scripts/sandbox.sh" start
if [ -f "$SOURCES_DIR/demo_custom_db.yaml" ]; then
  "$BIN/python" -m stock2shop_sync.demo.orders --sandbox "http://127.0.0.1:$SANDBOX_PORT" --drop "$ROOT/.demo/order-drop/pastel"
fi

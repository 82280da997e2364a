#!/usr/bin/env bash
# The demo sources' data for a running Airflow (make up, make cluster): the demo databases where missing, the
# Stock2Shop sandbox with the demo sources, and the demo web orders (in the sandbox's order API, and as order
# files in the folder the Pastel demo's config reads). make demo recreates the databases itself on every run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
BIN="$ROOT/.venv/bin"
mkdir -p "$DEMO_DIR"
for demo in demo_custom_db:custom_database demo_sage_evolution:sage_evolution demo_sage_pastel_partner:sage_pastel_partner; do
  [ -f "$DEMO_DIR/${demo%%:*}.sqlite" ] || \
    "$BIN/python" -m stock2shop_sync.demo.create --preset "${demo#*:}" --sqlite "$DEMO_DIR/${demo%%:*}.sqlite"
done
SANDBOX_SOURCES="101:Demo custom database,102:Demo Sage Evolution,103:Demo Sage Pastel Partner,104:Demo Sage Accounting,105:Demo iSync" \
  "$ROOT/scripts/sandbox.sh" start
"$BIN/python" -m stock2shop_sync.demo.orders --sandbox "http://127.0.0.1:$SANDBOX_PORT" --drop "$ROOT/.demo/order-drop/pastel"

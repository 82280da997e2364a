#!/usr/bin/env bash
# Start or stop the local Stock2Shop sandbox: scripts/sandbox.sh start|stop
# It serves the Stock2Shop sources of the configured sources (include/sources, or S2S_SOURCES_DIR); SANDBOX_SOURCES
# ('{"101": "My shop"}' or '101:My shop,102') overrides that list. SANDBOX_PORT (default 8765) moves it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
PIDFILE="$DEMO_DIR/sandbox.pid"
PY="$ROOT/.venv/bin/python"
stop() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")" && echo "sandbox stopped"
    for _ in $(seq 50); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
}
# The pid the sandbox on SANDBOX_PORT reports (empty when nothing answers there).
answering_pid() {
  "$PY" -c "import json,sys,urllib.request; print(json.load(urllib.request.urlopen('http://127.0.0.1:$SANDBOX_PORT/health', timeout=1)).get('pid', '?'))" 2>/dev/null || true
}
case "${1:-start}" in
  start)
    stop
    mkdir -p "$DEMO_DIR"
    if ! sources="${SANDBOX_SOURCES:-$("$PY" -m stock2shop_sync.cli sandbox-sources)}"; then
      echo "could not list the configured sources for the sandbox (see above)" >&2; exit 1
    fi
    # Refuse a port another process holds, before anything (demo orders above all) could go to that process.
    "$PY" "$ROOT/scripts/port_free.py" "$SANDBOX_PORT" 127.0.0.1 \
      "run the sandbox on another port: SANDBOX_PORT=<port> make ..." || exit 1
    echo "==> Stock2Shop sandbox on http://127.0.0.1:$SANDBOX_PORT (sources $(grep -oE '"[0-9]+"' <<<"$sources" | tr -d '"' | paste -sd, -); data: $DEMO_DIR/sandbox.sqlite, log: $DEMO_DIR/sandbox.log)"
    nohup "$PY" -m sandbox --port "$SANDBOX_PORT" --db "$DEMO_DIR/sandbox.sqlite" \
      --sources "$sources" --with-stand-ins > "$DEMO_DIR/sandbox.log" 2>&1 &
    echo $! > "$PIDFILE"
    for _ in $(seq 100); do
      if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        cat "$DEMO_DIR/sandbox.log"; echo "the sandbox did not start on port $SANDBOX_PORT" >&2; rm -f "$PIDFILE"; exit 1
      fi
      pid="$(answering_pid)"
      if [ -n "$pid" ]; then
        [ "$pid" = "$(cat "$PIDFILE")" ] && exit 0
        echo "another sandbox (pid $pid) answers on port $SANDBOX_PORT, not the one just started" >&2; stop; exit 1
      fi
      sleep 0.2
    done
    echo "the sandbox did not answer on port $SANDBOX_PORT" >&2; exit 1 ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Start or stop the local Stock2Shop sandbox used by the demo: scripts/sandbox.sh start|stop
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
PIDFILE="$DEMO_DIR/sandbox.pid"
stop() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")" && echo "sandbox stopped"
    for _ in $(seq 50); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
}
case "${1:-start}" in
  start)
    stop
    mkdir -p "$DEMO_DIR"
    echo "==> Stock2Shop sandbox on http://127.0.0.1:$SANDBOX_PORT (data: $DEMO_DIR/sandbox.sqlite, log: $DEMO_DIR/sandbox.log)"
    nohup "$ROOT/.venv/bin/python" -m sandbox --port "$SANDBOX_PORT" --db "$DEMO_DIR/sandbox.sqlite" \
      --sources "${SANDBOX_SOURCES:-101:Demo custom database}" --with-stand-ins > "$DEMO_DIR/sandbox.log" 2>&1 &
    echo $! > "$PIDFILE"
    for _ in $(seq 100); do
      if "$ROOT/.venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$SANDBOX_PORT/health', timeout=1)" 2>/dev/null; then
        exit 0
      fi
      kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { cat "$DEMO_DIR/sandbox.log"; echo "the sandbox did not start" >&2; exit 1; }
      sleep 0.2
    done
    echo "the sandbox did not answer on port $SANDBOX_PORT" >&2; exit 1 ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

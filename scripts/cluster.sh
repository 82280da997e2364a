#!/usr/bin/env bash
# make cluster / make cluster-stop: what docker-compose.yaml runs, natively on this machine, without Docker:
# api-server, scheduler, dag-processor, triggerer and two Celery workers, with Redis (127.0.0.1:6379) as the
# broker, PostgreSQL (127.0.0.1:5432) for Airflow's metadata (database s2s_cluster_airflow) and, apart from it,
# the state store (s2s_cluster_state; S2S_CLUSTER_DB changes the prefix). Each component has its own AIRFLOW_HOME
# and temp folder under .cluster/, so nothing local is shared by accident; staging and task logs are one folder
# every component names (as a shared volume or a bucket would be). The shared settings come from
# deploy/airflow.env, as docker-compose's do.
#
#   scripts/cluster.sh start|stop|status|env
#
# CLUSTER_PORT (default 8090) is the API's port; S2S_CLUSTER_POSTGRES and S2S_CLUSTER_REDIS name the servers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
BIN="$ROOT/.venv/bin"
CLUSTER_DIR="${CLUSTER_DIR:-$ROOT/.cluster}"
PORT="${CLUSTER_PORT:-8090}"
POSTGRES="${S2S_CLUSTER_POSTGRES:-postgresql://postgres@127.0.0.1:5432}"
REDIS="${S2S_CLUSTER_REDIS:-redis://127.0.0.1:6379/5}"
DB="${S2S_CLUSTER_DB:-s2s_cluster}"   # databases ${DB}_airflow (metadata) and ${DB}_state (state store)
COMPONENTS=(scheduler dag-processor triggerer api-server worker1 worker2)

cluster_env() {
  # The shared settings, exactly as compose reads them.
  set -a
  # shellcheck disable=SC1091
  source "$ROOT/deploy/airflow.env"
  set +a
  mkdir -p "$CLUSTER_DIR"
  [ -f "$CLUSTER_DIR/secrets.env" ] || {
    "$BIN/python" - > "$CLUSTER_DIR/secrets.env" <<'PY'
import secrets

from cryptography.fernet import Fernet

print(f"AIRFLOW__CORE__FERNET_KEY={Fernet.generate_key().decode()}")
print(f"AIRFLOW__API_AUTH__JWT_SECRET={secrets.token_hex(32)}")
print(f"AIRFLOW__API__SECRET_KEY={secrets.token_hex(32)}")
PY
    chmod 600 "$CLUSTER_DIR/secrets.env"
  }
  set -a
  # shellcheck disable=SC1091
  source "$CLUSTER_DIR/secrets.env"
  set +a
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${POSTGRES/postgresql:/postgresql+psycopg2:}/${DB}_airflow"
  export AIRFLOW__CELERY__RESULT_BACKEND="db+${POSTGRES/postgresql:/postgresql+psycopg2:}/${DB}_airflow"
  export AIRFLOW__CELERY__BROKER_URL="$REDIS"
  export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
  export AIRFLOW__API__PORT="$PORT"
  export AIRFLOW__API__BASE_URL="http://127.0.0.1:$PORT"
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$PORT/execution/"
  export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="${AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT:-60}"
  export S2S_STATE_URL="$POSTGRES/${DB}_state"
  export S2S_STAGING_URL="file://$CLUSTER_DIR/shared/staging"
  # Task logs in one folder every component reads, as compose's logs volume; task instances name their worker.
  export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$CLUSTER_DIR/shared/logs"
  export AIRFLOW__CORE__HOSTNAME_CALLABLE=stock2shop_sync.hostname.worker_hostname
}

running() { [ -f "$CLUSTER_DIR/pids/$1" ] && kill -0 "$(cat "$CLUSTER_DIR/pids/$1")" 2>/dev/null; }

start() {
  cluster_env
  mkdir -p "$CLUSTER_DIR/pids" "$CLUSTER_DIR/logs" "$CLUSTER_DIR/shared/staging" "$CLUSTER_DIR/shared/logs"
  "$BIN/python" "$ROOT/scripts/pg_databases.py" "$POSTGRES" "${DB}_airflow" "${DB}_state"
  "$BIN/python" -c "import redis, sys; redis.Redis.from_url(sys.argv[1]).ping()" "$REDIS" ||
    { echo "Redis does not answer at $REDIS" >&2; exit 1; }
  bash "$ROOT/scripts/demo_data.sh"
  export AIRFLOW_HOME="$CLUSTER_DIR/init"
  "$BIN/airflow" db migrate > "$CLUSTER_DIR/logs/db-migrate.log" 2>&1 || { tail -40 "$CLUSTER_DIR/logs/db-migrate.log"; exit 1; }
  "$BIN/python" -m stock2shop_sync.cli ensure-pools
  export PATH="$BIN:$PATH"
  for component in "${COMPONENTS[@]}"; do
    running "$component" && continue
    home="$CLUSTER_DIR/$component"
    mkdir -p "$home/tmp"
    case "$component" in
      worker*) command=(celery worker --celery-hostname "$component@%h" --concurrency "${AIRFLOW__CELERY__WORKER_CONCURRENCY:-4}") ;;
      api-server) command=(api-server --port "$PORT") ;;
      *) command=("$component") ;;
    esac
    S2S_WORKER_NAME="$component" AIRFLOW_HOME="$home" TMPDIR="$home/tmp" setsid "$BIN/airflow" "${command[@]}" \
      > "$CLUSTER_DIR/logs/$component.log" 2>&1 < /dev/null &
    echo $! > "$CLUSTER_DIR/pids/$component"
  done
  for _ in $(seq 120); do
    if curl -fs "http://127.0.0.1:$PORT/api/v2/monitor/health" 2>/dev/null | grep -q '"scheduler":{"status":"healthy"'; then
      echo "==> cluster up: http://127.0.0.1:$PORT (logs: $CLUSTER_DIR/logs; stop: make cluster-stop)"
      return 0
    fi
    sleep 1
  done
  echo "the cluster did not become healthy; see $CLUSTER_DIR/logs" >&2
  exit 1
}

stop() {
  for component in "${COMPONENTS[@]}"; do
    if running "$component"; then
      kill -TERM -- "-$(cat "$CLUSTER_DIR/pids/$component")" 2>/dev/null || true
    fi
  done
  for component in "${COMPONENTS[@]}"; do
    for _ in $(seq 60); do running "$component" || break; sleep 0.5; done
    running "$component" && kill -KILL -- "-$(cat "$CLUSTER_DIR/pids/$component")" 2>/dev/null || true
    rm -f "$CLUSTER_DIR/pids/$component"
  done
  echo "==> cluster stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) for c in "${COMPONENTS[@]}"; do running "$c" && echo "$c running" || echo "$c stopped"; done ;;
  env) cluster_env; env | grep -E '^(AIRFLOW__|S2S_|NUMPY_)' | grep -v -E 'SECRET|FERNET|JWT' | sort ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac

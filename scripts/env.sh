# Environment for running this project locally (sourced by the Makefile's targets and scripts).
# Demo defaults only: the connections point at the embedded SQLite database and the local sandbox, whose
# demo/demo credentials are not secrets. Real deployments set AIRFLOW_CONN_* in the environment or a
# secrets backend; anything already set wins over these defaults.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
DEMO_DIR="${DEMO_DIR:-$ROOT/.demo}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$DEMO_DIR/airflow}"
# This checkout's include/ (sources, mappings) and relative config paths, whichever checkout the package came from.
export S2S_PROJECT_ROOT="${S2S_PROJECT_ROOT:-$ROOT}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-False}"
# The stock2shop_sync package is installed into the venv (pip install -e ., by make); the project root is on the
# path for the sandbox and the benchmarks, which are not part of the package.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# numpy asks the kernel for transparent huge pages for every array over 4 MiB. A task is a short-lived process
# that touches its arrays a few times: on a VM whose host backs guest memory as it is first touched (the CI and
# bench machines here), a fresh huge page cost about 2.4 s per GiB against 0.36 s for 4 KiB pages
# (np.ones(1 << 27) in a new process). With this off, make bench's validate stage took 2.71-2.84 s against
# 2.78-3.18 s, and its rule checks 1.74-1.85 s against 1.99-2.01 s (alternating runs).
export NUMPY_MADVISE_HUGEPAGE="${NUMPY_MADVISE_HUGEPAGE:-0}"
export S2S_STAGING_URL="${S2S_STAGING_URL:-file://$DEMO_DIR/staging}"
# The order ledger and synced-SKU list: a SQLite file is enough for one machine (make demo, make up). A deployment
# with more than one worker sets the Airflow connection s2s_state (or S2S_STATE_URL) to a database all of them reach.
export S2S_STATE_URL="${S2S_STATE_URL:-sqlite:///$AIRFLOW_HOME/stock2shop_state.sqlite}"
export SANDBOX_PORT="${SANDBOX_PORT:-8765}"
export AIRFLOW_CONN_S2S_DEMO_CUSTOM_DB="${AIRFLOW_CONN_S2S_DEMO_CUSTOM_DB:-{\"conn_type\": \"odbc\", \"schema\": \"$DEMO_DIR/demo_custom_db.sqlite\"\}}"
export AIRFLOW_CONN_S2S_DEMO_SAGE_EVOLUTION="${AIRFLOW_CONN_S2S_DEMO_SAGE_EVOLUTION:-{\"conn_type\": \"odbc\", \"schema\": \"$DEMO_DIR/demo_sage_evolution.sqlite\"\}}"
export AIRFLOW_CONN_S2S_DEMO_SAGE_PASTEL_PARTNER="${AIRFLOW_CONN_S2S_DEMO_SAGE_PASTEL_PARTNER:-{\"conn_type\": \"odbc\", \"schema\": \"$DEMO_DIR/demo_sage_pastel_partner.sqlite\"\}}"
# The cloud demos talk to the stand-ins the sandbox serves (made-up credentials of those stand-ins).
# The order sinks' read-write logins (the same SQLite files in the demo; a separate user on a real server).
export AIRFLOW_CONN_S2S_DEMO_CUSTOM_DB_ORDERS="${AIRFLOW_CONN_S2S_DEMO_CUSTOM_DB_ORDERS:-$AIRFLOW_CONN_S2S_DEMO_CUSTOM_DB}"
export AIRFLOW_CONN_S2S_DEMO_SAGE_EVOLUTION_ORDERS="${AIRFLOW_CONN_S2S_DEMO_SAGE_EVOLUTION_ORDERS:-$AIRFLOW_CONN_S2S_DEMO_SAGE_EVOLUTION}"
export AIRFLOW_CONN_S2S_DEMO_SAGE_PASTEL_PARTNER_ORDERS="${AIRFLOW_CONN_S2S_DEMO_SAGE_PASTEL_PARTNER_ORDERS:-$AIRFLOW_CONN_S2S_DEMO_SAGE_PASTEL_PARTNER}"
export AIRFLOW_CONN_S2S_DEMO_SAGE_ACCOUNTING="${AIRFLOW_CONN_S2S_DEMO_SAGE_ACCOUNTING:-{\"conn_type\": \"http\", \"host\": \"http://127.0.0.1:$SANDBOX_PORT/sage\", \"login\": \"sage-user\", \"password\": \"sage-pass\", \"extra\": {\"apikey\": \"sage-api-key\", \"company_id\": \"7001\"\}\}}"
export AIRFLOW_CONN_S2S_DEMO_ISYNC="${AIRFLOW_CONN_S2S_DEMO_ISYNC:-{\"conn_type\": \"http\", \"host\": \"http://127.0.0.1:$SANDBOX_PORT/isync\", \"login\": \"isync-user\", \"password\": \"isync-pass\"\}}"
export AIRFLOW_CONN_STOCK2SHOP_DEFAULT="${AIRFLOW_CONN_STOCK2SHOP_DEFAULT:-{\"conn_type\": \"http\", \"host\": \"http://127.0.0.1:$SANDBOX_PORT\", \"login\": \"demo\", \"password\": \"demo\"\}}"

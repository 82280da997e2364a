"""``make cluster-check``: the demo sources on the native Celery cluster (``make cluster``), checked as an operator
would, on two Celery workers: every demo DAG unpaused and run once as scheduled, once by hand with params (a full
sync) and as a 3-interval backfill, the demo orders raised by those runs, then a worker SIGKILLed in the middle of
an upload and its task seen through to success by the cluster.

Prints ``CLUSTER workers=2 workers_used=<n> runs_ok=<n> runs_failed=<n> variants_duplicated=<n>
orders_duplicated=<n> killed_task_recovered=<yes|no>``; ``workers_used`` counts the distinct worker hostnames in
the metadata database's task instances. Exits 1 unless every figure is as it should be. Starts the cluster if it
is not running; leaves it running (``make cluster-stop``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_DIR = Path(os.environ.get("CLUSTER_DIR", ROOT / ".cluster"))
API = f"http://127.0.0.1:{os.environ.get('CLUSTER_PORT', '8090')}/api/v2"
SANDBOX = f"http://127.0.0.1:{os.environ.get('SANDBOX_PORT', '8765')}"
POSTGRES = os.environ.get("S2S_CLUSTER_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
METADATA = f"{POSTGRES}/{os.environ.get('S2S_CLUSTER_DB', 's2s_cluster')}_airflow"
DEMOS = ["s2s_demo_custom_db", "s2s_demo_sage_evolution", "s2s_demo_sage_pastel_partner", "s2s_demo_sage_accounting",
         "s2s_demo_isync"]  # fmt: skip


def _call(method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(method, f"{API}{path}", timeout=30, **kwargs)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
    return response.json()


def _unpause(dag_id: str) -> None:
    _call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})


def _trigger(dag_id: str, conf: dict[str, Any]) -> str:
    _unpause(dag_id)
    return str(_call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})["dag_run_id"])


def _wait(dag_id: str, run_id: str, timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            return str(state)
        time.sleep(2)
    return "timed out"


def _runs(dag_id: str, run_type: str) -> list[dict[str, Any]]:
    runs = _call("GET", f"/dags/{dag_id}/dagRuns", params={"run_type": run_type, "limit": 100})["dag_runs"]
    return sorted(runs, key=lambda run: run["logical_date"] or "")


def _scheduled_run(dag_id: str, timeout: float = 300) -> dict[str, Any] | None:
    """The run the scheduler makes when a DAG is unpaused (catchup off: its latest complete interval)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _runs(dag_id, "scheduled")
        if runs:
            return runs[-1]
        time.sleep(2)
    return None


def _backfill(dag_id: str, before: dict[str, Any], intervals: int = 3) -> int:
    """Backfill the ``intervals`` schedule intervals just before the ``before`` run, one run at a time (as an
    operator does from the UI); returns the backfill's id."""
    start = datetime.fromisoformat(before["data_interval_start"])
    step = datetime.fromisoformat(before["data_interval_end"]) - start
    body = {
        "dag_id": dag_id,
        "from_date": (start - intervals * step).isoformat(),
        "to_date": (start - step).isoformat(),  # inclusive: logical dates start-3*step, start-2*step, start-step
        "max_active_runs": 1,
        "reprocess_behavior": "none",
    }
    return int(_call("POST", "/backfills", json=body)["id"])


def _wait_backfill(backfill_id: int, timeout: float = 900) -> list[str]:
    """The states of a backfill's runs once it has completed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _call("GET", f"/backfills/{backfill_id}")["completed_at"]:
            break
        time.sleep(3)
    rows = _metadata("SELECT state FROM dag_run WHERE backfill_id = %s ORDER BY logical_date", backfill_id)
    return [str(row[0]) for row in rows]


def _metadata(query: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg2

    with psycopg2.connect(METADATA) as conn, conn.cursor() as cursor:
        cursor.execute(query, args)
        return list(cursor.fetchall())


def _worker_pid(hostname: str) -> int | None:
    """The pid of the cluster's worker whose recorded host name is ``hostname`` (``worker1.<fqdn>``)."""
    name = hostname.split(".", 1)[0]
    pid_file = CLUSTER_DIR / "pids" / name
    return int(pid_file.read_text()) if pid_file.exists() else None


def _kill_a_worker_mid_upload() -> bool:
    """Trigger a full sync, SIGKILL the worker running its product upload, wait for the run: True when the
    upload was taken over (the scheduler finds the task's heartbeat gone and its retry runs on a worker) and the
    run succeeded."""
    dag_id = "s2s_demo_custom_db"
    run_id = _trigger(dag_id, {"full_sync": True, "entities": ["products"]})
    deadline = time.monotonic() + 300
    hostname = None
    while time.monotonic() < deadline and hostname is None:
        rows = _metadata(
            "SELECT hostname FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = 'upload_products' "
            "AND state = 'running' AND hostname <> ''",
            dag_id,
            run_id,
        )
        hostname = rows[0][0] if rows else None
        time.sleep(0.2)
    if hostname is None:
        print(f"  the upload of {run_id} never ran", file=sys.stderr)
        return False
    pid = _worker_pid(str(hostname))
    if pid is None:
        print(f"  no pid for worker {hostname}", file=sys.stderr)
        return False
    os.killpg(pid, signal.SIGKILL)
    print(f"  SIGKILLed {hostname} (pid {pid}) during {dag_id}'s upload_products", flush=True)
    subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), "start"], check=True, capture_output=True)
    state = _wait(dag_id, run_id, timeout=900)
    tries = _metadata(
        "SELECT try_number, state FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = 'upload_products'",
        dag_id,
        run_id,
    )
    print(f"  after the kill: run {state}, upload_products {tries}", flush=True)
    return state == "success" and bool(tries) and tries[0][0] >= 2


def main() -> int:
    try:
        requests.get(f"{API}/monitor/health", timeout=5).raise_for_status()
    except requests.RequestException:
        subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), "start"], check=True)
    good = True
    print("==> as scheduled: every demo DAG unpaused; the scheduler runs its latest interval", flush=True)
    for dag_id in DEMOS:
        _unpause(dag_id)
    scheduled = {dag_id: _scheduled_run(dag_id) for dag_id in DEMOS}
    for dag_id, run in scheduled.items():
        state = _wait(dag_id, run["dag_run_id"]) if run else "never scheduled"
        print(f"  {dag_id} {run['dag_run_id'] if run else '-'}: {state}", flush=True)
        good &= state == "success"
    print("==> by hand, with params: a full sync of every demo DAG", flush=True)
    manual = {dag_id: _trigger(dag_id, {"full_sync": True}) for dag_id in DEMOS}
    for dag_id, run_id in manual.items():
        state = _wait(dag_id, run_id)
        print(f"  {dag_id} {run_id}: {state}", flush=True)
        good &= state == "success"
    print("==> a 3-interval backfill of every demo DAG (before its scheduled run)", flush=True)
    backfills = {dag_id: _backfill(dag_id, run) for dag_id, run in scheduled.items() if run}
    for dag_id, backfill_id in backfills.items():
        states = _wait_backfill(backfill_id)
        print(f"  {dag_id} backfill {backfill_id}: {states}", flush=True)
        good &= states == ["success"] * 3
    recovered = _kill_a_worker_mid_upload()
    all_runs = _metadata("SELECT state, count(*) FROM dag_run WHERE dag_id LIKE 's2s_demo_%%' GROUP BY state")
    counts = dict(all_runs)
    workers = {
        row[0] for row in _metadata("SELECT DISTINCT hostname FROM task_instance WHERE hostname LIKE 'worker%%'")
    }
    products = requests.get(f"{SANDBOX}/sandbox/products", timeout=60).json()
    seen: dict[tuple[Any, Any], int] = {}
    for product in products if isinstance(products, list) else products.get("products", []):
        key = (product.get("source_id"), str(product.get("sku") or "").strip().lower())  # one SKU, one variant
        seen[key] = seen.get(key, 0) + 1
    variants_duplicated = sum(n - 1 for n in seen.values())
    orders = requests.get(f"{SANDBOX}/sandbox/orders", timeout=60).json()
    orders_duplicated = sum(max(int(o.get("ack_count") or 0) - 1, 0) for o in orders)
    raised = sum(1 for o in orders if int(o.get("ack_count") or 0) >= 1)
    print(f"  orders: {raised} of {len(orders)} in the sandbox raised into their sources")
    good &= bool(orders) and raised == len(orders)
    print(f"  workers: {sorted(workers)}")
    line = (
        f"CLUSTER workers=2 workers_used={len(workers)} runs_ok={counts.get('success', 0)} "
        f"runs_failed={counts.get('failed', 0)} variants_duplicated={variants_duplicated} "
        f"orders_duplicated={orders_duplicated} killed_task_recovered={'yes' if recovered else 'no'}"
    )
    print(line, flush=True)
    good &= len(workers) == 2 and not counts.get("failed") and not variants_duplicated and not orders_duplicated
    return 0 if good and recovered else 1


if __name__ == "__main__":
    sys.exit(main())

"""``make cluster-check`` in ``make test``: the demo sources on a real Celery cluster on this machine (api-server,
scheduler, dag-processor, triggerer, two Celery workers; Redis as broker, PostgreSQL for the metadata and the
state store), a worker SIGKILLed in the middle of an upload. The cluster gets its own folder, ports, databases and
Redis database, and is stopped and dropped afterwards."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pyodbc

from sandbox.server import free_port
from tests.conftest import PG, ROOT, odbc_string


def test_the_demo_sources_run_on_two_celery_workers_and_survive_a_killed_worker(tmp_path: Path) -> None:
    database = f"s2s_cluster_test_{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "S2S_"))}
    env.update(
        CLUSTER_DIR=str(tmp_path / "cluster"),
        CLUSTER_PORT=str(free_port()),
        SANDBOX_PORT=str(free_port()),
        DEMO_DIR=str(tmp_path / "demo"),
        S2S_CLUSTER_DB=database,
        S2S_CLUSTER_REDIS="redis://127.0.0.1:6379/7",
    )
    cluster = ["bash", str(ROOT / "scripts" / "cluster.sh")]
    try:
        run = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "cluster_check.py")],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=1500, check=False,
        )  # fmt: skip
        logs = tmp_path / "cluster" / "logs"
        tail = (
            "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(logs.glob("*.log")))
            if logs.exists()
            else ""
        )
        print(run.stdout)  # the check's own account (shown with -s, or on failure)
        line = next((x for x in run.stdout.splitlines() if x.startswith("CLUSTER ")), "")
        assert line, run.stdout[-3000:] + run.stderr[-3000:] + tail
        figures = dict(re.findall(r"(\w+)=(\w+)", line))
        assert figures["workers_used"] == "2", line  # both workers ran tasks (task_instance.hostname)
        assert figures["runs_failed"] == "0", line + "\n" + run.stdout[-2000:] + tail
        assert int(figures["runs_ok"]) >= 26, line  # 5 demo sources x (scheduled, manual, 3 backfilled), the killed one
        assert (figures["variants_duplicated"], figures["orders_duplicated"]) == ("0", "0"), line
        assert figures["killed_task_recovered"] == "yes", line + "\n" + run.stdout[-2000:] + tail
        assert run.returncode == 0, run.stdout[-2000:]
    finally:
        subprocess.run([*cluster, "stop"], env=env, capture_output=True, timeout=120, check=False)
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "sandbox.sh"), "stop"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        admin = pyodbc.connect(odbc_string(PG, "postgres"), autocommit=True)
        for name in (f"{database}_airflow", f"{database}_state"):
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/7").flushdb()

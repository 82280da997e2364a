"""``make up`` as a user runs it, with one variable moving it off port 8080: ``AIRFLOW_PORT`` must move the UI and
API, the base URL and the execution API the tasks report to (a task whose execution API is still on 8080 never
starts), and the banner. An operator then works in the UI, through Debian's chromium driven by Playwright: the DAG
list shows each source under its description and a broken config as "CONFIG ERROR", already failed without anyone
triggering it; the trigger form offers the entities as a multi-select, and a manual run of the demo custom
database with customers deselected succeeds with the customers' tasks skipped.

The run gets its own folder, ports, source folder and metadata/state databases on the local PostgreSQL; ``make up``
and the sandbox are stopped and the databases dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pyodbc
import requests
from playwright.sync_api import sync_playwright

from sandbox.server import free_port
from tests.conftest import PG, ROOT, odbc_string

CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/ensure_test_tools.sh installs it)
BROKEN = "source_id: broken_shop\ntype: custom_database\nstock2shop: {source_id: 0}\n"
DEMO = "s2s_demo_custom_db"


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str, output: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}; make up printed:\n" + "".join(output[-80:]))


def _trigger_in_the_ui(base: str, dag_id: str, deselect: str) -> str:
    """Check the DAG list, open the DAG's trigger form, check the entities are a multi-select, deselect one and
    trigger; returns the new run's id."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/ensure_test_tools.sh"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/dags", wait_until="networkidle")
            listed = page.inner_text("body")
            assert (
                "Demo hardware and apparel shop in a custom SQL database (SQLite over ODBC) (demo_custom_db)" in listed
            )
            assert "CONFIG ERROR: broken_shop" in listed, listed
            page.goto(f"{base}/dags/{dag_id}", wait_until="networkidle")
            page.get_by_role("button", name="Trigger").first.click()
            form = page.get_by_role("dialog")
            form.get_by_text("What to sync").click()
            entities = form.locator("#element_entities")
            # A multi-select with one chip per entity (each with its remove button), not a free-text box.
            for entity in ("products", "customers", "orders"):
                assert entities.get_by_label(f"Remove {entity}").count() == 1, entities.inner_text()
            entities.get_by_label(f"Remove {deselect}").click()
            form.get_by_role("button", name="Trigger").click()
            page.wait_for_url("**/runs/manual__*", timeout=30_000)
            return page.url.rsplit("/runs/", 1)[1]
        finally:
            browser.close()


def test_make_up_on_another_port_runs_a_manual_run_from_the_ui(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    sources = tmp_path / "sources"
    shutil.copytree(ROOT / "include" / "sources", sources)
    (sources / "broken_shop.yaml").write_text(BROKEN)
    databases = [f"s2s_up_test_{uuid.uuid4().hex[:8]}", f"s2s_up_state_{uuid.uuid4().hex[:8]}"]
    admin = pyodbc.connect(odbc_string(PG, "postgres"), autocommit=True)
    for name in databases:
        admin.execute(f"CREATE DATABASE {name}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "S2S_", "SANDBOX_", "DEMO_DIR"))}
    env.pop("PYTHONPATH", None)
    env.update(
        AIRFLOW_PORT=str(port),
        SANDBOX_PORT=str(sandbox_port),
        DEMO_DIR=str(tmp_path / "demo"),
        S2S_SOURCES_DIR=str(sources),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{databases[0]}",
        S2S_STATE_URL=f"postgresql://postgres@127.0.0.1:5432/{databases[1]}",
    )
    output: list[str] = []
    up = subprocess.Popen(
        ["make", "up"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    reader = threading.Thread(target=lambda: output.extend(iter(up.stdout.readline, "")), daemon=True)
    reader.start()
    api = f"http://127.0.0.1:{port}/api/v2"
    try:
        banner = f"==> airflow standalone: http://localhost:{port}"
        _wait_for(lambda: any(banner in line for line in output), 300, "the banner", output)
        assert not any(":8080" in line for line in output), "".join(output)

        def healthy() -> bool:
            try:
                return requests.get(f"{api}/monitor/health", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        _wait_for(healthy, 300, f"the API on port {port}", output)
        parsed = lambda: requests.get(f"{api}/dags/{DEMO}", timeout=10).status_code == 200  # noqa: E731
        _wait_for(parsed, 300, f"the DAG {DEMO}", output)
        run_id = _trigger_in_the_ui(f"http://localhost:{port}", DEMO, deselect="customers")

        state: dict[str, str] = {}

        def finished() -> bool:
            state["run"] = requests.get(f"{api}/dags/{DEMO}/dagRuns/{run_id}", timeout=10).json()["state"]
            return state["run"] in ("success", "failed")

        _wait_for(finished, 900, f"the manual run {run_id}", output)
        listing = requests.get(f"{api}/dags/{DEMO}/dagRuns/{run_id}/taskInstances", timeout=10).json()
        tasks = {t["task_id"]: t["state"] for t in listing["task_instances"]}
        assert state["run"] == "success", f"{run_id}: {tasks}\n" + "".join(output[-60:])
        run = requests.get(f"{api}/dags/{DEMO}/dagRuns/{run_id}", timeout=10).json()
        assert run["conf"]["entities"] == ["products", "orders"], run["conf"]
        assert (tasks["upload_products"], tasks["upload_customers"], tasks["report"]) == (
            "success", "skipped", "success"
        ), tasks  # fmt: skip

        # The broken config's DAG ran once on its own and failed, with no one triggering it.
        def error_dag_failed() -> bool:
            runs = requests.get(f"{api}/dags/s2s_broken_shop/dagRuns", timeout=10).json().get("dag_runs", [])
            return any(r["state"] == "failed" and r["run_type"] == "scheduled" for r in runs)

        _wait_for(error_dag_failed, 300, "the config-error DAG's own failed run", output)
    finally:
        os.killpg(up.pid, signal.SIGTERM)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait(timeout=30)
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "sandbox.sh"), "stop"], env=env, capture_output=True, timeout=60,
            check=False,
        )  # fmt: skip
        for name in databases:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()

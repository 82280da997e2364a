"""A real Airflow: scheduler, DAG processor and API server (LocalExecutor, metadata on this machine's PostgreSQL),
driven through the REST API as an operator would drive it from the UI or a script.

* a manual run with params (no logical date): a dry run of products only sends nothing; a full sync sends all;
* a backfill over three daily intervals: three runs, each extracting its own window;
* a failing task: the alert arrives at a local SMTP server, a local webhook receiver and a Slack-style webhook;
* a run that would delete 60% of the products waits for a person: rejected through the REST API it fails and sends
  nothing, approved it sends the deletes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyodbc
import pytest
import requests
import yaml
from aiosmtpd.controller import Controller

from sandbox.app import SandboxSettings
from sandbox.server import free_port, running_sandbox
from tests.conftest import PG, ROOT, SANDBOX_PASSWORD, SANDBOX_USER, odbc_string, seed_all

pytestmark = pytest.mark.e2e

DAILY = "@daily"


class _Inbox:
    """What the local SMTP server and webhook receiver got."""

    def __init__(self) -> None:
        self.mails: list[dict[str, str]] = []
        self.posts: list[tuple[str, dict[str, Any]]] = []


class _SmtpHandler:
    def __init__(self, inbox: _Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("html", "plain"))
        self.inbox.mails.append(
            {"to": ",".join(envelope.rcpt_tos), "subject": str(message["subject"]), "body": body.get_content()}
        )
        return "250 OK"


def _webhook_server(inbox: _Inbox) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"raw": raw}
            inbox.posts.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _source(folder: Path, source_id: str, **extra: Any) -> None:
    config = {
        "source_id": source_id,
        "type": "custom_database",
        "connection": {"conn_id": "ops_db", "driver": "SQLite3"},
        "stock2shop": {"conn_id": "stock2shop_default", "source_id": 101},
        "schedule": DAILY,
        "validation": {"max_invalid_share": 0.3},
        **extra,
    }
    (folder / f"{source_id}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


class Cluster:
    """The running Airflow and what it talks to."""

    def __init__(self, api: str, sandbox: str, inbox: _Inbox, logs: Path) -> None:
        self.api = api
        self.sandbox = sandbox
        self.inbox = inbox
        self.logs = logs
        self.session = requests.Session()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.api}/api/v2{path}", timeout=30, **kwargs)
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text[:1000]}"
        return response.json()

    def wait_for_runs(self, dag_id: str, count: int, timeout: float = 300) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            runs = self.call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]
            done = [r for r in runs if r["state"] in ("success", "failed")]
            if len(done) >= count and len(done) == len(runs):
                return runs
            if time.monotonic() > deadline:
                raise AssertionError(f"{dag_id}: runs did not finish: {[(r['dag_run_id'], r['state']) for r in runs]}")
            time.sleep(2)

    def tasks(self, dag_id: str, run_id: str) -> dict[str, str]:
        tis = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {t["task_id"]: t["state"] for t in tis}

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        entry = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
        value = entry["value"]
        return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = tmp_path_factory.mktemp("airflow-cluster")
    sources = home / "sources"
    sources.mkdir()
    database = home / "ops.sqlite"
    seed_all(pyodbc.connect(f"DRIVER={{SQLite3}};Database={database}"))
    # A database of its own: the deletes test changes its data.
    seed_all(pyodbc.connect(f"DRIVER={{SQLite3}};Database={home / 'deletes.sqlite'}"))
    _source(sources, "ops_shop")
    _source(
        sources,
        "ops_deletes",
        connection={"conn_id": "deletes_db", "driver": "SQLite3"},
        stock2shop={"conn_id": "stock2shop_default", "source_id": 102},
        entities=["products"],
        schedule=None,
    )
    # Fails validation at once (the demo data has bad rows): a task failure that retrying cannot fix.
    _source(
        sources,
        "ops_broken",
        validation={"max_invalid_share": 0.0},
        alerts={
            "email": {"to": ["ops@example.com"], "conn_id": "ops_smtp", "from_email": "airflow@example.com"},
            "webhook": {"conn_id": "ops_webhook", "endpoint": "/alerts"},
            "slack": {"conn_id": "ops_slack"},
        },
    )
    metadata = f"s2s_airflow_{uuid.uuid4().hex[:8]}"
    admin = pyodbc.connect(odbc_string(PG, "postgres"), autocommit=True)
    admin.execute(f"CREATE DATABASE {metadata}")
    inbox = _Inbox()
    smtp = Controller(_SmtpHandler(inbox), hostname="127.0.0.1", port=free_port())
    smtp.start()
    webhook = _webhook_server(inbox)
    hook_port = webhook.server_address[1]
    processes: list[subprocess.Popen[bytes]] = []
    settings = SandboxSettings(
        users={SANDBOX_USER: SANDBOX_PASSWORD}, sources={101: "Ops", 102: "Deletes"}, rate_limit=0
    )
    try:
        with running_sandbox(str(home / "sandbox.sqlite"), settings) as sandbox:
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
            env.update(
                {
                    "AIRFLOW_HOME": str(home),
                    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{metadata}",
                    "AIRFLOW__CORE__AUTH_MANAGER": (
                        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                    ),
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                    "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
                    "AIRFLOW__API__PORT": str(port),
                    "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
                    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                    "PYTHONPATH": str(ROOT),
                    "S2S_SOURCES_DIR": str(sources),
                    "S2S_STAGING_URL": f"file://{home / 'staging'}",
                    "S2S_STATE_URL": f"sqlite:///{home / 'state.sqlite'}",
                    "AIRFLOW_CONN_OPS_DB": json.dumps({"conn_type": "odbc", "schema": str(database)}),
                    "AIRFLOW_CONN_DELETES_DB": json.dumps(
                        {"conn_type": "odbc", "schema": str(home / "deletes.sqlite")}
                    ),
                    "AIRFLOW_CONN_STOCK2SHOP_DEFAULT": json.dumps(
                        {"conn_type": "http", "host": sandbox, "login": SANDBOX_USER, "password": SANDBOX_PASSWORD}
                    ),
                    "AIRFLOW_CONN_OPS_SMTP": json.dumps(
                        {
                            "conn_type": "smtp",
                            "host": "127.0.0.1",
                            "port": smtp.port,
                            "extra": {"disable_ssl": True, "disable_tls": True},
                        }
                    ),
                    "AIRFLOW_CONN_OPS_WEBHOOK": json.dumps(
                        {"conn_type": "http", "host": "127.0.0.1", "port": hook_port, "schema": "http"}
                    ),
                    "AIRFLOW_CONN_OPS_SLACK": json.dumps(
                        {"conn_type": "slackwebhook", "password": f"http://127.0.0.1:{hook_port}/slack"}
                    ),
                }
            )
            airflow = str(ROOT / ".venv" / "bin" / "airflow")
            migrate = subprocess.run(
                [airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600, check=False
            )
            assert migrate.returncode == 0, migrate.stderr[-3000:]
            pools = subprocess.run(
                [str(ROOT / ".venv" / "bin" / "python"), "-m", "stock2shop_sync.cli", "ensure-pools"],
                env=env, capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            assert pools.returncode == 0, pools.stderr[-3000:]
            for component in (["scheduler"], ["dag-processor"], ["api-server", "--port", str(port)]):
                log = (home / f"{component[0]}.log").open("wb")
                processes.append(
                    subprocess.Popen(
                        [airflow, *component], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
            api = f"http://127.0.0.1:{port}"
            cluster = Cluster(api, sandbox, inbox, home)
            deadline = time.monotonic() + 180
            while True:
                try:
                    dags = requests.get(f"{api}/api/v2/dags", timeout=5).json().get("dags", [])
                    if {"s2s_ops_shop", "s2s_ops_broken", "s2s_ops_deletes"} <= {d["dag_id"] for d in dags}:
                        break
                except (requests.RequestException, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("the DAGs never appeared: " + (home / "dag-processor.log").read_text()[-3000:])
                time.sleep(2)
            yield cluster
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        smtp.stop()
        webhook.shutdown()
        admin.execute(f"DROP DATABASE IF EXISTS {metadata} WITH (FORCE)")
        admin.close()


def _trigger(cluster: Cluster, dag_id: str, conf: dict[str, Any]) -> str:
    run = cluster.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
    return run["dag_run_id"]


def _wait(cluster: Cluster, dag_id: str, run_id: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while True:
        state = cluster.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{dag_id} {run_id} still {state}: {cluster.tasks(dag_id, run_id)}")
        time.sleep(2)


def test_manual_runs_with_params_dry_run_then_a_full_sync(cluster: Cluster) -> None:
    # Unpaused, the DAG's latest daily interval is scheduled at once: let it finish, then start from empty.
    scheduled = cluster.wait_for_runs("s2s_ops_shop", 1)
    assert [r["run_type"] for r in scheduled] == ["scheduled"]
    assert scheduled[0]["state"] == "success", cluster.tasks("s2s_ops_shop", scheduled[0]["dag_run_id"])
    requests.post(f"{cluster.sandbox}/sandbox/reset", timeout=10).raise_for_status()

    dry = _trigger(cluster, "s2s_ops_shop", {"dry_run": True, "entities": ["products"], "full_sync": True})
    assert _wait(cluster, "s2s_ops_shop", dry) == "success", cluster.tasks("s2s_ops_shop", dry)

    states = cluster.tasks("s2s_ops_shop", dry)
    assert states["upload_products"] == "success"
    assert (states["extract_customers"], states["upload_customers"]) == ("skipped", "skipped")
    assert states["report"] == "success"
    upload = cluster.xcom("s2s_ops_shop", dry, "upload_products")
    assert (upload["dry_run"], upload["would_upload"], upload["uploaded"]) == (True, 33, 0)
    assert requests.get(f"{cluster.sandbox}/sandbox/stats", timeout=10).json()["products"] == 0

    full = _trigger(cluster, "s2s_ops_shop", {"full_sync": True})
    assert _wait(cluster, "s2s_ops_shop", full) == "success", cluster.tasks("s2s_ops_shop", full)
    stats = requests.get(f"{cluster.sandbox}/sandbox/stats", timeout=10).json()
    assert (stats["products"], stats["customers"]) == (33, 9)
    extract = cluster.xcom("s2s_ops_shop", full, "extract_products")
    assert (extract["since"], extract["until"]) == (None, None)  # full sync: the whole catalogue


def test_a_backfill_over_three_days_extracts_each_interval(cluster: Cluster) -> None:
    backfill = cluster.call(
        "POST",
        "/backfills",
        json={
            "dag_id": "s2s_ops_shop",
            "from_date": "2026-11-01T00:00:00Z",
            "to_date": "2026-11-03T00:00:00Z",
            "dag_run_conf": {"entities": ["products"]},
            "max_active_runs": 1,
            "reprocess_behavior": "none",
        },
    )
    assert backfill["dag_id"] == "s2s_ops_shop"

    deadline = time.monotonic() + 400
    while True:
        runs = cluster.call("GET", "/dags/s2s_ops_shop/dagRuns", params={"run_type": "backfill", "limit": 50})[
            "dag_runs"
        ]
        runs = [r for r in runs if r["run_type"] == "backfill"]
        if len(runs) == 3 and all(r["state"] in ("success", "failed") for r in runs):
            break
        assert time.monotonic() < deadline, [(r["dag_run_id"], r["state"]) for r in runs]
        time.sleep(3)

    assert [r["state"] for r in runs] == ["success"] * 3, [cluster.tasks("s2s_ops_shop", r["dag_run_id"]) for r in runs]
    windows = sorted(
        tuple(cluster.xcom("s2s_ops_shop", r["dag_run_id"], "extract_products")["requested_window"]) for r in runs
    )
    # Each run asks for its own day (the interval of logical date D is [D, D+1)), starting 5 minutes early
    # (api.overlap_minutes) so a change at the edge is never lost. (This source's query has no {{since}}, so what
    # it reads is everything: the result's since/until say so; requested_window is the run's window.)
    assert windows == [
        ("2026-10-31T23:55:00+00:00", "2026-11-02T00:00:00+00:00"),
        ("2026-11-01T23:55:00+00:00", "2026-11-03T00:00:00+00:00"),
        ("2026-11-02T23:55:00+00:00", "2026-11-04T00:00:00+00:00"),
    ]


def test_a_failed_task_alerts_by_mail_webhook_and_slack(cluster: Cluster) -> None:
    run_id = _trigger(cluster, "s2s_ops_broken", {"entities": ["products"]})

    state = _wait(cluster, "s2s_ops_broken", run_id)
    assert state == "failed", cluster.tasks("s2s_ops_broken", run_id)
    assert cluster.tasks("s2s_ops_broken", run_id)["validate_products"] == "failed"

    def ours() -> tuple[list[dict[str, str]], dict[str, Any]]:
        # The DAG's own scheduled run (created when it was unpaused) fails and alerts too: pick this run's.
        mails = [m for m in cluster.inbox.mails if run_id in m["body"]]
        posts = {path: body for path, body in cluster.inbox.posts if run_id in json.dumps(body)}
        return mails, posts

    deadline = time.monotonic() + 60
    while len(ours()[1]) < 2 and time.monotonic() < deadline:
        time.sleep(1)
    mails, posts = ours()

    [mail] = mails
    assert mail["to"] == "ops@example.com"
    assert mail["subject"] == "[Stock2Shop] s2s_ops_broken: validate_products failed"
    assert "Stock2Shop source ops_broken (custom_database): task validate_products failed" in mail["body"]
    assert "rows are invalid" in mail["body"]
    assert "/dags/s2s_ops_broken/runs/" in mail["body"]  # the link to the log
    alert = posts["/alerts"]
    assert alert["event"] == "task_failed"
    assert (alert["source_id"], alert["dag_id"], alert["task_id"], alert["run_id"]) == (
        "ops_broken",
        "s2s_ops_broken",
        "validate_products",
        run_id,
    )
    assert alert["log_url"].startswith(cluster.api)
    assert "rows are invalid" in alert["error"]
    assert "validate_products failed" in posts["/slack"]["text"]


def _awaiting_approval(cluster: Cluster, dag_id: str, run_id: str, task_id: str, timeout: float = 180) -> None:
    """Wait until the approval task waits for a person (``awaiting_input``; ``deferred`` before Airflow 3.3)."""
    deadline = time.monotonic() + timeout
    while (state := cluster.tasks(dag_id, run_id).get(task_id)) not in ("awaiting_input", "deferred"):
        assert state not in ("failed", "success", "upstream_failed"), cluster.tasks(dag_id, run_id)
        assert time.monotonic() < deadline, cluster.tasks(dag_id, run_id)
        time.sleep(2)


def _held(cluster: Cluster) -> dict[str, str]:
    rows = requests.get(f"{cluster.sandbox}/sandbox/products", params={"source_id": 102}, timeout=10).json()
    return {row["sku"]: row["product_active"] for row in rows}


def test_deletes_above_the_cap_wait_for_a_person_rejected_then_approved(cluster: Cluster) -> None:
    dag_id, task_id = "s2s_ops_deletes", "approve_deletes_products"
    first = _trigger(cluster, dag_id, {})
    assert _wait(cluster, dag_id, first) == "success", cluster.tasks(dag_id, first)
    assert cluster.xcom(dag_id, first, task_id)["needed"] is False  # nothing to delete: no question asked
    held = _held(cluster)
    assert len(held) == 33
    inactive = {sku for sku, active in held.items() if active == "false"}  # the demo's own Delete rows
    # The source's status field flags 20 more of the 33 products Delete (61%, past the 20% cap).
    flagged = sorted(set(held) - inactive)[:20]
    database = pyodbc.connect(f"DRIVER={{SQLite3}};Database={cluster.logs / 'deletes.sqlite'}", autocommit=True)
    marks = ",".join("?" * len(flagged))
    database.execute(f"UPDATE products SET s2s_active = 'Delete' WHERE item_code IN ({marks})", *flagged)
    database.close()
    hitl = f"/dags/{dag_id}/dagRuns/{{run_id}}/taskInstances/{task_id}/-1/hitlDetails"

    rejected = _trigger(cluster, dag_id, {})
    _awaiting_approval(cluster, dag_id, rejected, task_id)
    asked = cluster.call("GET", hitl.format(run_id=rejected))
    assert asked["subject"] == "Stock2Shop source ops_deletes: delete 20 of 33 products?"
    assert "* 20 flagged Delete by the source's status field" in asked["body"]
    assert asked["options"] == ["Approve", "Reject"]
    cluster.call("PATCH", hitl.format(run_id=rejected), json={"chosen_options": ["Reject"]})
    assert _wait(cluster, dag_id, rejected) == "failed"
    states = cluster.tasks(dag_id, rejected)
    assert (states[task_id], states["upload_products"], states["report"]) == ("failed", "upstream_failed", "failed")
    assert _held(cluster) == held  # nothing sent
    report = json.loads((cluster.logs / "staging" / "ops_deletes" / "latest_run_report.json").read_text())
    assert (report["run_id"], report["entities"]["products"]["failed_step"]) == (rejected, task_id)
    assert report["entities"]["products"]["deletes"]["flagged"] == 20
    ti = cluster.call("GET", f"/dags/{dag_id}/dagRuns/{rejected}/taskInstances/{task_id}")
    log = cluster.call("GET", f"/dags/{dag_id}/dagRuns/{rejected}/taskInstances/{task_id}/logs/{ti['try_number']}")
    assert "deletes of products rejected by" in json.dumps(log)

    approved = _trigger(cluster, dag_id, {})
    _awaiting_approval(cluster, dag_id, approved, task_id)
    cluster.call("PATCH", hitl.format(run_id=approved), json={"chosen_options": ["Approve"]})
    assert _wait(cluster, dag_id, approved) == "success", cluster.tasks(dag_id, approved)
    now = _held(cluster)
    assert {sku for sku, active in now.items() if active == "false"} == inactive | set(flagged)
    assert cluster.xcom(dag_id, approved, "upload_products")["deletes"]["total"] == 20

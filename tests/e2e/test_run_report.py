"""The run report is written for every run, failed ones too: each step's state, a status per entity and the counts
of the steps that ran; the ``report`` task then fails the run when a step failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.state import DagRunState, TaskInstanceState

from stock2shop_sync import cli
from stock2shop_sync.staging import staging_root
from tests.conftest import ROOT, write_source

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db")]

#: The demo customers query, with an address no customer can be sent with: every customer is quarantined.
BAD_EMAILS = (
    "SELECT c.account, c.first_name, c.last_name, 'not-an-address' AS email, c.s2s_active "
    "FROM customers c ORDER BY c.account"
)


def _run(source_id: str, conf: dict[str, Any] | None = None) -> tuple[Any, dict[str, str]]:
    dag = DagBag(dag_folder=str(ROOT / "dags" / "stock2shop_sources.py")).dags[f"s2s_{source_id}"]
    run = dag.test(logical_date=None, run_conf=conf)
    return run, {ti.task_id: ti.state for ti in run.get_task_instances()}


def _latest_report(source_id: str) -> dict[str, Any]:
    return json.loads((staging_root() / source_id / "latest_run_report.json").read_text())


def test_a_run_whose_customers_all_fail_still_reports_its_synced_products(
    sandbox: str, sources_dir: Path, sqlite_source: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    write_source(
        sources_dir,
        "half_shop",
        conn_id=sqlite_source["conn_id"],
        driver="SQLite3",
        s2s_source_id=101,
        mapping_overrides={"customers": {"query": BAD_EMAILS}},
    )

    run, states = _run("half_shop")
    assert run.state == DagRunState.FAILED, states
    assert states["upload_products"] == TaskInstanceState.SUCCESS
    assert states["validate_customers"] == TaskInstanceState.FAILED
    assert states["upload_customers"] == TaskInstanceState.UPSTREAM_FAILED
    # The report ran after the failure, wrote the report, then failed itself so the run is failed.
    assert states["report"] == TaskInstanceState.FAILED
    assert len(requests.get(f"{sandbox}/sandbox/products", params={"source_id": 101}, timeout=10).json()) == 33
    assert requests.get(f"{sandbox}/sandbox/customers", params={"source_id": 101}, timeout=10).json() == []

    report = _latest_report("half_shop")
    assert report["run_id"] == run.run_id
    assert (report["state"], report["failed_steps"]) == ("failed", ["validate_customers"])
    assert report["steps"] == {
        "extract_products": "success",
        "validate_products": "success",
        "approve_deletes_products": "success",
        "upload_products": "success",
        "extract_customers": "success",
        "validate_customers": "failed",
        "approve_deletes_customers": "upstream_failed",
        "upload_customers": "upstream_failed",
    }
    products, customers = report["entities"]["products"], report["entities"]["customers"]
    assert (products["status"], products["failed_step"]) == ("synced", None)
    assert {k: products[k] for k in ("extracted", "valid", "quarantined", "ignored", "uploaded")} == {
        "extracted": 40,
        "valid": 33,
        "quarantined": 5,
        "ignored": 2,
        "uploaded": 33,
    }
    assert (customers["status"], customers["failed_step"]) == ("failed", "validate_customers")
    assert customers["steps"] == {
        "extract_customers": "success",
        "validate_customers": "failed",
        "approve_deletes_customers": "upstream_failed",
        "upload_customers": "upstream_failed",
    }
    assert customers["extracted"] == 12  # the extract ran; the steps after it gave no counts
    assert (customers["valid"], customers["uploaded"]) == (0, 0)

    # `make demo`'s summary reads the same report and says what failed.
    assert cli.demo_summary("half_shop", sandbox) == 0
    out = capsys.readouterr().out
    assert "failed: validate_customers" in out
    assert "failed at validate_customers" in out
    assert "synced" in out

    # Entities left out of a manual run are skipped, not failed: the run and its report succeed.
    only, only_states = _run("half_shop", {"entities": ["products"]})
    assert only.state == DagRunState.SUCCESS, only_states
    assert only_states["report"] == TaskInstanceState.SUCCESS
    report = _latest_report("half_shop")
    assert (report["state"], report["failed_steps"]) == ("success", [])
    assert report["entities"]["products"]["status"] == "synced"
    assert report["entities"]["customers"]["status"] == "skipped"
    assert report["entities"]["customers"]["steps"]["extract_customers"] == "skipped"

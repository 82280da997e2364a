"""Run a generated source DAG end to end with ``dag.test()`` and check what the sandbox received."""

from __future__ import annotations

import csv
import io
import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pyodbc
import pytest
import requests
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import ObjectStoragePath
from airflow.utils.state import DagRunState, TaskInstanceState

from stock2shop_sync.staging import staging_root
from tests.conftest import ROOT, write_source

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db")]


def _run(source_id: str) -> tuple[Any, dict[str, str]]:
    dag = DagBag(dag_folder=str(ROOT / "dags" / "stock2shop_sources.py")).dags[f"s2s_{source_id}"]
    run = dag.test(logical_date=None)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    return run, states


def _products(sandbox: str, s2s_id: int) -> dict[str, dict[str, Any]]:
    rows = requests.get(f"{sandbox}/sandbox/products", params={"source_id": s2s_id}, timeout=10).json()
    return {r["source_variant_code"]: r for r in rows}


def test_dag_syncs_demo_database_into_sandbox(sandbox: str, sources_dir: Path, sqlite_source: dict[str, Any]) -> None:
    write_source(sources_dir, "e2e_shop", conn_id=sqlite_source["conn_id"], driver="SQLite3", s2s_source_id=101)

    run, states = _run("e2e_shop")
    assert run.state == DagRunState.SUCCESS, states
    assert set(states.values()) == {TaskInstanceState.SUCCESS}

    products = _products(sandbox, 101)
    assert len(products) == 33  # GD-SOIL-30L's 2.5 on hand is floored to 2 (settings.fractional_qty)
    hoodie = products["HOOD-ZIP-XL"]["payload"]
    assert hoodie["source"] == {
        "source_id": "101",
        "source_product_code": "HOODIE-ZIP",
        "product_active": "true",
        "sync_token": "0",
        "fetch_token": "0",
    }
    assert hoodie["product"]["title"] == "Zip Hoodie"
    assert hoodie["product"]["options"] == [{"name": "Size", "position": 1}]
    assert hoodie["product"]["variants"] == {
        "source_variant_code": "HOOD-ZIP-XL",
        "sku": "HOOD-ZIP-XL",
        "qty": 4,
        "price": 699.0,
        "inventory_management": "true",
        "option1": "XL",
        "option2": None,
        "option3": None,
        "grams": 650,
    }
    assert products["HW-OLD-SANDER"]["product_active"] == "false"
    customers = requests.get(f"{sandbox}/sandbox/customers", params={"source_id": 101}, timeout=10).json()
    assert sorted(c["source_customer_code"] for c in customers) == [
        "ACC001", "ACC002", "ACC003", "ACC004", "ACC008", "ACC009", "ACC010", "ACC011", "ACC012",
    ]  # fmt: skip
    thandi = next(c for c in customers if c["source_customer_code"] == "ACC001")["payload"]["customer"]
    assert (thandi["first_name"], thandi["last_name"], thandi["email"]) == (
        "Thandi",
        "Nkosi",
        "thandi@nkosi-hardware.co.za",
    )
    stats = requests.get(f"{sandbox}/sandbox/stats", timeout=10).json()
    assert stats["max_items_per_request"] <= 500

    report = json.loads((staging_root() / "e2e_shop" / "latest_run_report.json").read_text())
    assert report["entities"]["products"] == {
        **report["entities"]["products"],
        "extracted": 40,
        "valid": 33,
        "quarantined": 5,
        "ignored": 2,
        "deleted": 1,
        "uploaded": 33,
    }
    quarantine = list(
        csv.DictReader(io.StringIO(ObjectStoragePath(report["entities"]["products"]["quarantine_report"]).read_text()))
    )
    reasons = {(row["record"], row["field"]): row["reason"] for row in quarantine}
    assert reasons[("HW-CLAMP-F", "title")] == "title is required"
    assert reasons[("HW-FILE-SET", "price")] == "price must not be negative"
    assert (
        reasons[("GD-SOIL-30L", "qty")] == "qty 2.5 is not a whole number; sent as 2 (settings.fractional_qty: floor)"
    )
    assert reasons[("CF-LAMP-LED", "product_active")] == "product_active must be Ignore, Active or Delete"
    assert reasons[("HW-TAPE-5M", "sku")] == "sku is not unique within the source: it is on rows 21, 36"
    assert {row["row"] for row in quarantine if row["record"] == "HW-CLAMP-F"} == {"37"}
    customer_report = report["entities"]["customers"]["quarantine_report"]
    customer_issues = list(csv.DictReader(io.StringIO(ObjectStoragePath(customer_report).read_text())))
    assert [(r["record"], r["field"], r["reason"]) for r in customer_issues] == [
        ("ACC005", "email", "email must not be blank"),
        ("ACC006", "email", "email is not a valid address"),
    ]

    # Delta sync. Nothing changed: nothing is sent, and nothing already synced is touched.
    rerun, rerun_states = _run("e2e_shop")
    assert rerun.state == DagRunState.SUCCESS, rerun_states
    again = _products(sandbox, 101)
    assert {k: (r["times_received"], r["payload"]) for k, r in again.items()} == {
        k: (1, r["payload"]) for k, r in products.items()
    }
    report = json.loads((staging_root() / "e2e_shop" / "latest_run_report.json").read_text())
    assert report["entities"]["products"]["uploaded"] == 0
    assert report["entities"]["customers"]["uploaded"] == 0

    # One price changes and one variant leaves the source: exactly those two are sent.
    with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={sqlite_source['path']}")) as conn:
        conn.execute("UPDATE products SET selling_price = 749 WHERE item_code = 'HOOD-ZIP-XL'")
        conn.execute("DELETE FROM products WHERE item_code = 'HOOD-ZIP-M'")
        conn.commit()
    changed, changed_states = _run("e2e_shop")
    assert changed.state == DagRunState.SUCCESS, changed_states
    after = _products(sandbox, 101)
    resent = {k for k, r in after.items() if r["times_received"] == 2}
    assert resent == {"HOOD-ZIP-XL", "HOOD-ZIP-M"}
    assert after["HOOD-ZIP-XL"]["payload"]["product"]["variants"]["price"] == 749.0
    assert after["HOOD-ZIP-M"]["product_active"] == "false"  # gone from the source: deleted in Stock2Shop
    report = json.loads((staging_root() / "e2e_shop" / "latest_run_report.json").read_text())
    assert report["entities"]["products"]["uploaded"] == 2

    # full_sync sends everything again (the deleted variant is no longer the source's: it is not re-sent).
    full = DagBag(dag_folder=str(ROOT / "dags" / "stock2shop_sources.py")).dags["s2s_e2e_shop"]
    full_run = full.test(logical_date=None, run_conf={"full_sync": True})
    assert full_run.state == DagRunState.SUCCESS
    final = _products(sandbox, 101)
    assert {k for k, r in final.items() if r["times_received"] == after[k]["times_received"] + 1} == set(after) - {
        "HOOD-ZIP-M"
    }


def test_too_many_invalid_rows_fails_before_upload(
    sandbox: str, sources_dir: Path, sqlite_source: dict[str, Any]
) -> None:
    write_source(
        sources_dir,
        "strict_shop",
        conn_id=sqlite_source["conn_id"],
        driver="SQLite3",
        s2s_source_id=102,
        validation={"max_invalid_share": 0.05},
    )
    run, states = _run("strict_shop")
    assert run.state == DagRunState.FAILED
    assert states["validate_products"] == TaskInstanceState.FAILED
    assert states["upload_products"] == TaskInstanceState.UPSTREAM_FAILED
    assert _products(sandbox, 102) == {}
    # The report of why is still written for the integrator.
    folder = staging_root() / "strict_shop"
    (report,) = list(folder.rglob("products_quarantine.csv"))
    assert "title is required" in report.read_text()

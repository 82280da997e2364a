"""push_orders inside a generated source DAG (``dag.test()``): orders flow after the catalogue upload, a failed
order fails the task (so alerts fire) without stopping the others, and the run report carries the counts."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pyodbc
import pytest
from airflow.utils.state import DagRunState, TaskInstanceState

from stock2shop_sync.staging import staging_root
from tests.e2e.test_dag_run import _run
from tests.orders_helpers import add_orders, sandbox_orders, system_order, write_order_source

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db")]


def test_the_dag_raises_orders_for_synced_skus_and_fails_on_a_bad_one(
    sandbox: str, sources_dir: Path, sqlite_source: dict[str, Any]
) -> None:
    write_order_source(
        sources_dir,
        "order_shop",
        preset="custom_database",
        conn_id="s2s_test_sqlite",
        driver="SQLite3",
        s2s_source_id=101,
    )
    add_orders(
        sandbox,
        [
            system_order(801, 101, [("HOOD-ZIP-XL", 1, 699.0), ("HW-HAMMER-16", 2, 349.95)]),
            # quarantined in the demo data (a blank title), so Stock2Shop does not hold it for this source
            system_order(802, 101, [("HW-CLAMP-F", 1, 99.0)]),
        ],
    )

    run, states = _run("order_shop")

    assert states["upload_products"] == TaskInstanceState.SUCCESS
    assert states["push_orders"] == TaskInstanceState.FAILED
    assert run.state == DagRunState.FAILED
    orders = sandbox_orders(sandbox, 101)
    assert orders["801"]["ack_count"] == 1
    assert orders["802"]["source_order_code"] is None
    assert "sku 'HW-CLAMP-F' is not a product of source order_shop" in orders["802"]["error"]
    with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={sqlite_source['path']}")) as conn:
        lines = conn.execute(
            "SELECT h.external_ref, h.order_no, l.item_code, l.qty FROM sales_orders h "
            "JOIN sales_order_lines l ON l.order_no = h.order_no ORDER BY l.line_no"
        ).fetchall()
    number = int(orders["801"]["source_order_code"])
    assert [(r[0], int(r[1]), r[2], float(r[3])) for r in lines] == [
        ("S2S-801", number, "HOOD-ZIP-XL", 1.0),
        ("S2S-801", number, "HW-HAMMER-16", 2.0),
    ]
    # The report runs after every step whatever they did, writes the run report (with the push's counts), then
    # fails, so a failed order leaves the whole run failed (it is a leaf's state that Airflow judges a run by).
    assert states["report"] == TaskInstanceState.FAILED
    report = json.loads((staging_root() / "order_shop" / "latest_run_report.json").read_text())
    assert report["failed_steps"] == ["push_orders"]
    assert (report["orders"]["status"], report["orders"]["failed_step"]) == ("failed", "push_orders")
    assert report["orders"]["counts"] == {"pending": 2, "failed": 1, "raised": 1}  # the failed push's own counts
    assert report["entities"]["products"]["status"] == "synced"

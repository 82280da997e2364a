"""A hung ERP query does not hold a source for ever: the database cancels it after ``timeouts.odbc_query_seconds``,
the extract fails at once naming that timeout (no Airflow retries: the same query would hang again), and the next
run of the source reads normally. Every step also carries an ``execution_timeout`` and the run a
``dagrun_timeout``, from the source's ``timeouts`` (defaults per step)."""

from __future__ import annotations

import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyodbc
import pytest

from stock2shop_sync import pipeline
from stock2shop_sync.config import load_source
from stock2shop_sync.connectors.sql import QueryTimeout
from stock2shop_sync.factory import build_source_dag
from stock2shop_sync.operators.sync import _fail_fast
from tests.conftest import PG, odbc_string, write_source

#: The products query of the Custom Database preset, reading a table the test can lock: while another session holds
#: ``s2s_slow`` in ACCESS EXCLUSIVE mode (an ERP user's long transaction), the query waits for the lock. (A sleep
#: function would be refused by the read-only check, as it should be.)
SLOW_QUERY = """
SELECT p.item_code, COALESCE(p.group_code, p.item_code) AS group_code, p.description, p.category, p.brand,
       p.barcode, p.selling_price, p.qty_on_hand, p.s2s_active, p.inventory_managed,
       g.option1_name, g.option2_name, g.option3_name, p.option1, p.option2, p.option3, p.weight_grams
FROM products p
LEFT JOIN product_groups g ON g.group_code = p.group_code
CROSS JOIN (SELECT COUNT(*) AS n FROM s2s_slow) s
"""


@pytest.fixture
def slow_switch(postgres_source: dict[str, Any]) -> Any:
    database = postgres_source["database"]
    with closing(pyodbc.connect(odbc_string(PG, database), autocommit=True)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS s2s_slow (is_on BOOLEAN NOT NULL)")
    holder: list[pyodbc.Connection] = []

    def flip(on: bool) -> None:
        while holder:  # the lock's transaction ends: the table can be read again
            lock = holder.pop()
            lock.rollback()
            lock.close()
        if on:
            lock = pyodbc.connect(odbc_string(PG, database), autocommit=False)
            lock.execute("LOCK TABLE s2s_slow IN ACCESS EXCLUSIVE MODE")
            holder.append(lock)

    yield flip
    flip(False)
    with closing(pyodbc.connect(odbc_string(PG, database), autocommit=True)) as conn:
        conn.execute("DROP TABLE IF EXISTS s2s_slow")


@pytest.mark.parametrize("reader", ["arrow", "pyodbc"])
def test_a_query_past_its_timeout_is_cancelled_named_and_the_next_run_reads(
    postgres_source: dict[str, Any],
    sources_dir: Path,
    slow_switch: Any,
    monkeypatch: pytest.MonkeyPatch,
    reader: str,
) -> None:
    monkeypatch.setenv("S2S_ODBC_READER", reader)
    path = write_source(
        sources_dir, "slow_shop", conn_id=postgres_source["conn_id"], driver=postgres_source["driver"],
        s2s_source_id=101, entities=["products"], timeouts={"odbc_query_seconds": 2},
        mapping_overrides={"products": {"query": SLOW_QUERY}},
    )  # fmt: skip
    config = load_source(path)
    slow_switch(True)

    started = time.monotonic()
    with pytest.raises(QueryTimeout) as caught:
        pipeline.extract(config, "products", run_id="hung")
    took = time.monotonic() - started

    assert "timeouts.odbc_query_seconds (2 s)" in str(caught.value)
    assert "slow_shop" in str(caught.value)
    assert took < 10  # cancelled by the database after 2 s, not read again through the other reader
    assert _fail_fast(caught.value)  # the task fails without Airflow's retries

    slow_switch(False)  # whatever held the query up is gone: the next run reads everything
    result = pipeline.extract(config, "products", run_id="next")
    assert result["rows"] > 0


def test_every_step_and_the_run_have_a_timeout_from_the_source(sources_dir: Path) -> None:
    path = write_source(
        sources_dir, "timed_shop", conn_id="x", driver="SQLite3", s2s_source_id=101,
        orders={"enabled": True, "conn_id": "x"}, timeouts={"upload_minutes": 45, "run_minutes": 90},
    )  # fmt: skip
    dag = build_source_dag(load_source(path))

    assert dag.dagrun_timeout == timedelta(minutes=90)
    limits = {task.task_id: task.execution_timeout for task in dag.tasks}
    assert limits["extract_products"] == timedelta(minutes=60)
    assert limits["validate_products"] == timedelta(minutes=30)
    assert limits["upload_products"] == timedelta(minutes=45)
    assert limits["push_orders"] == timedelta(minutes=60)
    assert limits["report"] == timedelta(minutes=10)
    assert all(limit is not None for limit in limits.values())


def test_a_query_timeout_longer_than_its_task_is_a_config_error(sources_dir: Path) -> None:
    from stock2shop_sync.config import ConfigError

    path = write_source(
        sources_dir, "bad_timeouts", conn_id="x", driver="SQLite3", s2s_source_id=101,
        timeouts={"extract_minutes": 5, "odbc_query_seconds": 600},
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"odbc_query_seconds .600. is longer than extract_minutes .5."):
        load_source(path)


def test_a_missing_connection_fails_without_retries() -> None:
    from airflow.sdk.exceptions import AirflowNotFoundException

    assert _fail_fast(AirflowNotFoundException("The conn_id `nope` isn't defined"))

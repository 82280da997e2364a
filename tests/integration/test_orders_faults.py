"""Exactly-once under faults: a worker killed between the ERP commit and the acknowledgement, and 1,000 orders
with faults injected at random into 10% of the attempts, against PostgreSQL over ODBC and the sandbox's order API.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pyodbc

from stock2shop_sync import pipeline
from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_order_sink
from stock2shop_sync.demo import create_order_tables
from stock2shop_sync.inbox import inbox_for
from stock2shop_sync.state import StateStore
from tests.conftest import PG, ROOT, odbc_string
from tests.orders_helpers import add_orders, sandbox_orders, system_order, write_order_source

SKUS = ["HW-HAMMER-16", "HW-TAPE-5M", "HW-DRILL-18V"]
#: A short lease, so the test can wait for a killed run's claim to expire.
CLAIM_SECONDS = 2


def _erp(database: str) -> pyodbc.Connection:
    return pyodbc.connect(odbc_string(PG, database))


def _documents(database: str) -> tuple[list[tuple[str, int]], int]:
    with closing(_erp(database)) as conn:
        headers = [(r[0], int(r[1])) for r in conn.execute("SELECT external_ref, order_no FROM sales_orders")]
        lines = conn.execute("SELECT COUNT(*) FROM sales_order_lines").fetchone()[0]
    return headers, int(lines)


def _fresh_order_tables(database: str, *, unique: bool) -> None:
    with closing(_erp(database)) as conn:
        create_order_tables("custom_database", conn)
        if not unique:
            # Without the UNIQUE constraint, a duplicate could only be prevented by the sink's existence check and
            # the ledger: this is what the test is about.
            conn.execute("ALTER TABLE sales_orders DROP CONSTRAINT sales_orders_external_ref_key")
            conn.commit()


def _source(sources_dir: Path, postgres_source: dict[str, Any]) -> Path:
    return write_order_source(
        sources_dir,
        "pg_shop",
        preset="custom_database",
        conn_id=postgres_source["conn_id"],
        driver=postgres_source["driver"],
        s2s_source_id=101,
        orders={"claim_seconds": CLAIM_SECONDS},
    )


def test_a_worker_killed_after_the_erp_commit_leaves_every_order_once(
    postgres_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    database = postgres_source["database"]
    _fresh_order_tables(database, unique=False)
    path = _source(sources_dir, postgres_source)
    StateStore(state_store).record_synced("pg_shop", SKUS)
    add_orders(sandbox, [system_order(n, 101, [(SKUS[n % 3], 1 + n % 2, 100.0 + n)]) for n in range(1, 6)])

    crashed = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "order_crash.py"), str(path), "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert crashed.returncode == 137, crashed.stderr[-2000:]
    headers, _ = _documents(database)
    assert sorted(ref for ref, _ in headers) == ["S2S-1", "S2S-2", "S2S-3"]  # 3 committed, then the kill
    acked = {k: v["ack_count"] for k, v in sandbox_orders(sandbox, 101).items()}
    assert acked == {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0}
    store = StateStore(state_store)
    assert store.entry("pg_shop", "3").status == "raising"  # the ledger saw the attempt start, nothing more

    # While the dead run's claim lasts, order 3 is left alone: nobody can tell yet whether that run is dead.
    rerun = pipeline.push_orders(load_source(path), store=store)
    assert rerun["counts"] == {"pending": 3, "claimed": 1, "raised": 2}
    time.sleep(CLAIM_SECONDS + 0.5)
    # Its claim expired: the next run looks order 3 up, finds the document, and acknowledges it.
    rerun = pipeline.push_orders(load_source(path), store=store)

    assert rerun["counts"] == {"pending": 1, "found": 1}
    headers, lines = _documents(database)
    assert sorted(ref for ref, _ in headers) == [f"S2S-{n}" for n in range(1, 6)]
    assert lines == 5
    orders = sandbox_orders(sandbox, 101)
    numbers = dict(headers)
    assert {k: (v["source_order_code"], v["ack_count"]) for k, v in orders.items()} == {
        str(n): (str(numbers[f"S2S-{n}"]), 1) for n in range(1, 6)
    }


class _Faults:
    """Injects a fault into 10% of attempts, at one of four points around the ERP commit and the acknowledgement."""

    POINTS = ("before_commit", "after_commit", "before_ack", "after_ack")

    def __init__(self, seed: int, rate: float = 0.10) -> None:
        self.random = random.Random(seed)  # noqa: S311 - fault injection, not crypto
        self.rate = rate
        self.injected = dict.fromkeys(self.POINTS, 0)
        self.pending: dict[str, str] = {}  # order id -> the point where this attempt will fail

    def draw(self, order_id: str) -> None:
        if self.random.random() < self.rate:
            self.pending[order_id] = self.random.choice(self.POINTS)

    def fire(self, order_id: str, point: str) -> None:
        if self.pending.get(order_id) == point:
            del self.pending[order_id]
            self.injected[point] += 1
            raise ConnectionError(f"injected fault {point} for order {order_id}")


def test_a_thousand_orders_with_ten_percent_faults_end_as_a_thousand_documents(
    postgres_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    database = postgres_source["database"]
    _fresh_order_tables(database, unique=False)
    config = load_source(_source(sources_dir, postgres_source))
    store = StateStore(state_store)
    store.record_synced("pg_shop", SKUS)
    count = 1000
    orders = [
        system_order(n, 101, [(SKUS[n % 3], 1 + n % 4, 50.0 + n % 97), (SKUS[(n + 1) % 3], 1, 19.99)])
        for n in range(1, count + 1)
    ]
    add_orders(sandbox, orders)
    faults = _Faults(seed=20261122)

    runs = []
    for _ in range(12):
        sink = get_order_sink(config, resolve_mapping(config))
        inbox = inbox_for(config)
        real_raise, real_ack = sink.raise_order, inbox.acknowledge

        def raise_order(order: Any, real_raise: Any = real_raise, **kwargs: Any) -> tuple[str, bool]:
            faults.draw(order.order_id)
            faults.fire(order.order_id, "before_commit")
            result = real_raise(order, **kwargs)
            faults.fire(order.order_id, "after_commit")
            return result

        def acknowledge(item: Any, document: str, customer: str | None, real_ack: Any = real_ack) -> None:
            faults.fire(item.order_id, "before_ack")
            real_ack(item, document, customer)
            faults.fire(item.order_id, "after_ack")

        sink.raise_order, inbox.acknowledge = raise_order, acknowledge  # type: ignore[method-assign]
        result = pipeline.push_orders(config, store=store, sink=sink, inbox=inbox)
        runs.append(result["counts"])
        if result["counts"]["pending"] == 0:
            break

    print(f"runs: {runs}; faults injected: {faults.injected}")
    assert runs[-1] == {"pending": 0}, runs
    assert all(faults.injected.values()), faults.injected  # every fault point was exercised
    headers, lines = _documents(database)
    references = [ref for ref, _ in headers]
    assert len(references) == count  # 1,000 documents ...
    assert len(set(references)) == count  # ... all distinct: zero duplicates
    assert len({number for _, number in headers}) == count
    assert lines == 2 * count
    acknowledged = sandbox_orders(sandbox, 101)
    numbers = dict(headers)
    assert all(o["ack_count"] == 1 for o in acknowledged.values())
    assert all(o["source_order_code"] == str(numbers[f"S2S-{k}"]) for k, o in acknowledged.items())
    # An order whose acknowledgement went through but whose answer was lost is "raised" in the ledger until a run
    # sees that Stock2Shop no longer lists it; by the end every order is settled.
    assert {e.status for e in store.entries("pg_shop")} == {"acknowledged"}
    assert sorted((e.order_id, e.document_number) for e in store.entries("pg_shop")) == sorted(
        (ref.removeprefix("S2S-"), str(number)) for ref, number in headers
    )
    _fresh_order_tables(database, unique=True)

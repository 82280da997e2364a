"""Orders raised through the SQL order sink into real databases over ODBC, read from the sandbox's order API.

For each SQL preset (Custom Database, and the Evolution and Pastel staging tables) and each database (SQLite,
PostgreSQL, MariaDB): the header and lines land with the right totals, Stock2Shop gets the document number once,
a bad order fails alone, and a re-run raises nothing twice.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import pyodbc
import pytest

from stock2shop_sync import pipeline
from stock2shop_sync.config import load_source
from stock2shop_sync.state import StateStore
from tests.conftest import MARIADB, PG, odbc_string
from tests.orders_helpers import add_orders, sandbox_orders, system_order, write_order_source

#: preset -> (header table, reference column, incl. total column, account column, lines query returning
#: (reference, sku, qty, unit price)), and whether that unit price includes tax.
READ_BACK = {
    "custom_database": (
        "sales_orders",
        "external_ref",
        "total_incl",
        "customer_account",
        "SELECT h.external_ref, l.item_code, l.qty, l.price FROM sales_order_lines l "
        "JOIN sales_orders h ON h.order_no = l.order_no ORDER BY h.external_ref, l.line_no",
        False,
    ),
    "sage_evolution": (
        "S2S_OrderImport",
        "ExtOrderNum",
        "OrdTotIncl",
        "Account",
        "SELECT ExtOrderNum, StockCode, Quantity, UnitPriceExcl FROM S2S_OrderImportLines ORDER BY ExtOrderNum, LineNo",
        False,
    ),
    "sage_pastel_partner": (
        "S2S_PastelOrderImport",
        "OrderNumber",
        "TotalInclusive",
        "CustomerCode",
        "SELECT OrderNumber, ItemCode, Qty, InclusivePrice FROM S2S_PastelOrderImportLines "
        "ORDER BY OrderNumber, LineNumber",
        True,
    ),
}
ORDER_TABLES = {
    "custom_database": ["sales_order_lines", "sales_orders"],
    "sage_evolution": ["S2S_OrderImportLines", "S2S_OrderImport"],
    "sage_pastel_partner": ["S2S_PastelOrderImportLines", "S2S_PastelOrderImport"],
}
HELD = ["HW-HAMMER-16", "HW-TAPE-5M", "HW-DRILL-18V", "SHIP"]


def connect(database: dict[str, Any]) -> pyodbc.Connection:
    if "path" in database:
        return pyodbc.connect(f"DRIVER={{SQLite3}};Database={database['path']}")
    server = PG if "PostgreSQL" in database["driver"] else MARIADB
    return pyodbc.connect(odbc_string(server, database["database"]))


def clear_orders(database: dict[str, Any], preset: str) -> None:
    with closing(connect(database)) as conn:
        for table in ORDER_TABLES[preset]:
            conn.execute(f"DELETE FROM {table}")
        conn.commit()


def read_back(database: dict[str, Any], preset: str) -> tuple[dict[str, tuple[float, str]], list[tuple[Any, ...]]]:
    header, ref, total, account, lines_sql, _ = READ_BACK[preset]
    with closing(connect(database)) as conn:
        headers = {
            str(r[0]).strip(): (float(r[1]), str(r[2]).strip())
            for r in conn.execute(f"SELECT {ref}, {total}, {account} FROM {header}").fetchall()
        }
        lines = [(str(r[0]).strip(), str(r[1]).strip(), float(r[2]), float(r[3])) for r in conn.execute(lines_sql)]
    return headers, lines


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.getfixturevalue(f"{request.param}_source")


@pytest.mark.parametrize("preset", sorted(READ_BACK))
def test_sql_sink_raises_orders_once_with_header_lines_and_totals(
    preset: str, database: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    clear_orders(database, preset)
    path = write_order_source(
        sources_dir, "shop", preset=preset, conn_id=database["conn_id"], driver=database["driver"], s2s_source_id=101
    )
    config = load_source(path)
    store = StateStore(state_store)
    store.record_synced("shop", HELD)
    add_orders(
        sandbox,
        [
            system_order(7001, 101, [("HW-HAMMER-16", 2, 349.95), ("hw-tape-5m ", 1, 119.00)], shipping=100.0),
            system_order(7002, 101, [("HW-DRILL-18V", 1, 1899.00)], customer_code=None, exempt=True),
            system_order(7003, 101, [("HW-HAMMER-16", 1, 349.95), ("NOT-OURS", 1, 10.0)]),
        ],
    )

    result = pipeline.push_orders(config, store=store)

    assert result["counts"] == {"pending": 3, "failed": 1, "raised": 2}
    [problem] = result["problems"]
    assert problem["order"] == "order 7003"
    assert "line 2: sku 'NOT-OURS' is not a product of source shop" in problem["error"]
    headers, lines = read_back(database, preset)
    assert set(headers) == {"S2S-7001", "S2S-7002"}
    # 2 x 349.95 + 119.00 + 100.00 shipping = 918.90 excl.; VAT 2 x 52.49 + 17.85 + 15.00 = 137.83 -> 1056.73
    assert headers["S2S-7001"] == (pytest.approx(1056.73), "ACC001")
    assert headers["S2S-7002"] == (pytest.approx(1899.00), "CASH")  # exempt, and the default account
    incl = READ_BACK[preset][5]
    assert lines == [
        ("S2S-7001", "HW-HAMMER-16", 2.0, pytest.approx(402.44 if incl else 349.95)),
        ("S2S-7001", "hw-tape-5m", 1.0, pytest.approx(136.85 if incl else 119.00)),
        ("S2S-7001", "SHIP", 1.0, pytest.approx(115.00 if incl else 100.00)),
        ("S2S-7002", "HW-DRILL-18V", 1.0, pytest.approx(1899.00)),
    ]
    # Stock2Shop was told each document number once; the failed order carries its reason and stays pending.
    orders = sandbox_orders(sandbox, 101)
    assert {k: (v["source_order_code"], v["ack_count"]) for k, v in orders.items()} == {
        "7001": (orders["7001"]["source_order_code"], 1),
        "7002": (orders["7002"]["source_order_code"], 1),
        "7003": (None, 0),
    }
    assert orders["7001"]["source_order_code"]
    assert orders["7002"]["source_order_code"]
    assert "NOT-OURS" in orders["7003"]["error"]
    ledger = {e.order_id: (e.status, e.attempts) for e in store.entries("shop")}
    assert ledger == {"7001": ("acknowledged", 1), "7002": ("acknowledged", 1), "7003": ("failed", 1)}

    again = pipeline.push_orders(config, store=store)  # only 7003 is still pending; it fails again

    assert again["counts"] == {"pending": 1, "failed": 1}
    assert read_back(database, preset) == (headers, lines)
    assert store.entry("shop", "7003").attempts == 2


def test_a_crash_after_the_erp_commit_is_acknowledged_not_raised_again(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    from stock2shop_sync.config import resolve_mapping
    from stock2shop_sync.connectors import get_order_sink

    path = write_order_source(
        sources_dir, "shop", preset="custom_database", conn_id="s2s_test_sqlite", driver="SQLite3", s2s_source_id=101
    )
    config = load_source(path)
    store = StateStore(state_store)
    store.record_synced("shop", HELD)
    add_orders(sandbox, [system_order(n, 101, [("HW-HAMMER-16", 1, 349.95)]) for n in (1, 2, 3)])
    sink = get_order_sink(config, resolve_mapping(config))
    real = sink.raise_order

    def crash_after_commit(order: Any, **kwargs: Any) -> tuple[str, bool]:
        document, created = real(order, **kwargs)
        if order.order_id == "2":
            raise ConnectionError("worker lost after the ERP committed order 2")
        return document, created

    sink.raise_order = crash_after_commit  # type: ignore[method-assign]
    first = pipeline.push_orders(config, store=store, sink=sink)
    assert first["counts"] == {"pending": 3, "failed": 1, "raised": 2}
    assert first["problems"][0]["transient"] is True
    assert store.entry("shop", "2").status == "failed"  # the ERP holds it; Stock2Shop does not know yet
    assert sorted(read_back(sqlite_source, "custom_database")[0]) == ["S2S-1", "S2S-2", "S2S-3"]

    second = pipeline.push_orders(config, store=store)

    assert second["counts"] == {"pending": 1, "found": 1}
    headers, _ = read_back(sqlite_source, "custom_database")
    assert sorted(headers) == ["S2S-1", "S2S-2", "S2S-3"]
    orders = sandbox_orders(sandbox, 101)
    assert [o["ack_count"] for o in orders.values()] == [1, 1, 1]
    with closing(connect(sqlite_source)) as conn:
        numbers = dict(conn.execute("SELECT external_ref, order_no FROM sales_orders").fetchall())
    assert orders["2"]["source_order_code"] == str(numbers["S2S-2"])


def test_an_order_failing_every_time_is_given_up_after_max_attempts(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    path = write_order_source(
        sources_dir,
        "shop",
        preset="custom_database",
        conn_id="s2s_test_sqlite",
        driver="SQLite3",
        s2s_source_id=101,
        orders={"max_attempts": 2, "default_customer_code": None},
    )
    config = load_source(path)
    store = StateStore(state_store)
    store.record_synced("shop", HELD)
    add_orders(sandbox, [system_order(9, 101, [("HW-HAMMER-16", 1, 349.95)], customer_code=None)])

    first = pipeline.push_orders(config, store=store)
    second = pipeline.push_orders(config, store=store)
    third = pipeline.push_orders(config, store=store)

    assert first["counts"] == {"pending": 1, "failed": 1}
    assert second["counts"] == {"pending": 1, "gave_up": 1}
    assert "no customer account" in second["problems"][0]["error"]
    assert third["counts"] == {"pending": 0}  # Stock2Shop was told it failed for good
    order = sandbox_orders(sandbox, 101)["9"]
    assert order["final_error"] == 1
    assert "orders.default_customer_code is not set" in order["error"]


def test_a_stored_procedure_sink_on_mariadb(
    mariadb_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    with closing(connect(mariadb_source)) as conn:
        conn.execute("DROP PROCEDURE IF EXISTS s2s_raise_line")
        conn.execute("DROP TABLE IF EXISTS web_order_import")
        conn.execute(
            "CREATE TABLE web_order_import (ref VARCHAR(100) NOT NULL, line_no INT NOT NULL, account VARCHAR(20), "
            "sku VARCHAR(40), qty DECIMAL(12, 3), price DECIMAL(12, 2), PRIMARY KEY (ref, line_no))"
        )
        conn.execute(
            "CREATE PROCEDURE s2s_raise_line(IN p_ref VARCHAR(100), IN p_line INT, IN p_account VARCHAR(20), "
            "IN p_sku VARCHAR(40), IN p_qty DECIMAL(12, 3), IN p_price DECIMAL(12, 2)) "
            "INSERT INTO web_order_import VALUES (p_ref, p_line, p_account, p_sku, p_qty, p_price)"
        )
        conn.commit()
    path = write_order_source(
        sources_dir,
        "proc_shop",
        preset="custom_database",
        conn_id=mariadb_source["conn_id"],
        driver=mariadb_source["driver"],
        s2s_source_id=101,
    )
    text = path.read_text() + (
        "mapping_overrides:\n"
        "  orders:\n"
        "    sql:\n"
        "      exists: SELECT MIN(ref) FROM web_order_import WHERE ref = :external_order_no\n"
        "      header: null\n"
        "      lines: null\n"
        "      procedure: '{CALL s2s_raise_line(:external_order_no, :line_no, :customer_code, :sku, :qty, :price)}'\n"
    )
    path.write_text(text)
    store = StateStore(state_store)
    store.record_synced("proc_shop", HELD)
    add_orders(sandbox, [system_order(61, 101, [("HW-HAMMER-16", 2, 349.95), ("HW-TAPE-5M", 1, 119.0)])])

    first = pipeline.push_orders(load_source(path), store=store)
    with closing(connect(mariadb_source)) as conn:
        rows = [tuple(r) for r in conn.execute("SELECT ref, line_no, account, sku, qty, price FROM web_order_import")]

    assert first["counts"] == {"pending": 1, "raised": 1}
    assert [(r[0], r[1], r[2], r[3], float(r[4]), float(r[5])) for r in rows] == [
        ("S2S-61", 1, "ACC001", "HW-HAMMER-16", 2.0, 349.95),
        ("S2S-61", 2, "ACC001", "HW-TAPE-5M", 1.0, 119.0),
    ]
    assert sandbox_orders(sandbox, 101)["61"]["source_order_code"] == "S2S-61"

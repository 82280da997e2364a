"""The extraction connection is read-only on the real servers: a write that got past the query check (here sent
straight to the connector, which the config would never let through) fails in the database, on both readers,
and leaves the data as it was. The order sink's read-write connection still writes."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import pyodbc
import pytest
import yaml

from stock2shop_sync.config import load_source
from stock2shop_sync.connectors.sql import SqlConnector

#: What each server says when a read-only session is asked to write.
REFUSALS = {
    "postgres": "read-only transaction",
    "mariadb": "READ ONLY transaction",
    "sqlite": "readonly database",
}
WRITES = [
    "INSERT INTO product_groups (group_code, option1_name) VALUES ('RO-TEST', 'Size')",
    "UPDATE products SET selling_price = 0",
    "DELETE FROM customers",
    "CREATE TABLE s2s_read_only_probe (a INT)",
]


def _connector(folder: Path, source: dict[str, Any]) -> SqlConnector:
    path = folder / "ro_shop.yaml"
    path.write_text(yaml.safe_dump({
        "source_id": "ro_shop", "type": "custom_database",
        "connection": {"conn_id": source["conn_id"], "driver": source["driver"]}, "stock2shop": {"source_id": 1},
    }))  # fmt: skip
    return SqlConnector(load_source(path), None)


def _counts(connector: SqlConnector) -> tuple[int, int, int, float]:
    row = connector.read_query(
        "SELECT (SELECT COUNT(*) FROM product_groups), (SELECT COUNT(*) FROM customers), "
        "(SELECT COUNT(*) FROM products), (SELECT SUM(selling_price) FROM products)"
    ).iloc[0]
    return int(row.iloc[0]), int(row.iloc[1]), int(row.iloc[2]), float(row.iloc[3])


@pytest.fixture(params=["postgres", "mariadb", "sqlite"])
def source(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    fixture = {"postgres": "postgres_source", "mariadb": "mariadb_source", "sqlite": "sqlite_source"}[request.param]
    return request.param, request.getfixturevalue(fixture)


@pytest.mark.parametrize("reader", ["arrow", "pyodbc"])
def test_a_write_through_the_extraction_connection_fails_in_the_database(
    source: tuple[str, dict[str, Any]], reader: str, sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, settings = source
    connector = _connector(sources_dir, settings)
    monkeypatch.setenv("S2S_ODBC_READER", "pyodbc")
    before = _counts(connector)
    assert before[2] > 0
    monkeypatch.setenv("S2S_ODBC_READER", reader)
    for statement in WRITES:
        with pytest.raises(Exception) as refused:  # noqa: PT011 - arrow_odbc.Error or pyodbc.Error
            connector.read_query(statement)
        assert REFUSALS[server] in str(refused.value), (statement, str(refused.value))
    # and through the hook's own connection, inside an explicit transaction
    with closing(connector.hook().get_conn()) as conn:
        conn.autocommit = False
        with pytest.raises(pyodbc.Error, match=REFUSALS[server]):
            conn.execute(WRITES[1])
        conn.rollback()
    monkeypatch.setenv("S2S_ODBC_READER", "pyodbc")
    assert _counts(connector) == before


def test_the_order_connection_is_not_made_read_only(
    postgres_source: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read-only switch belongs to the extraction only: the same login through a plain OdbcHook (what the
    order sink uses) writes."""
    from airflow.providers.odbc.hooks.odbc import OdbcHook

    hook = OdbcHook(odbc_conn_id=postgres_source["conn_id"], driver=postgres_source["driver"])
    with closing(hook.get_conn()) as conn:
        conn.autocommit = False
        conn.execute("UPDATE products SET selling_price = selling_price WHERE 1 = 0")
        conn.rollback()

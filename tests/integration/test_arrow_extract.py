"""SQL extraction through arrow-odbc gives exactly the canonical frames the OdbcHook/pyodbc path gives, on
SQLite, PostgreSQL and MariaDB, for every SQL preset; a value arrow-odbc cannot buffer falls back to OdbcHook."""

from __future__ import annotations

import logging
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd
import pyodbc
import pytest
import yaml

from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_connector
from tests.conftest import MARIADB, PG, ROOT, odbc_string

PRESETS = {"custom_database": "demo_custom_db", "sage_evolution": "demo_sage_evolution",
           "sage_pastel_partner": "demo_sage_pastel_partner"}  # fmt: skip


@pytest.fixture
def databases(
    sqlite_source: dict[str, Any], postgres_source: dict[str, Any], mariadb_source: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    return {"sqlite": sqlite_source, "postgres": postgres_source, "mariadb": mariadb_source}


def _config(folder: Path, preset: str, database: dict[str, Any]) -> Any:
    demo = yaml.safe_load((ROOT / "include" / "sources" / f"{PRESETS[preset]}.yaml").read_text())
    config = {
        key: value for key, value in demo.items() if key not in ("orders", "alerts")
    } | {
        "source_id": f"arrow_{preset}",
        "connection": {"conn_id": database["conn_id"], "driver": database["driver"]},
    }  # fmt: skip
    path = folder / f"arrow_{preset}.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_source(path)


def _extract(config: Any, entity: str, reader: str, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    monkeypatch.setenv("S2S_ODBC_READER", reader)
    return get_connector(config, resolve_mapping(config)).extract(entity)


@pytest.mark.parametrize("preset", PRESETS)
def test_arrow_and_pyodbc_give_the_same_canonical_frames(
    preset: str, databases: dict[str, dict[str, Any]], sources_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    for name, database in databases.items():
        config = _config(sources_dir, preset, database)
        for entity in config.entities:
            arrow = _extract(config, entity, "arrow", monkeypatch)
            plain = _extract(config, entity, "pyodbc", monkeypatch)
            assert len(arrow) > 0, (name, entity)
            pd.testing.assert_frame_equal(arrow, plain, check_dtype=True, obj=f"{preset} {entity} on {name}")
    assert "arrow-odbc could not read" not in caplog.text  # the fast path really ran


def _postgres_table(database: str, ddl: str) -> None:
    with closing(pyodbc.connect(odbc_string(PG, database), autocommit=True)) as conn:
        conn.execute(ddl)


def _reader(database: str, conn_id: str, monkeypatch: pytest.MonkeyPatch, sources_dir: Path, driver: str) -> Any:
    from stock2shop_sync.connectors.sql import SqlConnector

    config = {
        "source_id": "arrow_probe",
        "type": "custom_database",
        "connection": {"conn_id": conn_id, "driver": driver},
        "stock2shop": {"source_id": 1},
    }
    path = sources_dir / "arrow_probe.yaml"
    path.write_text(yaml.safe_dump(config))
    return SqlConnector(load_source(path), None)


def test_a_value_wider_than_the_arrow_buffer_falls_back_to_odbchook_with_a_warning(
    postgres_source: dict[str, Any], sources_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    database = postgres_source["database"]
    _postgres_table(database, "DROP TABLE IF EXISTS wide; CREATE TABLE wide (id int, body text)")
    _postgres_table(database, "INSERT INTO wide VALUES (1, repeat('x', 100000)), (2, 'short')")
    connector = _reader(database, postgres_source["conn_id"], monkeypatch, sources_dir, PG["driver"])
    caplog.set_level(logging.WARNING)

    frame = connector.read_query("SELECT id, body FROM wide ORDER BY id")

    assert [len(v) for v in frame["body"]] == [100000, 5]  # nothing cut
    assert "arrow_probe: arrow-odbc could not read this query" in caplog.text
    assert "reading it through OdbcHook instead" in caplog.text
    assert "UID=" not in caplog.text  # no connection string in the log
    assert "PWD=" not in caplog.text


def test_doubles_keep_their_precision_and_nullable_integers_stay_whole(
    postgres_source: dict[str, Any], sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stock2shop_sync.model.canonical import clean_column

    database = postgres_source["database"]
    _postgres_table(database, "DROP TABLE IF EXISTS nums; CREATE TABLE nums (f float8, r real, n int, d numeric(12,2))")
    _postgres_table(database, "INSERT INTO nums VALUES (1.1, 2.2, NULL, 45.50), (0.1, NULL, 3, -0.10)")
    connector = _reader(database, postgres_source["conn_id"], monkeypatch, sources_dir, PG["driver"])

    frame = connector.read_query("SELECT f, r, n, d FROM nums ORDER BY f DESC")

    text = {column: clean_column(frame[column]).tolist() for column in frame.columns}
    assert text == {
        "f": ["1.1", "0.1"],
        "r": ["2.2", pd.NA],
        "n": [pd.NA, "3"],
        "d": ["45.50", "-0.10"],
    }


def test_an_empty_result_keeps_the_query_columns(
    mariadb_source: dict[str, Any], sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = _reader(
        mariadb_source["database"], mariadb_source["conn_id"], monkeypatch, sources_dir, MARIADB["driver"]
    )
    frame = connector.read_query("SELECT item_code, selling_price FROM products WHERE 1 = 0")
    assert list(frame.columns) == ["item_code", "selling_price"]
    assert len(frame) == 0

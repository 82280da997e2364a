"""SQL extraction through arrow-odbc gives exactly the frames the OdbcHook/pyodbc path gives, on SQLite, PostgreSQL
and MariaDB: the canonical frames of every SQL preset, and the canonical text of the column types ERPs use
(DECIMAL of every scale, computed sums, timestamps with fractions, BIT, BLOB, duplicate column names).

``S2S_ODBC_READER`` picks the reader; the pyodbc path stays the fallback for a source with its own text encoding,
for ``limit`` reads and for queries arrow-odbc cannot run, and no password reaches the log on the way.
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import arrow_odbc
import pandas as pd
import polars as pl
import pyodbc
import pytest
import yaml

from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_connector
from stock2shop_sync.connectors.sql import SqlConnector
from stock2shop_sync.model.canonical import clean_column
from stock2shop_sync.redact import SourceAuthError
from tests.conftest import MARIADB, PG, ROOT, odbc_string

PRESETS = {"custom_database": "demo_custom_db", "sage_evolution": "demo_sage_evolution",
           "sage_pastel_partner": "demo_sage_pastel_partner"}  # fmt: skip
DATABASES = ("sqlite", "postgres", "mariadb")
SECRET = "Arr0w-S3cret-pw"


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    """One of the three seeded test databases (a failing server fails the test: nothing is skipped)."""
    return {"name": request.param, **request.getfixturevalue(f"{request.param}_source")}


def _execute(database: dict[str, Any], *statements: str) -> None:
    if database["name"] == "sqlite":
        connection_string = f"DRIVER={{SQLite3}};Database={database['path']}"
    else:
        connection_string = odbc_string(PG if database["name"] == "postgres" else MARIADB, database["database"])
    with closing(pyodbc.connect(connection_string, autocommit=True)) as conn:
        for statement in statements:
            conn.execute(statement)


def _write(folder: Path, config: dict[str, Any]) -> Any:
    path = folder / f"{config['source_id']}.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_source(path)


def _preset(folder: Path, preset: str, database: dict[str, Any]) -> Any:
    demo = yaml.safe_load((ROOT / "include" / "sources" / f"{PRESETS[preset]}.yaml").read_text())
    config = {key: value for key, value in demo.items() if key not in ("orders", "alerts")}
    config |= {
        "source_id": f"arrow_{preset}",
        "connection": {"conn_id": database["conn_id"], "driver": database["driver"]},
    }
    return _write(folder, config)


def _probe(folder: Path, conn_id: str, driver: str, **connection: Any) -> SqlConnector:
    config = {
        "source_id": "arrow_probe",
        "type": "custom_database",
        "connection": {"conn_id": conn_id, "driver": driver, **connection},
        "stock2shop": {"source_id": 1},
    }
    return SqlConnector(_write(folder, config), None)


def _both(monkeypatch: pytest.MonkeyPatch, read: Any) -> tuple[Any, Any]:
    """``read()`` with the arrow reader (which must not fall back) and with the pyodbc reader."""
    with monkeypatch.context() as patch:
        patch.setenv("S2S_ODBC_READER", "arrow")
        patch.setattr(SqlConnector, "_read_pyodbc", lambda *a, **k: pytest.fail("arrow-odbc fell back to OdbcHook"))
        arrow = read()
    monkeypatch.setenv("S2S_ODBC_READER", "pyodbc")
    return arrow, read()


@pytest.mark.parametrize("preset", PRESETS)
def test_arrow_and_pyodbc_give_the_same_canonical_frames(
    preset: str, database: dict[str, Any], sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _preset(sources_dir, preset, database)
    for entity in config.entities:
        arrow, plain = _both(
            monkeypatch, lambda entity=entity: get_connector(config, resolve_mapping(config)).extract(entity)
        )
        assert len(plain) > 0, entity
        pd.testing.assert_frame_equal(arrow, plain, check_exact=True, obj=f"{preset} {entity} on {database['name']}")


# Per database: the DDL of a table of the types ERP schemas use, its rows, and the columns read back (some of
# them computed, two of them under the same name).
TYPES = {
    "sqlite": (
        """CREATE TABLE arrow_types (id INTEGER, price DECIMAL(12,2), qty DECIMAL(12,3), plain NUMERIC, ratio REAL,
           weight DOUBLE, big BIGINT, flag BOOLEAN, title TEXT, code VARCHAR(20), changed TIMESTAMP, day DATE,
           at TIME, picture BLOB, anything)""",
        [
            "INSERT INTO arrow_types VALUES (1, 45.50, 1.25, 3.5, 1.1, 0.1, 9007199254740993, 1, 'Caf\u00e9 \u2013 t\u00e9',"
            " 'A-1', '2026-11-01 08:00:00', '2026-11-01', '08:00:00', X'4142', 'x')",
            "INSERT INTO arrow_types VALUES (2, '12.345', 0, 10, 1e20, 1e-7, -1, 0, '', ' B ',"
            " '2026-11-01 08:00:00.123', '9999-12-31', '23:59:59', X'', 2.5)",
            "INSERT INTO arrow_types (id) VALUES (3)",
        ],
        "SELECT a.*, a.price * 2 AS doubled, 'lit' AS lit, 1.5 AS fixed, a.id AS id FROM arrow_types a ORDER BY a.id",
    ),
    "postgres": (
        """CREATE TABLE arrow_types (id int, price numeric(12,2), qty numeric(12,3), plain numeric,
           fine numeric(38,10), ratio real, weight float8, big bigint, small smallint, flag boolean, title text,
           code varchar(20), padded char(5), changed timestamp, zoned timestamptz, day date, at time, picture bytea,
           ref uuid)""",
        [
            "INSERT INTO arrow_types VALUES (1, 45.50, 1.250, 45.5, 1234.5678901234, 1.1, 0.1, 9007199254740993, 7,"
            " true, 'Caf\u00e9 \u2013 t\u00e9', 'A-1', 'ab', '2026-11-01 08:00:00.123456', '2026-11-01 08:00:00+02',"
            " '2026-11-01', '08:00:01.5', '\\x4142', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')",
            "INSERT INTO arrow_types VALUES (2, -0.10, 0, 0.0000001, 0, 3.4e38, 1e300, -1, -7, false, '', ' B ', '',"
            " '9999-12-31 23:59:59', NULL, '9999-12-31', '23:59:59', '\\x', NULL)",
            "INSERT INTO arrow_types (id, plain) VALUES (3, 'NaN'), (4, 100)",
        ],
        """SELECT t.*, t.price * 2 AS doubled, t.plain * 3 AS tripled, sum(t.price) OVER () AS total,
           count(*) OVER () AS rows, 'lit' AS lit, 1.5 AS fixed, t.id AS id FROM arrow_types t ORDER BY t.id""",
    ),
    "mariadb": (
        """CREATE TABLE arrow_types (id int, price decimal(12,2), qty decimal(12,3), whole decimal(10,0),
           fine decimal(38,10), ratio float, weight double, big bigint, tiny tinyint, flag tinyint(1), bit1 bit(1),
           title text, body longtext, code varchar(20), padded char(5), changed datetime, precise datetime(6),
           stamped timestamp NULL, day date, at time, yr year, picture blob, raw varbinary(10), kind enum('a','b'))""",
        [
            "INSERT INTO arrow_types VALUES (1, 45.50, 1.25, 5, 1234.5678901234, 1.5, 0.1, 9007199254740993, -5, 1,"
            " b'1', 'Caf\u00e9 \u2013 t\u00e9', REPEAT('y', 3000), 'A-1', 'ab', '2026-11-01 08:00:00',"
            " '2026-11-01 08:00:00.123456', '2026-11-01 08:00:00', '2026-11-01', '08:00:00', 2026, X'4142', X'41', 'a')",
            "INSERT INTO arrow_types VALUES (2, -0.10, 0, 0, 0, NULL, 1e300, -1, 0, 0, b'0', '', '', ' B ', '',"
            " '9999-12-31 23:59:59', NULL, NULL, '1000-01-01', '23:59:59', NULL, X'', NULL, 'b')",
            "INSERT INTO arrow_types (id) VALUES (3)",
        ],
        """SELECT t.*, t.price * 2 AS doubled, sum(t.price) OVER () AS total, avg(t.id) OVER () AS mean,
           count(*) OVER () AS `rows`, 'lit' AS lit, 1.5 AS fixed, t.id AS id FROM arrow_types t ORDER BY t.id""",
    ),
}


def _text(frame: pd.DataFrame) -> list[list[Any]]:
    """Every column as the canonical text ``to_canonical`` makes of it (missing values as None)."""
    return [
        clean_column(frame.iloc[:, i]).astype(object).where(lambda s: s.notna(), None).tolist()
        for i in range(frame.shape[1])
    ]


def test_every_column_type_gives_the_canonical_text_pyodbc_gives(
    database: dict[str, Any], sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ddl, rows, query = TYPES[database["name"]]
    _execute(database, "DROP TABLE IF EXISTS arrow_types", ddl, *rows)
    connector = _probe(sources_dir, database["conn_id"], database["driver"])

    arrow, plain = _both(monkeypatch, lambda: connector.read_query(query))

    assert list(arrow.columns) == list(plain.columns)
    assert list(arrow.columns).count("id") == 2  # two columns of one name both survive
    assert len(plain) == len(rows) + (1 if database["name"] == "postgres" else 0)
    text = dict(zip(plain.columns, _text(plain), strict=False))
    for name, (got, want) in zip(plain.columns, zip(_text(arrow), _text(plain), strict=True), strict=True):
        assert got == want, f"{database['name']} column {name}: arrow {got} != pyodbc {want}"
    # The reference itself is what the downstream code expects of these values.
    # SQLite keeps DECIMAL(12,2) values as REAL (45.5) or as the text given; the servers write the scale.
    assert text["price"][:2] == (["45.5", "12.345"] if database["name"] == "sqlite" else ["45.50", "-0.10"])
    assert text["title"][0] == "Caf\u00e9 \u2013 t\u00e9"
    if database["name"] == "postgres":
        assert text["plain"] == ["45.5", "1E-7", None, "100"]  # NUMERIC reported as (28,6): not 45.500000
        assert text["total"][0] == "45.40"
    if database["name"] == "sqlite":
        assert text["changed"][1] == "2026-11-01 08:00:00.123000"  # a seconds-wide TIMESTAMP keeps its fraction
        assert text["picture"][0] == "AB"  # and a BLOB shorter than its reported width does not abort the process
    if database["name"] == "mariadb":
        assert text["bit1"][:2] == ["True", "False"]


def test_price_and_stock_rows_read_into_polars_give_the_pivot_what_the_pandas_path_gives(
    database: dict[str, Any], sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``read_table`` (a price-list or warehouse query's rows, only pivoted) skips pandas on the arrow path: its
    number columns come as floating point, and every column reads, as a key, a name or a number, as the pyodbc
    path's pandas frame does."""
    from stock2shop_sync.model import pivots

    ddl, rows, query = TYPES[database["name"]]
    _execute(database, "DROP TABLE IF EXISTS arrow_types", ddl, *rows)
    connector = _probe(sources_dir, database["conn_id"], database["driver"])

    table, plain = _both(monkeypatch, lambda: connector.read_table(query, numbers=["PRICE"]))

    assert isinstance(table, pl.DataFrame)
    assert isinstance(plain, pd.DataFrame)  # the pyodbc path's frame, pivoted as before
    assert table.height == len(plain)
    if database["name"] != "sqlite":  # SQLite's driver reports DECIMAL(12,2) as text or a double by row
        assert table.get_column("price").dtype == pl.Float64
    texts = ["big", "qty", "code", "title", *(("plain", "fine", "flag") if database["name"] == "postgres" else ())]
    for name in texts:
        got = pivots._polars_text(pivots.column(table, name, "test")).to_list()
        want = pivots._polars_text(pivots.column(plain, name, "test")).to_list()
        assert got == want, f"{database['name']} column {name} as text: {got} != {want}"
    for name in ("price", "qty", "big", "doubled"):
        got = pivots._numbers(pivots.column(table, name, "test")).to_list()
        want = pivots._numbers(pivots.column(plain, name, "test")).to_list()
        assert got == want, f"{database['name']} column {name} as a number: {got} != {want}"


def test_an_empty_result_keeps_the_query_columns(
    database: dict[str, Any], sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = _probe(sources_dir, database["conn_id"], database["driver"])
    query = "SELECT item_code, selling_price, updated_at FROM products WHERE 1 = 0"

    arrow, plain = _both(monkeypatch, lambda: connector.read_query(query))

    assert list(arrow.columns) == list(plain.columns) == ["item_code", "selling_price", "updated_at"]
    assert len(arrow) == len(plain) == 0
    assert all(clean_column(arrow[c]).dtype == "string" for c in arrow.columns)


@pytest.fixture
def arrow_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The queries arrow-odbc was asked to run (it still runs them)."""
    calls: list[str] = []
    real = arrow_odbc.read_arrow_batches_from_odbc

    def spy(**kwargs: Any) -> Any:
        calls.append(kwargs["query"])
        return real(**kwargs)

    monkeypatch.setattr(arrow_odbc, "read_arrow_batches_from_odbc", spy)
    return calls


def test_the_reader_is_chosen_by_s2s_odbc_reader_at_call_time(
    postgres_source: dict[str, Any], sources_dir: Path, monkeypatch: pytest.MonkeyPatch, arrow_calls: list[str]
) -> None:
    connector = _probe(sources_dir, postgres_source["conn_id"], PG["driver"])
    query = "SELECT item_code FROM products ORDER BY item_code"

    monkeypatch.delenv("S2S_ODBC_READER", raising=False)
    default = connector.read_query(query)
    assert arrow_calls == [query]  # arrow is the default
    monkeypatch.setenv("S2S_ODBC_READER", "pyodbc")
    forced = connector.read_query(query)
    assert arrow_calls == [query]  # not asked again
    assert clean_column(default["item_code"]).tolist() == clean_column(forced["item_code"]).tolist()
    assert len(forced) > 0

    monkeypatch.setenv("S2S_ODBC_READER", "arrow")
    connector.read_query(query, limit=2)  # a mapping check's few rows go through OdbcHook
    assert arrow_calls == [query]

    monkeypatch.setenv("S2S_ODBC_READER", "fast")
    with pytest.raises(ValueError, match="S2S_ODBC_READER='fast'"):
        connector.read_query(query)


def test_a_source_with_its_own_encoding_is_read_through_odbchook(
    sqlite_source: dict[str, Any], sources_dir: Path, monkeypatch: pytest.MonkeyPatch, arrow_calls: list[str]
) -> None:
    connector = _probe(sources_dir, sqlite_source["conn_id"], "SQLite3", encoding="utf-8")
    monkeypatch.setenv("S2S_ODBC_READER", "arrow")
    frame = connector.read_query("SELECT item_code FROM products")
    assert len(frame) > 0
    assert arrow_calls == []


@pytest.fixture
def postgres_with_password(postgres_source: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's PostgreSQL database behind a connection that carries a password (the server trusts local
    logins, so any password is accepted, and the password is in the connection string arrow-odbc gets)."""
    conn = {"conn_type": "odbc", "host": PG["host"], "port": PG["port"], "login": PG["login"], "password": SECRET}
    monkeypatch.setenv("AIRFLOW_CONN_S2S_TEST_PG_PW", json.dumps({**conn, "schema": postgres_source["database"]}))
    return "s2s_test_pg_pw"


def test_a_value_arrow_odbc_cannot_buffer_falls_back_to_odbchook_and_logs_no_secret(
    postgres_source: dict[str, Any],
    postgres_with_password: str,
    sources_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    database = {"name": "postgres", **postgres_source}
    _execute(database, "DROP TABLE IF EXISTS arrow_wide", "CREATE TABLE arrow_wide (id int, body text)")
    _execute(database, "INSERT INTO arrow_wide VALUES (1, repeat('x', 100000)), (2, 'short')")
    connector = _probe(sources_dir, postgres_with_password, PG["driver"])
    assert f"PWD={SECRET};" in connector.hook().odbc_connection_string  # arrow-odbc really gets the secret
    monkeypatch.setenv("S2S_ODBC_READER", "arrow")
    caplog.set_level(logging.DEBUG)

    frame = connector.read_query("SELECT id, body FROM arrow_wide ORDER BY id")

    assert [len(v) for v in frame["body"]] == [100000, 5]  # nothing cut
    warnings = [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "arrow-odbc" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert warnings[0].startswith("source arrow_probe: arrow-odbc could not read this query (")
    assert warnings[0].endswith("reading it through OdbcHook instead")
    assert "too large" in warnings[0]  # the driver's reason, on one line
    output = caplog.text + "".join(capfd.readouterr())
    assert SECRET not in output
    assert "PWD=" not in output


def test_a_connection_arrow_odbc_cannot_open_is_logged_without_its_password(
    mariadb_source: dict[str, Any],
    sources_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    conn = {"conn_type": "odbc", "host": MARIADB["host"], "port": MARIADB["port"], "login": "s2s_no_such_user"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_S2S_TEST_MARIADB_PW",
        json.dumps({**conn, "password": SECRET, "schema": mariadb_source["database"]}),
    )
    connector = _probe(sources_dir, "s2s_test_mariadb_pw", MARIADB["driver"])
    monkeypatch.setenv("S2S_ODBC_READER", "arrow")
    caplog.set_level(logging.DEBUG)

    # A refused login is not something the OdbcHook fallback could read past: it fails at once, naming the source.
    with pytest.raises(SourceAuthError, match="source arrow_probe: authentication failed") as refused:
        connector.read_query("SELECT item_code FROM products")

    assert "Access denied for user 's2s_no_such_user'" in str(refused.value)
    assert not [r for r in caplog.records if "arrow-odbc could not read" in r.getMessage()]
    output = caplog.text + "".join(capfd.readouterr()) + str(refused.value)
    assert SECRET not in output
    assert "PWD=" not in output


def test_postgresql_is_read_through_a_cursor_in_chunks_and_every_row_arrives_in_order(
    postgres_source: dict[str, Any], sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stock2shop_sync.connectors import read_only

    monkeypatch.setattr(read_only, "POSTGRES_FETCH_ROWS", 700)
    connector = _probe(sources_dir, postgres_source["conn_id"], PG["driver"])
    conn_str = connector.hook().odbc_connection_string
    assert conn_str.endswith("UseDeclareFetch=1;Fetch=700;")
    query = "SELECT n, 'row ' || n AS label FROM generate_series(1, 2500) AS n ORDER BY n"
    for reader in ("arrow", "pyodbc"):
        monkeypatch.setenv("S2S_ODBC_READER", reader)
        frame = connector.read_query(query)
        assert frame["n"].astype(int).tolist() == list(range(1, 2501)), reader
        assert frame["label"].iloc[-1] == "row 2500"
    # the cursor's chunks are read inside the session's read-only transaction all the same
    with closing(pyodbc.connect(conn_str)) as conn, pytest.raises(pyodbc.Error, match="read-only"):
        conn.execute("CREATE TABLE arrow_chunk_probe (n int)")


def test_the_price_and_stock_queries_read_beside_the_main_query_give_the_same_rows(
    database: dict[str, Any], sources_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _preset(sources_dir, "sage_evolution", database)
    mapping = resolve_mapping(config)
    section = mapping.entity("products")
    assert section.price_lists is not None
    assert section.warehouses is not None

    def extract() -> pd.DataFrame:
        return get_connector(config, mapping).extract("products").sort_values("sku").reset_index(drop=True)

    threads: list[str] = []
    real = SqlConnector._read  # read_query (the main query) and read_table (prices, stock) both read through it

    def spy(self: SqlConnector, query: str, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(self, query, **kwargs)

    monkeypatch.setattr(SqlConnector, "_read", spy)
    together = extract()
    assert len(threads) == 3
    assert sum(name.startswith(f"{config.source_id}-read") for name in threads) == 2
    monkeypatch.setattr(SqlConnector, "concurrent_reads", False)
    threads.clear()
    one_by_one = extract()
    assert threads == [threading.current_thread().name] * 3
    pd.testing.assert_frame_equal(together, one_by_one)
    assert len(together) > 0
    assert any(c.startswith("price_") for c in together.columns)

"""What an extract says in its log, over the real SQLite ODBC driver: which read it was (the window's changes, or
everything and why), no noise from the ODBC provider about drivers, and how far a query's rows have come."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stock2shop_sync import pipeline
from stock2shop_sync.config import SourceConfig, load_source
from stock2shop_sync.connectors import sql
from stock2shop_sync.read_log import ReadLog
from tests.conftest import set_connection, write_source

SINCE = datetime(2026, 11, 19, 21, 55, tzinfo=UTC)
UNTIL = datetime(2026, 11, 19, 23, 0, tzinfo=UTC)
#: What the ODBC provider's OdbcHook.driver logs on every read when the driver does not come from a connection's extra.
PROVIDER_WARNING = "supplied 'driver' via connection extra"
WINDOWED = """SELECT p.item_code, COALESCE(p.group_code, p.item_code) AS group_code, p.description, p.selling_price,
       p.qty_on_hand, p.s2s_active, p.inventory_managed
FROM products p {{#since}} WHERE p.updated_at >= {{since}} {{/since}}
ORDER BY p.id"""
FIELDS = {
    "source_product_code": "group_code", "source_variant_code": "item_code", "sku": "item_code", "title": "description",
    "price": "selling_price", "qty": "qty_on_hand", "product_active": "s2s_active",
    "inventory_management": "inventory_managed",
    # the preset's other fields, which this query does not read: unmapped
    **dict.fromkeys(["collection", "vendor", "barcode", "grams", "option1_name", "option2_name", "option3_name",
                     "option1_value", "option2_value", "option3_value"]),
}  # fmt: skip


def _source(folder: Path, sqlite_source: dict[str, Any], source_id: str, *, windowed: bool = False) -> SourceConfig:
    """The demo database as a custom_database source: the preset's query (no ``{{since}}``), or one that says it."""
    overrides = {"products": {"query": WINDOWED, "fields": FIELDS}} if windowed else {}
    path = write_source(folder, source_id, conn_id=sqlite_source["conn_id"], driver="SQLite3", s2s_source_id=101,
                        entities=["products"], mapping_overrides=overrides)  # fmt: skip
    return load_source(path)


def _logged(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    """Everything logged: through the logging module, and what Airflow's structlog printed."""
    return caplog.text + capsys.readouterr().out


@pytest.mark.parametrize("reader", ["arrow", "pyodbc"])
def test_a_query_without_since_reads_everything_and_says_why(
    sources_dir: Path,
    sqlite_source: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    reader: str,
) -> None:
    monkeypatch.setenv("S2S_ODBC_READER", reader)
    config = _source(sources_dir, sqlite_source, f"whole_{reader}")
    caplog.set_level(logging.DEBUG)
    extracted = pipeline.extract(config, "products", "r1", since=SINCE, until=UNTIL)
    logged = _logged(caplog, capsys)
    assert (extracted["since"], extracted["until"], extracted["complete"]) == (None, None, True)
    assert extracted["requested_window"] == [SINCE.isoformat(), UNTIL.isoformat()]
    assert f"extracted {extracted['rows']} products rows, read everything (the query has no {{{{since}}}})" in logged
    assert "changed since" not in logged
    assert "window's end" not in logged  # nothing was windowed, so no end to apply either
    assert PROVIDER_WARNING not in logged


def test_a_windowed_read_says_what_it_read(
    sources_dir: Path,
    sqlite_source: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _source(sources_dir, sqlite_source, "windowed", windowed=True)
    caplog.set_level(logging.INFO)
    extracted = pipeline.extract(config, "products", "r1", since=SINCE, until=UNTIL)
    logged = _logged(caplog, capsys)
    # The query filters on {{since}}; nothing applies the window's end, so the read is of the changes up to now.
    assert (extracted["since"], extracted["until"], extracted["complete"]) == (SINCE.isoformat(), None, False)
    assert (
        f"extracted {extracted['rows']} products rows, changed since {SINCE.isoformat()} up to now (the window ends "
        f"{UNTIL.isoformat()}, which needs options.modified_field)" in logged
    )
    assert PROVIDER_WARNING not in logged

    # A day after the last complete read, the same window reads everything, and says why.
    ReadLog().record("windowed", "products", read_started=(SINCE - timedelta(days=2)).isoformat(), complete=True)
    caplog.clear()
    extracted = pipeline.extract(config, "products", "r2", since=SINCE, until=UNTIL)
    logged = _logged(caplog, capsys)
    assert (extracted["since"], extracted["until"], extracted["complete"]) == (None, None, True)
    assert re.search(
        rf"extracted {extracted['rows']} products rows, read everything \(full read due: it was last read completely "
        r"at .*incremental\.full_read_hours\)",
        logged,
    ), logged

    caplog.clear()
    extracted = pipeline.extract(config, "products", "r3")
    assert "read everything (the run asked for no window)" in _logged(caplog, capsys)
    assert extracted["requested_window"] == [None, None]


def test_a_driver_named_only_in_the_connections_extra(
    sources_dir: Path,
    sqlite_source: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No connection.driver in the config: the provider's rule decides (the extra's driver only where Airflow allows
    it), without its warning on every read."""
    from stock2shop_sync.connectors import read_only

    path = write_source(sources_dir, "extra_driver", conn_id="extra_db", driver="SQLite3", s2s_source_id=101,
                        entities=["products"])  # fmt: skip
    path.write_text(path.read_text().replace("driver: SQLite3", "driver: null"))
    extra = {"conn_type": "odbc", "schema": str(sqlite_source["path"]), "extra": {"driver": "SQLite3"}}
    set_connection(monkeypatch, "extra_db", extra)
    config = load_source(path)
    assert config.connection.driver is None
    caplog.set_level(logging.DEBUG)

    monkeypatch.setenv("AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA", "True")
    extracted = pipeline.extract(config, "products", "r1")
    assert extracted["rows"] > 0
    logged = _logged(caplog, capsys)
    assert PROVIDER_WARNING not in logged
    assert "names ODBC driver" not in logged

    monkeypatch.setenv("AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA", "False")
    read_only._unused_extra_driver.cache_clear()
    hook = read_only.read_only_hook("extra_db", None)
    assert (hook.driver, hook.driver) == (None, None)
    logged = _logged(caplog, capsys)
    assert PROVIDER_WARNING not in logged
    assert logged.count("connection 'extra_db' names ODBC driver 'SQLite3' in its extra, which Airflow does not") == 1


@pytest.mark.parametrize("reader", ["arrow", "pyodbc"])
def test_a_long_read_says_how_many_rows_it_has_read(
    sources_dir: Path,
    sqlite_source: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    reader: str,
) -> None:
    monkeypatch.setenv("S2S_ODBC_READER", reader)
    monkeypatch.setattr(sql, "PROGRESS_SECONDS", 0.0)  # every batch, as a read past the interval would
    config = _source(sources_dir, sqlite_source, f"progress_{reader}")
    caplog.set_level(logging.INFO, logger="stock2shop_sync.connectors.sql")
    extracted = pipeline.extract(config, "products", "r1")
    lines = [r.getMessage() for r in caplog.records if "rows so far" in r.getMessage()]
    assert lines, caplog.text
    assert re.fullmatch(rf"source progress_{reader}: read \d+ rows so far \(FROM products, \d+ s\)", lines[-1])
    assert f"read {extracted['rows']} rows so far" in lines[-1]

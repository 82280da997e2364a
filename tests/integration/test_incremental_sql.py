"""SQL sources whose queries say ``{{since}}`` read only what changed, over the real ODBC drivers.

A full read, then a windowed read of one changed row (only it is read, only it is sent, nothing deleted); a
windowed run becomes a complete read when ``incremental.full_read_hours`` has passed (and then deletions are
sent); ``connection.timezone`` puts the window's start in the database's local time; a linked CSV that changed
since the last successful run makes the merge read the primary in full.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyodbc
import pytest
import requests
import yaml

from stock2shop_sync import pipeline
from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors.sql import since_literal
from stock2shop_sync.hooks.stock2shop import Stock2ShopHook
from stock2shop_sync.read_log import ReadLog
from tests.conftest import MARIADB, PG, odbc_string, seed_all, write_source

BASE = "2026-11-01 00:00:00"
CHANGED_AT = "2026-11-20 10:00:00"


SECTION = "{{#since}} WHERE p.updated_at >= {{since}} {{/since}}"
BARE = "WHERE p.updated_at >= {{since}}"


def _query(condition: str = SECTION) -> str:
    """The Custom Database preset's products query with a change filter."""
    preset = yaml.safe_load((Path(__file__).parents[2] / "include" / "mappings" / "custom_database.yaml").read_text())
    query = preset["products"]["query"]
    assert "ORDER BY p.id" in query
    return query.replace("ORDER BY p.id", f"{condition}\nORDER BY p.id")


def _connect(kind: str, source: dict[str, Any]) -> pyodbc.Connection:
    if kind == "sqlite":
        return pyodbc.connect(f"DRIVER={{SQLite3}};Database={source['path']}")
    server = PG if kind == "postgres" else MARIADB
    return pyodbc.connect(odbc_string(server, source["database"]))


def _execute(kind: str, source: dict[str, Any], *statements: str) -> None:
    conn = _connect(kind, source)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _config(
    folder: Path, source: dict[str, Any], source_id: str = "shop_incremental", condition: str = SECTION, **extra: Any
) -> Any:
    """A custom-database source reading only changed rows. Staging and its ``_state`` folder are shared by the
    test session, so every test uses its own ``source_id``."""
    path = write_source(
        folder,
        source_id,
        conn_id=source["conn_id"],
        driver=source["driver"],
        s2s_source_id=101,
        entities=["products"],
        mapping_overrides={"products": {"query": _query(condition)}},
        **extra,
    )
    return load_source(path)


def _run(config: Any, run_id: str, since: datetime | None, linked: list[Any] | None = None) -> dict[str, Any]:
    extracted = pipeline.extract(config, "products", run_id, since=since)
    merged = extracted
    if linked is not None:
        linked_steps = [(c, pipeline.extract(c, "products", run_id)) for c in linked]
        merged = pipeline.merge(config, extracted, linked_steps, run_id)
    validated = pipeline.validate(config, "products", merged, run_id)
    hook = Stock2ShopHook(config.stock2shop.conn_id)
    try:
        uploaded = pipeline.upload(config, "products", validated, hook)
    finally:
        hook.close()
    return {"extracted": extracted, "merged": merged, "validated": validated, "uploaded": uploaded}


def _held(sandbox: str) -> dict[str, dict[str, Any]]:
    rows = requests.get(f"{sandbox}/sandbox/products", params={"source_id": 101}, timeout=10).json()
    return {row["source_variant_code"]: row for row in rows}


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mariadb"])
def test_a_windowed_run_reads_and_sends_only_the_changed_row(
    kind: str, request: pytest.FixtureRequest, sandbox: str, sources_dir: Path
) -> None:
    source = request.getfixturevalue(f"{kind}_source")
    # PostgreSQL's and MariaDB's demo databases are shared by the session: put the demo rows back afterwards.
    request.addfinalizer(lambda: seed_all(_connect(kind, source)))
    _execute(kind, source, f"UPDATE products SET updated_at = '{BASE}'")
    config = _config(sources_dir, source, f"inc_{kind}")

    full = _run(config, "run_full", since=None)
    assert full["extracted"]["complete"] is True
    assert full["extracted"]["rows"] == 40
    sent = full["uploaded"]["uploaded"]
    assert sent == 33  # 40 rows: 5 quarantined, 2 ignored (2.5 on hand is floored and sent)
    assert ReadLog().load(f"inc_{kind}", "products")["last_full_read"] == full["extracted"]["read_started"]

    _execute(
        kind,
        source,
        f"UPDATE products SET selling_price = 123.45, updated_at = '{CHANGED_AT}' WHERE item_code = 'TEE-BLA-M'",
        # Gone from the source, but a windowed read cannot know: it must not be deleted by this run.
        "DELETE FROM products WHERE item_code = 'TEE-BLA-S'",
    )
    window = _run(config, "run_window", since=datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    assert window["extracted"]["complete"] is False
    assert window["extracted"]["rows"] == 1
    assert window["uploaded"]["uploaded"] == 1
    assert (window["uploaded"]["changed"], window["uploaded"]["gone"]) == (1, 0)
    held = _held(sandbox)
    assert held["TEE-BLA-M"]["payload"]["product"]["variants"]["price"] == 123.45
    assert held["TEE-BLA-M"]["times_received"] == 2
    assert held["TEE-BLA-S"]["payload"]["source"]["product_active"] == "true"

    # A day later (full_read_hours 0: at once) the windowed run reads everything and sends the deletion.
    due = _config(sources_dir, source, f"inc_{kind}", incremental={"full_read_hours": 0})
    periodic = _run(due, "run_periodic", since=datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    assert periodic["extracted"]["complete"] is True
    assert periodic["extracted"]["rows"] == 39
    assert (periodic["uploaded"]["uploaded"], periodic["uploaded"]["gone"]) == (1, 1)
    assert _held(sandbox)["TEE-BLA-S"]["payload"]["source"]["product_active"] == "false"


def test_the_window_start_is_in_the_databases_time_zone(
    sandbox: str, sources_dir: Path, sqlite_source: dict[str, Any]
) -> None:
    assert since_literal(None) == "{ts '1753-01-01 00:00:00'}"
    moment = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    assert since_literal(moment, "Africa/Johannesburg") == "{ts '2026-11-20 10:30:00'}"
    # The ERP wrote 10:00 local time (08:00 UTC).
    _execute("sqlite", sqlite_source, f"UPDATE products SET updated_at = '{BASE}'")
    _execute("sqlite", sqlite_source, f"UPDATE products SET updated_at = '{CHANGED_AT}' WHERE item_code = 'TEE-BLA-M'")
    config = _config(
        sources_dir,
        sqlite_source,
        "inc_tz",
        BARE,
        connection={"conn_id": sqlite_source["conn_id"], "driver": "SQLite3", "timezone": "Africa/Johannesburg"},
    )
    before = pipeline.extract(config, "products", "tz_1", since=datetime(2026, 11, 20, 7, 59, tzinfo=UTC))
    after = pipeline.extract(config, "products", "tz_2", since=datetime(2026, 11, 20, 8, 1, tzinfo=UTC))
    assert (before["rows"], after["rows"]) == (1, 0)


def test_a_complete_read_leaves_the_since_section_out(sources_dir: Path, sqlite_source: dict[str, Any]) -> None:
    """With ``{{#since}}...{{/since}}`` a complete read runs the plain statement: rows whose timestamp is NULL
    are read too (a bare ``{{since}}`` compares with the earliest timestamp, which NULL never passes)."""
    _execute("sqlite", sqlite_source, f"UPDATE products SET updated_at = '{BASE}'")
    _execute("sqlite", sqlite_source, "UPDATE products SET updated_at = NULL WHERE item_code = 'TEE-BLA-M'")
    section = pipeline.extract(_config(sources_dir, sqlite_source, "inc_null_a"), "products", "n1")
    bare = pipeline.extract(_config(sources_dir, sqlite_source, "inc_null_b", BARE), "products", "n2")
    assert (section["rows"], bare["rows"]) == (40, 39)
    assert section["complete"]
    assert bare["complete"]


def test_an_unknown_time_zone_is_a_config_error(sources_dir: Path, sqlite_source: dict[str, Any]) -> None:
    from stock2shop_sync.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        _config(
            sources_dir,
            sqlite_source,
            "inc_bad_tz",
            connection={"conn_id": "x", "driver": "SQLite3", "timezone": "Mars/Base"},
        )
    assert caught.value.key == "connection.timezone"
    assert "'Mars/Base' is not a time zone name" in caught.value.problem


def test_check_mapping_and_queries_fill_since_with_the_earliest_time(
    sources_dir: Path, sqlite_source: dict[str, Any]
) -> None:
    config = _config(sources_dir, sqlite_source, "inc_check")
    query = resolve_mapping(config).entity("products").query or ""
    assert "{{since}}" in query  # kept for the connector: it is filled per run, not by settings
    from stock2shop_sync.connectors import get_connector

    connector = get_connector(config, resolve_mapping(config))
    assert connector.can_filter("products")
    assert len(connector.read_query(query, limit=5)) == 5  # the mapping check's path (pyodbc)


def test_a_changed_linked_file_makes_the_merge_read_the_primary_in_full(
    sandbox: str, sources_dir: Path, sqlite_source: dict[str, Any], tmp_path: Path
) -> None:
    _execute("sqlite", sqlite_source, f"UPDATE products SET updated_at = '{BASE}'")
    content = tmp_path / "content.csv"
    content.write_text("source_product_code,title\nTEE-CLASSIC,Classic Tee\nNOT-IN-ERP,Ghost\n")
    (sources_dir / "content.yaml").write_text(
        yaml.safe_dump(
            {
                "source_id": "content",
                "type": "flat_file",
                "file": {"path": str(content)},
                "link": {"primary": "inc_linked", "owns": ["title"]},
            }
        )
    )
    config = _config(sources_dir, sqlite_source, "inc_linked")
    linked = [load_source(sources_dir / "content.yaml")]
    window = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    full = _run(config, "l_full", since=None, linked=linked)
    assert full["merged"]["linked"]["content"]["unmatched_codes"] == ["NOT-IN-ERP"]
    assert {r["payload"]["product"]["title"] for c, r in _held(sandbox).items() if c.startswith("TEE-")} == {
        "Classic Tee"
    }

    # Nothing changed anywhere: the window has no rows, and the linked rows are not reported as unmatched.
    quiet = _run(config, "l_quiet", since=window, linked=linked)
    assert (quiet["merged"]["rows"], quiet["merged"]["complete"], quiet["uploaded"]["uploaded"]) == (0, False, 0)
    assert quiet["merged"]["linked"]["content"]["unmatched_codes"] == []

    # The content file changed, the database did not: the merge reads the primary in full and every variant of
    # the product gets the new title.
    content.write_text("source_product_code,title\nTEE-CLASSIC,Classic Tee (organic)\nNOT-IN-ERP,Ghost\n")
    changed = _run(config, "l_changed", since=window, linked=linked)
    assert changed["merged"]["complete"] is True
    assert changed["merged"]["rows"] == 40
    tees = {c: r for c, r in _held(sandbox).items() if r["payload"]["source"]["source_product_code"] == "TEE-CLASSIC"}
    assert tees
    assert {r["payload"]["product"]["title"] for r in tees.values()} == {"Classic Tee (organic)"}
    assert changed["uploaded"]["uploaded"] == len(tees)


def test_an_unchanged_file_is_not_parsed_again(
    sources_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A linked content file is read on every run: when its bytes, config and mapping are as last time, the
    canonical rows kept from that read are used, and the content hash the merge compares stays the same."""
    from stock2shop_sync.connectors import flat_file

    content = tmp_path / "content.csv"
    content.write_text("sku,title,price,qty\nA-1,Alpha,10,1\nB-2,Beta,20,2\n")
    path = sources_dir / "file_cache.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "source_id": "file_cache",
                "type": "flat_file",
                "file": {"path": str(content)},
                "stock2shop": {"source_id": 101},
            }
        )
    )
    config = load_source(path)
    first = pipeline.extract(config, "products", "c1")

    def no_parse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the unchanged file was parsed again")

    monkeypatch.setattr(flat_file, "parse", no_parse)
    again = pipeline.extract(config, "products", "c2")
    assert again["rows"] == first["rows"] == 2
    assert again["complete"] is True
    from stock2shop_sync import staging

    assert staging.read_frame(again["path"]).equals(staging.read_frame(first["path"]))

    monkeypatch.undo()
    content.write_text("sku,title,price,qty\nA-1,Alpha,10,1\nB-2,Beta,20,2\nC-3,Gamma,30,3\n")
    changed = pipeline.extract(config, "products", "c3")
    assert changed["rows"] == 3

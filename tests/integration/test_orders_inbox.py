"""The order-file inbox (a local folder as Stock2Shop's FTP/SFTP drop), and orders refused for sources that never
take them."""

from __future__ import annotations

import json
import os
import time
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyodbc
import pytest
import yaml

from stock2shop_sync import inbox, pipeline
from stock2shop_sync.config import ConfigError, load_source
from stock2shop_sync.model.orders import OrderError
from stock2shop_sync.state import StateStore
from tests.integration.test_orders_sql import HELD, read_back
from tests.orders_helpers import system_order, write_order_source


def test_order_files_are_raised_and_moved_with_a_result_file(
    sqlite_source: dict[str, Any], sources_dir: Path, tmp_path: Path, state_store: str
) -> None:
    drop = tmp_path / "order-drop"
    drop.mkdir()
    (drop / "1001.json").write_text(json.dumps(system_order(1001, 101, [("HW-HAMMER-16", 3, 349.95)])))
    # Stock2Shop's order template may wrap the order: {"system_order": {...}}.
    wrapped = {"system_order": system_order(1002, 101, [("HW-TAPE-5M", 1, 119.0)], shipping=60.0)}
    (drop / "1002.json").write_text(json.dumps(wrapped))
    (drop / "1003.json").write_text('{"id": 1003, "line_items": [')  # cut off mid-upload
    (drop / "1004.json").write_text(json.dumps(system_order(1004, 101, [("NOT-OURS", 1, 10.0)])))
    (drop / "notes.txt").write_text("not an order")
    for dropped in drop.iterdir():  # dropped an hour ago: settled, and 1003 is past its grace to be completed
        os.utime(dropped, (time.time() - 3600, time.time() - 3600))
    path = write_order_source(
        sources_dir,
        "shop",
        preset="custom_database",
        conn_id="s2s_test_sqlite",
        driver="SQLite3",
        s2s_source_id=101,
        orders={"inbox": {"kind": "files", "path": str(drop)}, "max_attempts": 2},
    )
    store = StateStore(state_store)
    store.record_synced("shop", HELD)
    config = load_source(path)

    first = pipeline.push_orders(config, store=store)
    second = pipeline.push_orders(config, store=store)

    assert first["counts"] == {"pending": 4, "failed": 1, "raised": 2, "refused": 1}
    assert second["counts"] == {"pending": 1, "gave_up": 1}
    assert sorted(p.name for p in drop.iterdir() if p.is_file()) == ["notes.txt"]
    assert sorted(p.name for p in (drop / "processed").iterdir()) == [
        "1001.json",
        "1001.json.result.json",
        "1002.json",
        "1002.json.result.json",
    ]
    assert sorted(p.name for p in (drop / "failed").iterdir()) == [
        "1003.json",
        "1003.json.result.json",
        "1004.json",
        "1004.json.result.json",
    ]
    headers, lines = read_back(sqlite_source, "custom_database")
    result = json.loads((drop / "processed" / "1001.json.result.json").read_text())
    assert result["status"] == "raised"
    assert result["order_id"] == "1001"
    assert set(headers) == {"S2S-1001", "S2S-1002"}
    assert [line[1:3] for line in lines] == [("HW-HAMMER-16", 3.0), ("HW-TAPE-5M", 1.0), ("SHIP", 1.0)]
    with closing(pyodbc.connect(f"DRIVER={{SQLite3}};Database={sqlite_source['path']}")) as conn:
        number = conn.execute("SELECT order_no FROM sales_orders WHERE external_ref = 'S2S-1001'").fetchone()[0]
    assert result["source_order_code"] == str(number)
    failed = json.loads((drop / "failed" / "1003.json.result.json").read_text())
    assert "1003.json is not a JSON order" in failed["error"]
    unknown = json.loads((drop / "failed" / "1004.json.result.json").read_text())
    assert "sku 'NOT-OURS' is not a product of source shop" in unknown["error"]


def test_an_order_file_is_read_only_once_its_upload_is_complete(
    sqlite_source: dict[str, Any],
    sources_dir: Path,
    tmp_path: Path,
    state_store: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Temporary names are ignored; a file cut off mid-upload stays in the inbox (not failed/) and is read whole by
    the next run; a file that changes while the run watches it is left for the next run."""
    drop = tmp_path / "order-drop"
    drop.mkdir()
    whole = json.dumps(system_order(1101, 101, [("HW-HAMMER-16", 1, 349.95)]))
    (drop / "1101.json").write_text(whole[: len(whole) // 2])  # the upload has got half-way
    for temporary in ("1102.json.part", "1103.json.filepart", ".1104.json", "~1105.json", "1106.tmp.json"):
        (drop / temporary).write_text(json.dumps(system_order(1102, 101, [("HW-TAPE-5M", 1, 119.0)])))
    path = write_order_source(
        sources_dir,
        "shop",
        preset="custom_database",
        conn_id="s2s_test_sqlite",
        driver="SQLite3",
        s2s_source_id=101,
        orders={"inbox": {"kind": "files", "path": str(drop), "settle_seconds": 1}},
    )
    store = StateStore(state_store)
    store.record_synced("shop", HELD)
    config = load_source(path)
    assert (config.orders.inbox.settle_seconds, config.orders.inbox.parse_grace_seconds) == (1, 900)

    first = pipeline.push_orders(config, store=store)
    assert first["counts"] == {"pending": 0}  # the cut file does not parse yet, but it is young: it waits
    assert not (drop / "failed").exists()

    # The upload goes on while the run watches the file (the rest arrives during the wait): it is left alone.
    (drop / "1101.json").write_text(whole[: len(whole) - 10])

    def upload_the_rest(seconds: float) -> None:
        (drop / "1101.json").write_text(whole)
        time.sleep(seconds)

    with monkeypatch.context() as patch:
        patch.setattr(inbox, "time", SimpleNamespace(time=time.time, sleep=upload_the_rest))
        second = pipeline.push_orders(config, store=store)
    assert second["counts"] == {"pending": 0}

    third = pipeline.push_orders(config, store=store)  # complete and unchanged for settle_seconds
    assert third["counts"] == {"pending": 1, "raised": 1}
    assert sorted(p.name for p in (drop / "processed").iterdir()) == ["1101.json", "1101.json.result.json"]
    assert sorted(p.name for p in drop.iterdir() if p.is_file()) == [
        ".1104.json",
        "1102.json.part",
        "1103.json.filepart",
        "1106.tmp.json",
        "~1105.json",
    ]


def _write(folder: Path, name: str, config: dict[str, Any]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"type": "flat_file", "file": {"path": "x.csv"}, "stock2shop": {"source_id": 5}},
            "flat_file sources never take sales orders",
        ),
        (
            {"type": "google_sheets", "sheet": {"csv_url": "http://127.0.0.1:1/x.csv"}, "stock2shop": {"source_id": 5}},
            "google_sheets sources never take sales orders",
        ),
        (
            {"type": "flat_file", "file": {"path": "x.csv"}, "link": {"primary": "shop", "owns": ["title"]}},
            "a linked source never receives orders",
        ),
    ],
)
def test_orders_for_files_sheets_and_linked_sources_are_refused(
    sources_dir: Path, extra: dict[str, Any], message: str
) -> None:
    path = _write(sources_dir, "no_orders", {"source_id": "no_orders", "orders": {"enabled": True}, **extra})

    with pytest.raises(ConfigError, match=message):
        load_source(path)


def test_an_order_line_of_a_sheet_or_linked_source_is_refused_by_name(
    sqlite_source: dict[str, Any], sandbox: str, sources_dir: Path, state_store: str
) -> None:
    from tests.orders_helpers import add_orders

    shop = write_order_source(
        sources_dir, "shop", preset="custom_database", conn_id="s2s_test_sqlite", driver="SQLite3", s2s_source_id=101
    )
    _write(
        sources_dir,
        "price_sheet",
        {
            "source_id": "price_sheet",
            "type": "google_sheets",
            "sheet": {"csv_url": "http://127.0.0.1:1/x.csv"},
            "stock2shop": {"source_id": 102},
        },
    )
    store = StateStore(state_store)
    store.record_synced("shop", HELD)
    order = system_order(5, 101, [("HW-HAMMER-16", 1, 349.95), ("SHEET-ONLY", 1, 10.0)])
    order["line_items"][1]["source_id"] = 102
    add_orders(sandbox, [order])

    result = pipeline.push_orders(load_source(shop), store=store)

    [problem] = result["problems"]
    assert (
        "line 2 (sku 'SHEET-ONLY') belongs to price_sheet (a google_sheets source that does not take orders)"
        in (problem["error"])
    )


def test_pushing_orders_for_a_source_without_orders_is_refused(
    sqlite_source: dict[str, Any], sources_dir: Path, state_store: str
) -> None:
    path = write_order_source(
        sources_dir,
        "shop",
        preset="custom_database",
        conn_id="s2s_test_sqlite",
        driver="SQLite3",
        s2s_source_id=101,
        orders={"enabled": False},
    )

    with pytest.raises(OrderError, match=r"source shop \(custom_database\) does not take orders"):
        pipeline.push_orders(load_source(path), store=StateStore(state_store))


def test_a_missing_order_drop_folder_is_a_config_error_naming_the_source_and_folder(
    sqlite_source: dict[str, Any], sources_dir: Path, tmp_path: Path, state_store: str
) -> None:
    missing = tmp_path / "never-created"
    path = write_order_source(
        sources_dir,
        "shop",
        preset="custom_database",
        conn_id="s2s_test_sqlite",
        driver="SQLite3",
        s2s_source_id=101,
        orders={"inbox": {"kind": "files", "path": str(missing)}},
    )

    with pytest.raises(ConfigError) as caught:
        pipeline.push_orders(load_source(path), store=StateStore(state_store))

    assert caught.value.source_id == "shop"
    assert caught.value.key == "orders.inbox.path"
    assert f"the order inbox folder file://{missing} does not exist" in str(caught.value)
    assert not missing.exists()  # not created behind the user's back: a typo must not look like an empty drop

"""The read log: when a windowed source must read everything, and whether linked content changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from airflow.sdk import ObjectStoragePath

from stock2shop_sync.model.canonical import ROW
from stock2shop_sync.read_log import ReadLog, frame_hash

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _log(tmp_path: Path) -> ReadLog:
    return ReadLog(ObjectStoragePath(f"file://{tmp_path}/_state"))


def test_a_new_source_reads_its_windows_until_the_first_full_read_is_due(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert log.full_read_due("shop", "products", 24, NOW) is None
    log.record("shop", "products", read_started=NOW.isoformat(), complete=False)
    assert log.full_read_due("shop", "products", 24, NOW + timedelta(hours=23)) is None
    why = log.full_read_due("shop", "products", 24, NOW + timedelta(hours=24))
    assert why is not None
    assert "first synced at 2026-12-01T12:00:00+00:00" in why


def test_a_complete_read_restarts_the_clock_and_a_window_does_not(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.record("shop", "products", read_started=NOW.isoformat(), complete=True)
    log.record("shop", "products", read_started=(NOW + timedelta(hours=20)).isoformat(), complete=False)
    assert log.full_read_due("shop", "products", 24, NOW + timedelta(hours=23)) is None
    why = log.full_read_due("shop", "products", 24, NOW + timedelta(hours=25))
    assert why is not None
    assert "last read completely at 2026-12-01T12:00:00+00:00" in why
    assert log.full_read_due("shop", "products", 0, NOW) is not None  # 0: every run reads everything
    assert log.full_read_due("shop", "customers", 24, NOW + timedelta(days=9)) is None  # per entity


def test_linked_sources_changed_since_the_last_successful_run(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert log.linked_changed("shop", "products", {"sheet": "a"}) == ["sheet"]  # never merged yet
    log.record("shop", "products", read_started=NOW.isoformat(), complete=True, linked={"sheet": "a", "csv": "b"})
    assert log.linked_changed("shop", "products", {"sheet": "a", "csv": "b"}) == []
    assert log.linked_changed("shop", "products", {"sheet": "a", "csv": "c", "new": "d"}) == ["csv", "new"]
    assert log.linked_changed("shop", "products", {"sheet": None}) == ["sheet"]  # unknown content


def test_an_unreadable_log_makes_the_next_windowed_run_read_everything(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.path("shop", "products").parent.mkdir(parents=True)
    log.path("shop", "products").write_text("{not json")
    assert log.full_read_due("shop", "products", 24, NOW) == "its read log is unreadable"
    log.record("shop", "products", read_started=NOW.isoformat(), complete=True)
    assert log.full_read_due("shop", "products", 24, NOW) is None


def test_frame_hash_sees_content_not_order_or_row_numbers() -> None:
    frame = pd.DataFrame({"sku": ["A", "B", None], "title": ["x", "y", "z"], ROW: [2, 3, 4]}).astype(
        {"sku": "string", "title": "string"}
    )
    moved = frame.iloc[::-1].assign(**{ROW: [10, 11, 12]})
    assert frame_hash(frame) == frame_hash(moved)
    assert frame_hash(frame) != frame_hash(frame.assign(title=["x", "y", "Z"]))
    assert frame_hash(frame) != frame_hash(frame.iloc[:2])
    assert frame_hash(frame) != frame_hash(pd.concat([frame, frame.iloc[:1]]))  # a duplicated row counts

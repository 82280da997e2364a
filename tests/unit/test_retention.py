"""Staging retention: run folders older than the retention age go, newer ones and ``_state`` stay."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from stock2shop_sync.retention import prune_staging, retention_days

NOW = datetime(2026, 12, 7, 3, 17, tzinfo=UTC)


def _file(path: Path, age: timedelta, text: str = "rows") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    moment = (NOW - age).timestamp()
    os.utime(path, (moment, moment))


def test_old_run_folders_are_removed_and_state_and_recent_runs_stay(tmp_path: Path) -> None:
    _file(tmp_path / "shop" / "scheduled__2026-11-01" / "extract_customers.parquet", timedelta(days=36), "e-mails")
    _file(tmp_path / "shop" / "scheduled__2026-11-20" / "validated.parquet", timedelta(days=17))
    # A run whose first file is old but which wrote a file yesterday is not old.
    _file(tmp_path / "shop" / "backfill__2026-11-01" / "extract.parquet", timedelta(days=36))
    _file(tmp_path / "shop" / "backfill__2026-11-01" / "upload.parquet", timedelta(days=1))
    _file(tmp_path / "shop" / "manual__2026-12-06" / "extract.parquet", timedelta(hours=20))
    _file(tmp_path / "_state" / "shop" / "products_fingerprints.parquet", timedelta(days=400))
    (tmp_path / "other" / "empty_run").mkdir(parents=True)

    report = prune_staging(ObjectStoragePath(f"file://{tmp_path}"), older_than=timedelta(days=14), now=NOW)

    assert sorted(report.removed) == ["other/empty_run", "shop/scheduled__2026-11-01", "shop/scheduled__2026-11-20"]
    assert report.kept == 2
    assert report.bytes_removed == len("e-mails") + len("rows")
    assert sorted(p.name for p in (tmp_path / "shop").iterdir()) == ["backfill__2026-11-01", "manual__2026-12-06"]
    assert (tmp_path / "_state" / "shop" / "products_fingerprints.parquet").exists()


def test_a_dry_run_removes_nothing(tmp_path: Path) -> None:
    _file(tmp_path / "shop" / "old" / "a.parquet", timedelta(days=30))

    report = prune_staging(
        ObjectStoragePath(f"file://{tmp_path}"), older_than=timedelta(days=14), now=NOW, dry_run=True
    )

    assert report.removed == ["shop/old"]
    assert (tmp_path / "shop" / "old" / "a.parquet").exists()


def test_the_retention_age_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("S2S_STAGING_RETENTION_DAYS", raising=False)
    assert retention_days() == 14
    monkeypatch.setenv("S2S_STAGING_RETENTION_DAYS", "30")
    assert retention_days() == 30
    monkeypatch.setenv("S2S_STAGING_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        retention_days()


def test_the_maintenance_dag_prunes_daily() -> None:
    from stock2shop_sync.factory import build_maintenance_dag

    dag = build_maintenance_dag()

    assert dag.dag_id == "s2s_maintenance"
    assert [t.task_id for t in dag.tasks] == ["prune_staging"]
    assert dag.tasks[0].execution_timeout == timedelta(hours=1)
    assert dag.timetable.expression == "17 3 * * *"

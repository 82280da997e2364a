"""Staging retention: run folders older than a set age are removed, so staged rows (customer names and e-mails
among them) do not pile up for ever on the shared staging storage.

A run folder is ``<staging root>/<source_id>/<run_id>/`` (:func:`stock2shop_sync.staging.run_folder`); its age is
that of its newest file, so a run that is still writing is never old. ``_state`` (fingerprints, upload progress,
read logs) is what later runs compare against and is never touched. The ``s2s_maintenance`` DAG runs
:func:`prune_staging` daily; ``S2S_STAGING_RETENTION_DAYS`` sets the age (default 14).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 14
#: Folders under the staging root that are not sources' run folders.
KEEP = frozenset({"_state"})


def retention_days() -> int:
    """``S2S_STAGING_RETENTION_DAYS`` (at least 1), else :data:`DEFAULT_RETENTION_DAYS`.

    :raises ValueError: when the variable is not a whole number of days of at least 1.
    """
    raw = os.environ.get("S2S_STAGING_RETENTION_DAYS", "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"S2S_STAGING_RETENTION_DAYS={raw!r}: give a whole number of days, at least 1")
    return int(raw)


@dataclass
class PruneReport:
    """What one pass removed and kept."""

    removed: list[str] = field(default_factory=list)
    kept: int = 0
    bytes_removed: int = 0

    def summary(self) -> str:
        return f"removed {len(self.removed)} run folder(s) ({self.bytes_removed:,} bytes), kept {self.kept}"


def _newest(folder: ObjectStoragePath) -> tuple[datetime | None, int]:
    """The newest modification time of the files under ``folder`` and their total size."""
    newest: datetime | None = None
    size = 0
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        info = path.stat()  # an fsspec info dict (size, mtime or LastModified), or an os.stat_result
        size += int(info.get("size") or 0) if isinstance(info, dict) else int(info.st_size)
        moment = _mtime(info)
        if moment is not None and (newest is None or moment > newest):
            newest = moment
    return newest, size


def _mtime(info: object) -> datetime | None:
    """A file's modification time from ``stat()``: a local ``os.stat_result`` or an fsspec info dict
    (``mtime`` seconds, or S3's ``LastModified``)."""
    if isinstance(info, dict):
        value = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.fromtimestamp(float(value), UTC) if value is not None else None
    return datetime.fromtimestamp(info.st_mtime, UTC)  # type: ignore[attr-defined]


def prune_staging(
    root: ObjectStoragePath, *, older_than: timedelta, now: datetime | None = None, dry_run: bool = False
) -> PruneReport:
    """Remove the run folders under ``root`` whose newest file is older than ``older_than``.

    An empty run folder is removed too; a folder whose files carry no modification time is kept.
    """
    now = now or datetime.now(UTC)
    report = PruneReport()
    if not root.exists():
        return report
    for source in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in KEEP):
        for run in sorted(p for p in source.iterdir() if p.is_dir()):
            newest, size = _newest(run)
            empty = newest is None and not any(run.iterdir())
            if empty or (newest is not None and now - newest > older_than):
                report.removed.append(f"{source.name}/{run.name}")
                report.bytes_removed += size
                if not dry_run:
                    run.rmdir(recursive=True)
                log.info("staging: %s %s/%s", "would remove" if dry_run else "removed", source.name, run.name)
            else:
                report.kept += 1
    return report

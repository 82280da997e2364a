"""What a source's last successful runs read: when it was last read completely, and what its linked sources held.

A source that reads only what changed in a run's window (an API with a modified-since filter, or SQL whose
queries use ``{{since}}``) cannot see deletions, nor changes its filter misses (a price list without a
timestamp). :meth:`ReadLog.full_read_due` makes one run read everything every ``incremental.full_read_hours``.
A windowed run only sees the primary's changed rows, so it can only merge linked sources whose content has
not changed since the last successful run: :meth:`ReadLog.linked_changed` tells, from a hash of each
linked source's extracted rows.

Entries are recorded by the upload step, and only when Stock2Shop accepted everything that run sent: a failed
run leaves the log as it was, so the next run reads at least as much. One JSON file per source and entity under
the state folder (``<staging root>/_state/<source_id>/<entity>_reads.json``), beside the fingerprints.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)


def frame_hash(frame: pd.DataFrame) -> str:
    """A hash of a frame's content, independent of row order (a re-sorted sheet is unchanged) and of the
    row-number column (a row moved down a file is unchanged)."""
    import polars as pl

    from stock2shop_sync.model.canonical import ROW

    data = pl.from_pandas(frame.drop(columns=[ROW], errors="ignore").astype("string"))
    if data.width == 0:
        return f"{frame.shape[0]}:0"
    rows = data.select(sorted(data.columns)).hash_rows(seed=7)
    # The sum of the row hashes (wrapping at 64 bits): order-independent, and a duplicated row still counts.
    total = int(rows.to_numpy().sum(dtype="uint64"))
    return f"{data.height}:{','.join(sorted(data.columns))}:{total:016x}:{pl.__version__}"


class ReadLog:
    """The read log of every source, one JSON file per source and entity."""

    def __init__(self, root: ObjectStoragePath | None = None) -> None:
        if root is None:
            from stock2shop_sync.staging import staging_root

            root = staging_root() / "_state"
        self.root = root

    def path(self, source_id: str, entity: str) -> ObjectStoragePath:
        return self.root / source_id / f"{entity}_reads.json"

    def load(self, source_id: str, entity: str) -> dict[str, Any]:
        path = self.path(source_id, entity)
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text())
        except ValueError:
            log.warning("source %s: %s is not JSON; the next windowed run reads everything", source_id, path)
            return {"unreadable": True}

    def full_read_due(self, source_id: str, entity: str, hours: float, now: datetime) -> str | None:
        """Why this run must read everything instead of its window, or None when the window will do."""
        entry = self.load(source_id, entity)
        if entry.get("unreadable"):
            return "its read log is unreadable"
        last = entry.get("last_full_read") or entry.get("first_recorded")
        if last is None:
            return None  # a new source: the first runs read their windows; the clock starts with the first one
        moment = datetime.fromisoformat(last)
        if now - moment >= timedelta(hours=hours):
            what = "last read completely" if entry.get("last_full_read") else "first synced"
            return f"it was {what} at {moment.isoformat()}, {hours:g} h or more ago (incremental.full_read_hours)"
        return None

    def linked_changed(self, source_id: str, entity: str, hashes: dict[str, str | None]) -> list[str]:
        """The linked sources among ``hashes`` whose content differs from what the last successful run merged."""
        recorded = self.load(source_id, entity).get("linked") or {}
        return [name for name, value in hashes.items() if value is None or recorded.get(name) != value]

    def record(
        self,
        source_id: str,
        entity: str,
        *,
        read_started: str | None,
        complete: bool,
        linked: dict[str, str | None] | None = None,
    ) -> None:
        """Note a run whose upload Stock2Shop accepted in full (written aside, then moved into place)."""
        entry = self.load(source_id, entity)
        entry.pop("unreadable", None)
        started = read_started or datetime.now(UTC).isoformat()
        entry.setdefault("first_recorded", started)
        if complete:
            entry["last_full_read"] = started
        entry["last_run"] = started
        if linked is not None:
            entry["linked"] = linked
        path = self.path(source_id, entity)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.parent / f".{path.name}.partial"
        partial.write_text(json.dumps(entry, indent=1, sort_keys=True))
        partial.rename(path)

"""Parquet staging between tasks, under a root that any fsspec URL can name.

The root is ``S2S_STAGING_URL`` (``file:///...`` by default, ``s3://conn_id@bucket/prefix`` in production).
Each run writes under ``<root>/<source_id>/<run_id>/``, so a retried task overwrites its own output.
XCom carries only these paths and counts.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

from airflow.sdk import ObjectStoragePath

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

from stock2shop_sync.config import PROJECT_ROOT


def staging_root() -> ObjectStoragePath:
    """The staging root from ``S2S_STAGING_URL``, defaulting to ``<project>/.staging``."""
    url = os.environ.get("S2S_STAGING_URL") or f"file://{PROJECT_ROOT / '.staging'}"
    return ObjectStoragePath(url)


def run_folder(source_id: str, run_id: str) -> ObjectStoragePath:
    """``<root>/<source_id>/<run_id>``, with the run id made safe for any file system."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    folder = staging_root() / source_id / safe
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_frame(df: pd.DataFrame, path: ObjectStoragePath) -> str:
    """Stage a frame as Parquet. Without dictionary encoding: staged columns are mostly unique codes and text, for
    which building dictionaries cost a fifth of the write and more of the read (measured on the bench's 1M rows:
    0.97 s -> 0.78 s to write, 0.49 s -> 0.36 s to read, 50 MB -> 59 MB)."""
    with path.open("wb") as handle:
        df.to_parquet(handle, index=False, use_dictionary=False)
    return str(path)


def read_frame(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    import pandas as pd

    with ObjectStoragePath(path).open("rb") as handle:
        return pd.read_parquet(handle, columns=columns)


def read_polars(path: str, columns: list[str] | None = None) -> pl.DataFrame:
    """A staged frame read straight into Polars, for the stages that work in Polars: no pandas frame on the way
    (for the bench's million valid rows, 0.3 s instead of the 0.9 s of :func:`read_frame` and the conversion)."""
    import polars as pl
    import pyarrow.parquet as pq

    with ObjectStoragePath(path).open("rb") as handle:
        frame = pl.from_arrow(pq.read_table(handle, columns=columns))
    assert isinstance(frame, pl.DataFrame)
    return frame


def write_csv(df: pd.DataFrame, path: ObjectStoragePath) -> str:
    with path.open("w", encoding="utf-8", newline="") as handle:
        df.to_csv(handle, index=False)
    return str(path)


def write_json(data: Any, path: ObjectStoragePath) -> str:
    path.write_text(json.dumps(data, indent=2, default=str))
    return str(path)

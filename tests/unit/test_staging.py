"""Staged frames read back as they were written: every dtype the stages hand over, through Polars' writer where
it takes the frame and through pyarrow's where it does not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from airflow.sdk import ObjectStoragePath

from stock2shop_sync import staging


def _round_trip(frame: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, str]:
    path = staging.write_frame(frame, ObjectStoragePath(f"file://{folder}/frame.parquet"))
    return staging.read_frame(path), pq.ParquetFile(path.removeprefix("file://")).metadata.created_by


def test_text_numbers_and_flags_are_written_by_polars_and_read_back_with_their_dtypes(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "_row": pd.Series([1, 2, 3], dtype="int64"),
            "sku": pd.Series(["A", None, "Caf\u00e9"], dtype="string"),
            "plain": pd.Series(["x", None, ""], dtype="str"),
            "qty": pd.Series([1, None, -3], dtype="Int64"),
            "small": pd.Series([1, 2, 255], dtype="uint8"),
            "price": pd.Series([1.5, float("nan"), -0.0]),
            "active": pd.Series([True, False, True]),
            "managed": pd.Series([True, None, False], dtype="boolean"),
        }
    )
    back, writer = _round_trip(frame, tmp_path)
    assert "Polars" in writer
    pd.testing.assert_frame_equal(back, frame)
    assert back.dtypes.to_dict() == frame.dtypes.to_dict()


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([Decimal("1.10"), None], dtype=object),
        pd.Series([dt.datetime(2026, 12, 1, 8), None], dtype=object),
        pd.Series(pd.to_datetime(["2026-12-01", None])),
        pd.Series(["a", "b"], dtype="category"),
        pd.Series(np.array([1.5, 2.5], dtype="float16")),
    ],
    ids=["decimal", "datetime objects", "datetime64", "category", "float16"],
)
def test_any_other_column_sends_the_frame_through_pyarrow(column: pd.Series, tmp_path: Path) -> None:
    frame = pd.DataFrame({"sku": pd.Series(["A", "B"], dtype="string"), "other": column})
    back, writer = _round_trip(frame, tmp_path)
    assert "parquet-cpp-arrow" in writer
    frame.to_parquet(tmp_path / "plain.parquet", index=False)  # what pyarrow makes of the column, as before
    pd.testing.assert_frame_equal(back, pd.read_parquet(tmp_path / "plain.parquet"))


def test_duplicate_or_non_text_column_names_go_through_pyarrow(tmp_path: Path) -> None:
    frame = pd.DataFrame({0: ["a"], 1: [2]})
    assert not staging._polars_writable(frame)
    assert not staging._polars_writable(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    assert staging._polars_writable(pd.DataFrame({"a": [1], "b": ["x"]}))

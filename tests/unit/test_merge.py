"""The linked-source merge: which value each primary row gets, what the report says, and how the merged frame
reads back from staging."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from airflow.sdk import ObjectStoragePath

from stock2shop_sync import staging
from stock2shop_sync.config import LinkedTo
from stock2shop_sync.model.merge import merge_linked


def _primary() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_row": [2, 3, 4, 5],
            "source_product_code": ["TEE", "TEE", "MUG", None],
            "source_variant_code": ["TEE-S", "TEE-M", "MUG-1", "LOOSE-1"],
            "title": ["erp tee", "erp tee", "erp mug", "erp loose"],
            "barcode": ["111", "222", "333", "444"],
        }
    )


def test_owned_fields_come_from_the_linked_rows_and_blanks_keep_the_primarys() -> None:
    linked = pl.DataFrame(
        {
            "_row": [2, 3, 4, 5, 6],
            "source_product_code": [" tee", "TEE", "mug", "GHOST", None],
            "source_variant_code": [None, None, None, None, "tee-m "],
            "title": [None, "Sheet Tee", "", "Ghost", None],
            "meta_material": ["cotton", "wool", None, "x", None],
            "barcode": [None, None, None, None, "999"],
        }
    )
    link = LinkedTo(primary="erp", owns=["title", "meta_*", "barcode"])
    merged, report = merge_linked(_primary(), "sheet", link, linked)

    rows = {r["source_variant_code"]: r for r in merged.iter_rows(named=True)}
    # The first non-blank value per code, in the linked rows' order, matched trimmed and case-insensitively.
    assert rows["TEE-S"]["title"] == rows["TEE-M"]["title"] == "Sheet Tee"
    assert rows["TEE-S"]["meta_material"] == "cotton"
    # An empty text is a value the owner gave (only a missing one keeps the primary's).
    assert rows["MUG-1"]["title"] == ""
    assert rows["MUG-1"]["meta_material"] is None
    assert rows["LOOSE-1"]["title"] == "erp loose"  # no product code: nothing to match by
    # Variant-level fields match by variant code.
    assert [rows[v]["barcode"] for v in ("TEE-S", "TEE-M", "MUG-1")] == ["111", "999", "333"]
    # New columns are appended; the primary's order and row count are kept.
    assert merged.columns == ["_row", "source_product_code", "source_variant_code", "title", "barcode", "meta_material"]
    assert merged.get_column("_row").to_list() == [2, 3, 4, 5]
    assert report.unmatched_codes == ["GHOST"]
    assert report.fields == ["title", "meta_material", "barcode"]
    assert (report.rows, report.used_rows) == (5, 5)
    assert (report.products_enriched, report.products_not_enriched) == (2, 0)


def test_unreadable_and_keyless_rows_are_reported_and_not_used() -> None:
    linked = pl.DataFrame(
        {
            "_row": [2, 3, 4],
            "source_product_code": ["TEE", None, "MUG"],
            "source_variant_code": [None, None, None],
            "title": ["Broken Tee", "No Key", "Sheet Mug"],
            "_source_error": ["line 2: 3 fields, expected 2", None, None],
        }
    )
    merged, report = merge_linked(_primary(), "file", LinkedTo(primary="erp", owns=["title", "image*"]), linked)

    assert report.unreadable == [
        "row 2: line 2: 3 fields, expected 2",
        "row 3: no source_product_code or source_variant_code",
    ]
    assert report.used_rows == 1
    assert report.missing_fields == ["image*"]
    assert merged.get_column("title").to_list() == ["erp tee", "erp tee", "Sheet Mug", "erp loose"]
    assert (report.products_enriched, report.products_not_enriched) == (1, 1)


def test_a_windowed_merge_does_not_report_unmatched_rows() -> None:
    linked = pl.DataFrame({"_row": [2], "source_product_code": ["OTHER"], "title": ["x"]})
    merged, report = merge_linked(
        _primary(), "sheet", LinkedTo(primary="erp", owns=["title"]), linked, report_unmatched=False
    )
    assert report.unmatched_codes == []
    assert merged.get_column("title").to_list() == _primary().get_column("title").to_list()


def test_a_staged_polars_frame_reads_back_as_a_staged_pandas_frame(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"_row": [1, 2], "sku": ["A", None], "n": [1, None], "flag": [True, False]},
        schema={"_row": pl.Int64, "sku": pl.String, "n": pl.Int32, "flag": pl.Boolean},
    )
    ours = staging.read_frame(staging.write_polars(frame, ObjectStoragePath(f"file://{tmp_path}/p.parquet")))
    theirs = staging.read_frame(
        staging.write_frame(
            pd.DataFrame(
                {
                    "_row": pd.Series([1, 2], dtype="int64"),
                    "sku": pd.Series(["A", None], dtype="string"),
                    "n": pd.Series([1, None], dtype="Int32"),
                    "flag": pd.Series([True, False], dtype="bool"),
                }
            ),
            ObjectStoragePath(f"file://{tmp_path}/d.parquet"),
        )
    )
    pd.testing.assert_frame_equal(ours, theirs)
    assert ours["sku"].dtype == pd.StringDtype("pyarrow")
    assert ours["sku"].isna().tolist() == [False, True]


def test_one_linked_row_per_code_merges_as_grouping_them_would(monkeypatch: pytest.MonkeyPatch) -> None:
    from stock2shop_sync.model import merge

    linked = pl.DataFrame(
        {
            "_row": [2, 3, 4],
            "source_product_code": [None, None, None],
            "source_variant_code": ["mug-1", "TEE-S", "NOT-THERE"],  # each code once: no grouping needed
            "barcode": [None, "555", "777"],  # a missing value keeps the primary's
        }
    )
    link = LinkedTo(primary="erp", owns=["barcode"])
    distinct = merge._distinct
    assert distinct(pl.Series(["A", "B"]))
    assert not distinct(pl.Series(["A", "B", "A"]))
    fast, fast_report = merge_linked(_primary(), "sheet", link, linked)
    monkeypatch.setattr(merge, "_distinct", lambda keys: False)
    grouped, grouped_report = merge_linked(_primary(), "sheet", link, linked)
    assert fast.equals(grouped)
    assert fast.get_column("barcode").to_list() == ["555", "222", "333", "444"]
    assert fast_report == grouped_report

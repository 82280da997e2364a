"""Canonical text: blank cells become missing values, values are trimmed (HTML excepted), and the variant's
total qty is the sum of its warehouses. Columns that need no cleaning take a quicker path: it must give what
the general one gives."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from stock2shop_sync.config import EntityMapping
from stock2shop_sync.model.canonical import to_canonical, total_qty


def _text(values: list[str | None]) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([pa.array(values, type=pa.large_string())])))


def _values(series: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else v for v in series]


def test_blank_cells_are_missing_and_values_trimmed() -> None:
    raw = pd.DataFrame(
        {
            "sku": _text(["A-1", "", "B-2", None, "C-3"]),  # clean ASCII with an empty cell
            "title": _text([" Tee ", "   ", "Mug\t", "Cap", "\nHat"]),  # white space around values
            "vendor": _text(["Brand", "Brand", "Brand", "Brand", "Brand"]),  # nothing to change
            "barcode": _text(["600", "\t", "601", "", None]),  # a tab-only cell is blank too
            "body_html": _text([" <p>a</p>\n", "", "  ", "<p>b</p>", None]),  # kept as laid out, unless blank
            "collection": _text(["Caf\u00e9 ", " na\u00efve", "", "  ", "Z"]),  # not ASCII
        }
    )
    frame = to_canonical(raw, EntityMapping(auto_fields=True), source_id="s", entity="products")

    assert _values(frame["sku"]) == ["A-1", None, "B-2", None, "C-3"]
    assert _values(frame["title"]) == ["Tee", None, "Mug", "Cap", "Hat"]
    assert _values(frame["vendor"]) == ["Brand"] * 5
    assert _values(frame["barcode"]) == ["600", None, "601", None, None]
    assert _values(frame["body_html"]) == [" <p>a</p>\n", None, None, "<p>b</p>", None]
    assert _values(frame["collection"]) == ["Caf\u00e9", "na\u00efve", None, None, "Z"]
    assert all(frame[c].dtype == pd.StringDtype("pyarrow") for c in raw.columns)


def test_a_sliced_column_is_read_within_its_slice() -> None:
    # A column that is a slice of a longer array: the bytes outside it must not decide anything.
    whole = pa.array([" outside ", "A", "", "B", "outside "], type=pa.large_string())
    raw = pd.DataFrame({"sku": pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([whole.slice(1, 3)])))})
    frame = to_canonical(raw, EntityMapping(auto_fields=True), source_id="s", entity="products")
    assert _values(frame["sku"]) == ["A", None, "B"]


def test_total_qty_sums_the_warehouses() -> None:
    frame = pd.DataFrame(
        {
            "qty_CPT": _text(["3.0", "-2", "abc", None, "inf", "1.5"]),
            "qty_JHB": _text(["2", "5", "4", None, "1", "1.0"]),
        }
    )
    # Negative stock counts as none, what is not a finite number counts 0 (validation reports it); halves round
    # to even, as pandas rounds.
    assert _values(total_qty(frame)) == ["5", "5", "4", "0", "1", "2"]
    assert total_qty(frame).dtype == pd.StringDtype("pyarrow")
    assert _values(total_qty(pd.DataFrame({"sku": _text(["A"])}))) == ["0"]


def test_codes_already_folded_are_recognised() -> None:
    from stock2shop_sync.model.canonical import is_folded_key

    def folded(values: list[str | None]) -> bool:
        return is_folded_key(pa.array(values, type=pa.large_string()))

    assert folded(["ITEM-0001", "A B", None, ""])
    assert not folded(["ITEM-0001", "item-0002"])  # lower case
    assert not folded(["ITEM-0001", "ITEM-0002 "])  # white space at an end
    assert not folded(["\tITEM"])
    assert not folded(["CAF\u00c9"])  # not ASCII: folding is left to the general path

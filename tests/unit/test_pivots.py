"""Price lists and warehouse stock become complete price_<tier> / qty_<warehouse> columns."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest

from stock2shop_sync.config import PriceListQuery, SiteSettings, WarehouseQuery
from stock2shop_sync.model.pivots import (
    PivotError,
    as_text,
    join_columns,
    join_tables,
    price_columns,
    price_table,
    warehouse_columns,
    warehouse_table,
)

LONG = pd.DataFrame(
    {
        "StockID": [1, 1, 2, 3, 3],
        "cName": ["Retail", "Trade", "Retail", "Retail", "Export"],
        "fExclPrice": [100.0, 80.0, 50.0, 9.0, 7.0],
    }
)
STOCK = pd.DataFrame(
    {
        "stock": ["A ", "A", "b", "B"],
        "whse": ["JHB", "JHB", "JHB", "CPT"],
        "on_hand": [5, 2, 10, 4],
        "on_so": [1, 0, 3, None],
        "reserved": [1, 1, 0, 0],
    }
)
WH = WarehouseQuery(
    query="SELECT 1", key="stock", name="whse", on_hand="on_hand", on_sales_order="on_so", reserved="reserved"
)


def test_every_list_becomes_a_tier_by_default() -> None:
    wide = price_columns(
        LONG, PriceListQuery(query="SELECT 1", key="StockID", name="cName", value="fExclPrice"), SiteSettings()
    )
    assert list(wide.columns) == ["price_Export", "price_Retail", "price_Trade"]
    assert wide.loc["1"].tolist()[1:] == [100.0, 80.0]
    assert pd.isna(wide.loc["2", "price_Trade"])


def test_chosen_lists_are_renamed_and_always_present() -> None:
    settings = SiteSettings(price_lists={"retail": "Retail", "Trade": "Wholesale", "Staff": "Staff"})
    wide = price_columns(
        LONG, PriceListQuery(query="SELECT 1", key="StockID", name="cName", value="fExclPrice"), settings
    )
    assert list(wide.columns) == ["price_Retail", "price_Wholesale", "price_Staff"]
    assert wide.loc["1", "price_Wholesale"] == 80.0
    assert wide["price_Staff"].isna().all()


def test_wide_price_columns() -> None:
    raw = pd.DataFrame({"ItemCode": ["X"], "SellExcl01": ["12.5"], "SellExcl02": [None]})
    spec = PriceListQuery(query="SELECT 1", key="ItemCode", columns={"01": "SellExcl01", "02": "SellExcl02"})
    wide = price_columns(raw, spec, SiteSettings(price_lists={"01": "Retail", "02": "Dealer"}))
    assert wide.loc["X", "price_Retail"] == 12.5
    assert pd.isna(wide.loc["X", "price_Dealer"])


@pytest.mark.parametrize(
    ("formula", "a_jhb", "b_jhb", "b_cpt"),
    [
        ("on_hand", 7, 10, 4),
        ("on_hand_minus_on_sales_order", 6, 7, 4),
        ("on_hand_minus_reserved", 5, 10, 4),
        ("on_hand_minus_on_sales_order_minus_reserved", 4, 7, 4),
    ],
)
def test_qty_formula_and_keys_compared_trimmed_and_case_folded(
    formula: str, a_jhb: int, b_jhb: int, b_cpt: int
) -> None:
    wide = warehouse_columns(STOCK, WH, SiteSettings(qty_formula=formula))
    assert list(wide.columns) == ["qty_CPT", "qty_JHB"]
    assert (wide.loc["A", "qty_JHB"], wide.loc["B", "qty_JHB"], wide.loc["B", "qty_CPT"]) == (a_jhb, b_jhb, b_cpt)


def test_only_chosen_warehouses_count() -> None:
    wide = warehouse_columns(STOCK, WH, SiteSettings(warehouses={"JHB": "Johannesburg", "DBN": "Durban"}))
    assert list(wide.columns) == ["qty_Johannesburg", "qty_Durban"]


def test_formula_needing_a_missing_column_is_refused() -> None:
    spec = WarehouseQuery(query="SELECT 1", key="stock", name="whse", on_hand="on_hand")
    with pytest.raises(PivotError, match=r"needs warehouses\.on_sales_order"):
        warehouse_columns(STOCK, spec, SiteSettings())


def test_join_keeps_every_main_row() -> None:
    raw = pd.DataFrame({"StockLink": [2, 1, 4]})
    prices = price_columns(
        LONG, PriceListQuery(query="SELECT 1", key="StockID", name="cName", value="fExclPrice"), SiteSettings()
    )
    joined = join_columns(raw, "StockLink", prices)
    assert joined["price_Retail"].tolist() == ["50.0", "100.0", pd.NA]


def test_an_item_with_two_rows_for_one_list_takes_the_first_and_is_named(caplog: pytest.LogCaptureFixture) -> None:
    rows = pd.DataFrame(
        {
            "StockID": ["9", "2", "9", "2", "1"],
            "cName": ["Retail", "Retail", "Retail", "Trade", "Retail"],
            "fExclPrice": [5.0, 6.0, 7.0, None, 1.0],
        }
    )
    spec = PriceListQuery(query="SELECT 1", key="StockID", name="cName", value="fExclPrice")
    with caplog.at_level("WARNING"):
        wide = price_columns(rows, spec, SiteSettings())
    # the Trade row of item 2 has no price: blank, as an item without that list's row
    assert wide.sort_index().fillna(-1).to_dict("index") == {
        "1": {"price_Retail": 1.0, "price_Trade": -1},
        "2": {"price_Retail": 6.0, "price_Trade": -1},
        "9": {"price_Retail": 5.0, "price_Trade": -1},
    }
    assert "1 items have more than one price row for the same list; the first one is used (e.g. ['9'])" in caplog.text


@pytest.mark.parametrize("formula", ["on_hand", "on_hand_minus_on_sales_order_minus_reserved"])
def test_rows_read_into_polars_pivot_and_join_as_pandas_rows_do(formula: str) -> None:
    """The SQL connector hands price and stock rows over as Polars frames (``read_table``): the pivots and the
    one-pass join give what the pandas rows and one join per pivot give."""
    spec = PriceListQuery(query="SELECT 1", key="StockID", name="cName", value="fExclPrice")
    settings = SiteSettings(qty_formula=formula)
    prices = pl.from_pandas(LONG).with_columns(pl.col("fExclPrice").cast(pl.Float64))
    stock = pl.from_pandas(STOCK)  # on_so with a null: Float64, the text keys untrimmed
    pd.testing.assert_frame_equal(  # (a pivot's rows come in no particular order)
        price_columns(prices, spec, settings).sort_index(), price_columns(LONG, spec, settings).sort_index()
    )
    pd.testing.assert_frame_equal(
        warehouse_columns(stock, WH, settings).sort_index(), warehouse_columns(STOCK, WH, settings).sort_index()
    )

    raw = pd.DataFrame({"StockLink": [2, 1, 4], "stock": ["b", "a ", "Z"]})
    one_by_one = join_columns(
        join_columns(raw, "StockLink", price_columns(LONG, spec, settings)),
        "stock",
        warehouse_columns(STOCK, WH, settings),
    )
    together = join_tables(raw, "StockLink", [price_table(prices, spec, settings)])
    together = join_tables(together, "stock", [warehouse_table(stock, WH, settings)])
    pd.testing.assert_frame_equal(together, one_by_one)
    # with the values made text ahead, in the thread that pivoted them, as the SQL connector does
    ahead = join_tables(raw, "StockLink", [as_text(price_table(prices, spec, settings))])
    ahead = join_tables(ahead, "stock", [as_text(warehouse_table(stock, WH, settings))])
    pd.testing.assert_frame_equal(ahead, one_by_one)
    both = join_tables(
        raw.assign(StockLink=["B", "A", "Z"]),
        "StockLink",
        [
            warehouse_table(stock, WH, settings),
            warehouse_table(stock, WH, SiteSettings(qty_formula=formula, warehouses={"JHB": "J"})),
        ],
    )
    assert both.columns.tolist() == ["StockLink", "stock", "qty_CPT", "qty_JHB", "qty_J"]
    assert both["qty_JHB"].tolist() == both["qty_J"].tolist()
    assert both["qty_JHB"].iloc[2] is pd.NA  # an item without stock rows


def test_a_boolean_or_numeric_key_reads_as_pandas_writes_it() -> None:
    spec = PriceListQuery(query="SELECT 1", key="k", name="n", value="v")
    rows = pd.DataFrame({"k": [True, False], "n": ["Retail", "Retail"], "v": ["1.5", "x"]})
    wide = price_columns(pl.from_pandas(rows), spec, SiteSettings())
    assert sorted(wide.index) == ["FALSE", "TRUE"]  # "True" as pandas writes it, folded as every key is
    assert wide.loc["TRUE", "price_Retail"] == 1.5
    assert pd.isna(wide.loc["FALSE", "price_Retail"])  # text that is not a number is blank

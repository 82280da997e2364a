"""Price lists and warehouse stock, read in long form, become one column per tier and per warehouse.

ERPs keep prices and stock in their own tables (Evolution: ``_etblPriceListPrices``, ``WhseStk``; Pastel
Partner: ``MultiStoreTrn`` with ``SellExcl01..10``). Stock2Shop wants every tier and every warehouse on every
SKU, 0 when empty. These functions turn the auxiliary rows into ``price_<tier>`` and ``qty_<warehouse>``
columns keyed by the item, applying the site's choice of lists, warehouses and available-qty formula.

The work is done column-wise in Polars (an ERP with a million items has three to ten million price and stock
rows). The auxiliary rows come as a pandas frame or, from the SQL connector's Arrow reader, as a Polars frame;
:func:`price_table` / :func:`warehouse_table` give Polars frames that :func:`join_tables` joins onto the main rows
in one pass, and :func:`price_columns` / :func:`warehouse_columns` / :func:`join_columns` are the same in pandas.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import polars as pl

    from stock2shop_sync.config import PriceListQuery, SiteSettings, WarehouseQuery

log = logging.getLogger(__name__)

#: The item-key column while pivoting (a name no price list or warehouse is given), and the index name of the
#: frames :func:`price_columns` and :func:`warehouse_columns` return.
KEY = "__item_key__"
INDEX = "key"


class PivotError(ValueError):
    """An auxiliary query does not return what its mapping says."""


def column(df: pd.DataFrame | pl.DataFrame, name: str, what: str) -> pd.Series | pl.Series:
    """A column by case-insensitive name, or a :class:`PivotError` naming what was looked for."""
    for actual in df.columns:
        if str(actual).lower() == name.lower():
            return df[actual]
    raise PivotError(f"{what}: the query returned no column {name!r}; it returned {sorted(map(str, df.columns))}")


def _polars_text(series: pd.Series | pl.Series) -> pl.Series:
    """A column as Polars text, each value as pandas writes it (``str()``; 3 stays "3", True "True"), nulls kept."""
    import polars as pl
    import pyarrow as pa

    if isinstance(series, pl.Series):
        if series.dtype == pl.Boolean:
            return series.replace_strict({True: "True", False: "False"}, return_dtype=pl.String)
        return series.cast(pl.String)
    array = pa.array(series.astype("string").array, type=pa.large_string(), from_pandas=True)
    return pl.Series(array).cast(pl.String)


def _polars_key(series: pd.Series | pl.Series) -> pl.Series:
    """Item keys as the ERPs compare them: trimmed and upper case (left as they are when they already are)."""
    import polars as pl
    import pyarrow as pa

    from stock2shop_sync.model.canonical import is_folded_key

    if isinstance(series, pl.Series):
        keys = _polars_text(series)
        array = keys.to_arrow()
    else:
        array = pa.array(series.astype("string").array, type=pa.large_string(), from_pandas=True)
        keys = pl.Series(array).cast(pl.String)
    return keys if is_folded_key(array) else keys.str.strip_chars().str.to_uppercase()


def _text(series: pd.Series | pl.Series) -> pl.Series:
    return _polars_text(series).str.strip_chars()


def _numbers(series: pd.Series | pl.Series) -> pl.Series:
    """Numbers as ``pd.to_numeric(text, errors="coerce")`` reads them (what is not a number is null)."""
    import polars as pl

    if isinstance(series, pl.Series):
        numeric = series.dtype.is_numeric()
    else:
        numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    if not numeric:
        return _text(series).cast(pl.Float64, strict=False).fill_nan(None)
    if isinstance(series, pl.Series):
        return series.cast(pl.Float64).fill_nan(None)
    return pl.Series(series.to_numpy(dtype="float64", na_value=float("nan"))).fill_nan(None)


def _choose(names: pl.Series, choice: dict[str, str] | None) -> tuple[pl.Series, list[str]]:
    """Keep and rename the chosen names; the output columns are the choice's (in order) or every name seen."""
    if choice is None:
        return names, sorted(names.drop_nulls().unique().to_list())
    lookup = {key.strip().upper(): value for key, value in choice.items()}
    renamed = names.str.to_uppercase().replace_strict(lookup, default=None, return_dtype=names.dtype)
    return renamed, list(dict.fromkeys(choice.values()))


def _spread(
    keys: pl.Series, names: pl.Series, values: pl.Series, columns: list[str], prefix: str, how: str
) -> pl.DataFrame:
    """One row per item key with a ``<prefix><name>`` column for each of ``columns``: the first value of the
    item's rows for that name (``how="first"``, in row order) or their sum (``"sum"``); null where it has none.

    One group-by over the keys, with an aggregation per column, rather than a pivot plus a separate pass over
    every row for duplicates: a third of a second less for three million price rows."""
    import polars as pl

    frame = pl.DataFrame({KEY: keys, "name": names, "value": values}).drop_nulls([KEY, "name"])
    if not frame.height:
        wide = pl.DataFrame({KEY: pl.Series([], dtype=pl.String)})
        return wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(f"{prefix}{name}") for name in columns)
    spread = []
    for name in columns:
        rows = pl.col("name") == name
        picked = pl.col("value").filter(rows)
        value = picked.first() if how == "first" else pl.when(rows.any()).then(picked.sum())
        spread.append(value.cast(pl.Float64).alias(f"{prefix}{name}"))
    extra = "__extra_rows__"  # rows of a key beyond one per name
    if how == "first":
        spread.append((pl.len() - pl.col("name").n_unique()).alias(extra))
    wide = frame.group_by(KEY).agg(spread)
    if how == "first":
        duplicated = wide.filter(pl.col(extra) > 0)
        if duplicated.height:
            log.warning(
                "%d items have more than one %s row for the same list; the first one is used (e.g. %s)",
                duplicated.height,
                prefix.rstrip("_"),
                duplicated.get_column(KEY).sort().head(5).to_list(),
            )
        wide = wide.drop(extra)
    return wide


def _pandas(wide: pl.DataFrame) -> pd.DataFrame:
    """A pivoted Polars frame as the pandas frame of its columns, indexed by the join key."""
    return wide.to_pandas().set_index(KEY).rename_axis(INDEX)


def price_columns(raw: pd.DataFrame | pl.DataFrame, spec: PriceListQuery, settings: SiteSettings) -> pd.DataFrame:
    """``price_<tier>`` columns indexed by the join key, from long or wide price rows."""
    return _pandas(price_table(raw, spec, settings))


def price_table(raw: pd.DataFrame | pl.DataFrame, spec: PriceListQuery, settings: SiteSettings) -> pl.DataFrame:
    """:func:`price_columns` as a Polars frame, the join key in its :data:`KEY` column."""
    return _price_spread(raw, key=spec.key, name=spec.name, value=spec.value, columns=spec.columns, settings=settings)


def price_number_columns(spec: PriceListQuery) -> list[str]:
    """The columns of the price rows that :func:`price_table` reads as numbers."""
    return list(spec.columns.values()) if spec.columns else [spec.value or ""]


def price_columns_from(
    raw: pd.DataFrame | pl.DataFrame,
    *,
    key: str,
    name: str | None = None,
    value: str | None = None,
    columns: dict[str, str] | None = None,
    settings: SiteSettings,
) -> pd.DataFrame:
    """``price_<tier>`` columns from rows with an item ``key`` and either ``name``/``value`` (one row per item
    and list) or ``columns`` (list name -> column, one row per item)."""
    return _pandas(_price_spread(raw, key=key, name=name, value=value, columns=columns, settings=settings))


def _price_spread(
    raw: pd.DataFrame | pl.DataFrame,
    *,
    key: str,
    name: str | None,
    value: str | None,
    columns: dict[str, str] | None,
    settings: SiteSettings,
) -> pl.DataFrame:
    import polars as pl

    from stock2shop_sync.config import SiteSettings as _Settings

    keys = _polars_key(column(raw, key, "price_lists.key"))
    if columns:
        parts = [
            pl.DataFrame(
                {
                    KEY: keys,
                    "name": pl.repeat(list_name, len(keys), dtype=pl.String, eager=True),
                    "value": _numbers(column(raw, source, f"price_lists.columns.{list_name}")),
                }
            )
            for list_name, source in columns.items()
        ]
        long = pl.concat(parts)
        keys, names, values = long.get_column(KEY), long.get_column("name"), long.get_column("value")
    else:
        names = _text(column(raw, name or "", "price_lists.name"))
        values = _numbers(column(raw, value or "", "price_lists.value"))
    names, tiers = _choose(names, _Settings.renames(settings.price_lists))
    return _spread(keys, names, values, tiers, "price_", how="first")


QTY_PARTS = {
    "on_hand": (),
    "on_hand_minus_on_sales_order": ("on_sales_order",),
    "on_hand_minus_reserved": ("reserved",),
    "on_hand_minus_on_sales_order_minus_reserved": ("on_sales_order", "reserved"),
}


def warehouse_columns(raw: pd.DataFrame | pl.DataFrame, spec: WarehouseQuery, settings: SiteSettings) -> pd.DataFrame:
    """``qty_<warehouse>`` columns indexed by the join key: the available qty by the site's formula, summed."""
    return _pandas(warehouse_table(raw, spec, settings))


def warehouse_number_columns(spec: WarehouseQuery) -> list[str]:
    """The columns of the stock rows that :func:`warehouse_table` reads as numbers."""
    return [c for c in (spec.on_hand, spec.on_sales_order, spec.reserved) if c]


def warehouse_table(raw: pd.DataFrame | pl.DataFrame, spec: WarehouseQuery, settings: SiteSettings) -> pl.DataFrame:
    """:func:`warehouse_columns` as a Polars frame, the join key in its :data:`KEY` column."""
    from stock2shop_sync.config import SiteSettings as _Settings

    keys = _polars_key(column(raw, spec.key, "warehouses.key"))
    names = _text(column(raw, spec.name, "warehouses.name"))
    available = _numbers(column(raw, spec.on_hand, "warehouses.on_hand")).fill_null(0)
    for part in QTY_PARTS[settings.qty_formula]:
        source = getattr(spec, part)
        if source is None:
            raise PivotError(f"qty_formula {settings.qty_formula!r} needs warehouses.{part}, which this mapping lacks")
        available = available - _numbers(column(raw, source, f"warehouses.{part}")).fill_null(0)
    names, warehouses = _choose(names, _Settings.renames(settings.warehouses))
    return _spread(keys, names, available, warehouses, "qty_", how="sum")


def join_columns(raw: pd.DataFrame, key: str, wide: pd.DataFrame) -> pd.DataFrame:
    """Left-join pivoted columns onto the main rows by the item key; items without rows get blanks. The values
    become text (``50.0``), as every raw value read from a source is."""
    import polars as pl

    return join_tables(raw, key, [pl.from_pandas(wide.rename_axis(KEY).reset_index())])


def as_text(wide: pl.DataFrame) -> pl.DataFrame:
    """A pivoted frame with its values as the text :func:`join_tables` makes of them (``50.0``), made ahead: in
    the thread that read and pivoted them, while the main rows are still being read, not after."""

    return wide.with_columns(_value_text(wide.get_column(name)) for name in wide.columns if name != KEY)


def _value_text(values: pl.Series) -> pl.Series:
    import polars as pl

    return values if values.dtype == pl.String else values.cast(pl.Float64).fill_nan(None).cast(pl.String)


def join_tables(raw: pd.DataFrame, key: str, wides: list[pl.DataFrame]) -> pd.DataFrame:
    """:func:`join_columns` for several pivoted Polars frames (:func:`price_table`, :func:`warehouse_table`, or
    those as :func:`as_text` made them) at once: the main rows' keys are folded once, and the new columns are
    added to the pandas frame together."""
    import polars as pl
    import pyarrow as pa

    if not wides:
        return raw
    joined = pl.DataFrame({KEY: _polars_key(column(raw, key, "key"))})
    for wide in wides:
        joined = joined.join(wide.with_columns(pl.col(KEY).cast(pl.String)), on=KEY, how="left", maintain_order="left")
    names = [name for wide in wides for name in wide.columns if name != KEY]
    text = {
        name: pd.Series(
            pd.arrays.ArrowStringArray(_value_text(joined.get_column(name)).to_arrow().cast(pa.large_string())),
            index=raw.index,
        )
        for name in names
    }
    return pd.concat([raw, pd.DataFrame(text, index=raw.index)], axis=1)

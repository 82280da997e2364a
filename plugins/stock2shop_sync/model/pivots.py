"""Price lists and warehouse stock, read in long form, become one column per tier and per warehouse.

ERPs keep prices and stock in their own tables (Evolution: ``_etblPriceListPrices``, ``WhseStk``; Pastel
Partner: ``MultiStoreTrn`` with ``SellExcl01..10``). Stock2Shop wants every tier and every warehouse on every
SKU, 0 when empty. These functions turn the auxiliary rows into ``price_<tier>`` and ``qty_<warehouse>``
columns keyed by the item, applying the site's choice of lists, warehouses and available-qty formula.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from stock2shop_sync.config import PriceListQuery, SiteSettings, WarehouseQuery

log = logging.getLogger(__name__)


class PivotError(ValueError):
    """An auxiliary query does not return what its mapping says."""


def column(df: pd.DataFrame, name: str, what: str) -> pd.Series:
    """A column by case-insensitive name, or a :class:`PivotError` naming what was looked for."""
    for actual in df.columns:
        if str(actual).lower() == name.lower():
            return df[actual]
    raise PivotError(f"{what}: the query returned no column {name!r}; it returned {sorted(map(str, df.columns))}")


def join_key(series: pd.Series) -> pd.Series:
    """Item keys compared the way the ERPs compare them: trimmed (Pervasive pads CHAR codes) and case-folded."""
    return series.astype("string").str.strip().str.upper()


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").str.strip()


def _numbers(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.astype("string").str.strip(), errors="coerce")


def _choose(names: pd.Series, choice: dict[str, str] | None) -> tuple[pd.Series, list[str]]:
    """Keep and rename the chosen names; the output columns are the choice's (in order) or every name seen."""
    if choice is None:
        return names, sorted(names.dropna().unique())
    lookup = {key.strip().upper(): value for key, value in choice.items()}
    renamed = names.str.upper().map(lookup)
    return renamed, list(dict.fromkeys(choice.values()))


def _spread(
    keys: pd.Series, names: pd.Series, values: pd.Series, columns: list[str], prefix: str, how: str
) -> pd.DataFrame:
    frame = pd.DataFrame({"key": keys, "name": names, "value": values}).dropna(subset=["key", "name"])
    if how == "first":
        duplicated = frame.duplicated(["key", "name"], keep="first")
        if duplicated.any():
            log.warning(
                "%d items have more than one %s row for the same list; the first one is used (e.g. %s)",
                int(duplicated.sum()),
                prefix.rstrip("_"),
                frame.loc[duplicated, "key"].head(5).tolist(),
            )
        frame = frame[~duplicated]
        wide = frame.pivot(index="key", columns="name", values="value")
    else:
        wide = frame.pivot_table(index="key", columns="name", values="value", aggfunc="sum")
    wide = wide.reindex(columns=columns)
    wide.columns = [f"{prefix}{name}" for name in columns]
    return wide


def price_columns(raw: pd.DataFrame, spec: PriceListQuery, settings: SiteSettings) -> pd.DataFrame:
    """``price_<tier>`` columns indexed by the join key, from long or wide price rows."""
    return price_columns_from(
        raw, key=spec.key, name=spec.name, value=spec.value, columns=spec.columns, settings=settings
    )


def price_columns_from(
    raw: pd.DataFrame,
    *,
    key: str,
    name: str | None = None,
    value: str | None = None,
    columns: dict[str, str] | None = None,
    settings: SiteSettings,
) -> pd.DataFrame:
    """``price_<tier>`` columns from rows with an item ``key`` and either ``name``/``value`` (one row per item
    and list) or ``columns`` (list name -> column, one row per item)."""
    from stock2shop_sync.config import SiteSettings as _Settings

    keys = join_key(column(raw, key, "price_lists.key"))
    if columns:
        parts = [
            pd.DataFrame(
                {
                    "key": keys,
                    "name": list_name,
                    "value": _numbers(column(raw, source, f"price_lists.columns.{list_name}")),
                }
            )
            for list_name, source in columns.items()
        ]
        long = pd.concat(parts, ignore_index=True)
        keys, names, values = long["key"], long["name"].astype("string"), long["value"]
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


def warehouse_columns(raw: pd.DataFrame, spec: WarehouseQuery, settings: SiteSettings) -> pd.DataFrame:
    """``qty_<warehouse>`` columns indexed by the join key: the available qty by the site's formula, summed."""
    from stock2shop_sync.config import SiteSettings as _Settings

    keys = join_key(column(raw, spec.key, "warehouses.key"))
    names = _text(column(raw, spec.name, "warehouses.name"))
    available = _numbers(column(raw, spec.on_hand, "warehouses.on_hand")).fillna(0)
    for part in QTY_PARTS[settings.qty_formula]:
        source = getattr(spec, part)
        if source is None:
            raise PivotError(f"qty_formula {settings.qty_formula!r} needs warehouses.{part}, which this mapping lacks")
        available = available - _numbers(column(raw, source, f"warehouses.{part}")).fillna(0)
    names, warehouses = _choose(names, _Settings.renames(settings.warehouses))
    return _spread(keys, names, available, warehouses, "qty_", how="sum")


def join_columns(raw: pd.DataFrame, key: str, wide: pd.DataFrame) -> pd.DataFrame:
    """Left-join pivoted columns onto the main rows by the item key; items without rows get blanks."""
    keys = join_key(column(raw, key, "key"))
    joined = wide.reindex(keys.to_numpy())
    joined.index = raw.index
    return pd.concat([raw, joined.astype("string")], axis=1)

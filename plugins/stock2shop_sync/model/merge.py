"""Merge linked sources' fields onto a primary source's products.

Each field has exactly one owner: a linked source owns the fields its config lists (``title``, ``meta_*``,
``image*``...), the primary owns the rest. Product-level fields join on ``source_product_code``, variant-level
fields on ``source_variant_code`` (trimmed and case-insensitive, as the ERPs compare codes). Where the owner
has no value for a product (no row, or a blank cell) the primary's value stays, so a product missing from the
sheet still syncs; the report counts those. A linked row that matches no primary product is reported (count
and codes), never created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from stock2shop_sync.model.canonical import ROW, SOURCE_ERROR
from stock2shop_sync.model.pivots import join_key

if TYPE_CHECKING:
    from stock2shop_sync.config import LinkedTo

PRODUCT_LEVEL = re.compile(
    r"^(title|body_html|collection|product_type|vendor|tags|product_active|option[123]_name|meta_.+|image[1-9][0-9]*)$"
)
KEYS = ("source_product_code", "source_variant_code")


@dataclass
class LinkReport:
    """What one linked source contributed."""

    source_id: str
    rows: int = 0
    used_rows: int = 0
    unreadable: list[str] = field(default_factory=list)
    unmatched_codes: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    missing_fields: list[str] = field(default_factory=list)
    products_enriched: int = 0
    products_not_enriched: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "rows": self.rows,
            "used_rows": self.used_rows,
            "unreadable": self.unreadable,
            "unmatched": len(self.unmatched_codes),
            "unmatched_codes": self.unmatched_codes,
            "fields": self.fields,
            "missing_fields": self.missing_fields,
            "products_enriched": self.products_enriched,
            "products_not_enriched": self.products_not_enriched,
        }


def is_product_level(name: str) -> bool:
    return bool(PRODUCT_LEVEL.match(name))


def _names(owned: str, column: str) -> bool:
    return column == owned or (owned.endswith("*") and column.startswith(owned[:-1]))


def _first_values(frame: pd.DataFrame, key: pd.Series, columns: list[str]) -> pd.DataFrame:
    """The first non-blank value of each column per key."""
    return frame.assign(_key=key)[["_key", *columns]].groupby("_key", sort=False).first()


def _isin(values: pd.Series, allowed: pd.Series) -> pd.Series:
    """``values.isin(allowed)`` in Arrow: pandas' own isin for text walks the allowed values in Python, which
    cost seconds for a million codes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    left = pa.array(values.astype("string").array, type=pa.large_string(), from_pandas=True)
    right = pc.unique(pa.array(allowed.dropna().astype("string").array, type=pa.large_string(), from_pandas=True))
    found = pc.fill_null(pc.is_in(left, value_set=right), False)
    return pd.Series(found.to_numpy(zero_copy_only=False), index=values.index)


def merge_linked(
    primary: pd.DataFrame, source_id: str, link: LinkedTo, linked: pd.DataFrame, *, report_unmatched: bool = True
) -> tuple[pd.DataFrame, LinkReport]:
    """``primary`` with the fields ``link`` owns taken from ``linked`` (a canonical frame of the linked source).

    ``report_unmatched=False`` when ``primary`` holds only a window's changed rows: the linked rows of the
    unchanged products would look unmatched."""
    report = LinkReport(source_id=source_id, rows=len(linked))
    owned = [c for c in linked.columns if c not in (ROW, SOURCE_ERROR, *KEYS) and link.owns_field(c)]
    report.fields = owned
    report.missing_fields = [name for name in link.owns if not any(_names(name, column) for column in owned)]
    usable = linked
    if SOURCE_ERROR in linked.columns:
        broken = linked[SOURCE_ERROR].notna()
        report.unreadable += [
            f"row {r}: {e}" for r, e in zip(linked.loc[broken, ROW], linked.loc[broken, SOURCE_ERROR], strict=True)
        ]
        usable = linked[~broken]
    keys = {
        k: (usable[k] if k in usable.columns else pd.Series(pd.NA, index=usable.index, dtype="string")) for k in KEYS
    }
    no_key = keys["source_product_code"].isna() & keys["source_variant_code"].isna()
    report.unreadable += [f"row {r}: no source_product_code or source_variant_code" for r in usable.loc[no_key, ROW]]
    usable = usable[~no_key]
    report.used_rows = len(usable)

    merged = primary.copy()
    matched = pd.Series(False, index=usable.index)
    enriched = pd.Series(False, index=merged.index)
    for key_name, columns in (
        ("source_product_code", [c for c in owned if is_product_level(c)]),
        ("source_variant_code", [c for c in owned if not is_product_level(c)]),
    ):
        if key_name not in usable.columns:
            continue
        linked_keys = join_key(usable[key_name])
        primary_keys = join_key(merged[key_name])
        hits = _isin(linked_keys, primary_keys) & linked_keys.notna()
        matched |= hits
        if not columns:
            continue
        values = _first_values(usable[hits], linked_keys[hits], columns).reindex(primary_keys.to_numpy())
        values.index = merged.index
        for column in columns:
            own = values[column].astype("string")
            enriched |= own.notna()
            merged[column] = own.fillna(merged[column]) if column in merged.columns else own
    unmatched = usable[~matched]
    codes = (
        unmatched["source_product_code"] if "source_product_code" in unmatched.columns else pd.Series(dtype="string")
    )
    if "source_variant_code" in unmatched.columns:
        codes = codes.fillna(unmatched["source_variant_code"]) if len(codes) else unmatched["source_variant_code"]
    report.unmatched_codes = sorted(str(c) for c in codes.dropna().unique()) if report_unmatched else []
    product_codes = join_key(merged["source_product_code"])
    report.products_enriched = int(product_codes[enriched].nunique())
    report.products_not_enriched = int(product_codes.nunique() - report.products_enriched)
    return merged, report

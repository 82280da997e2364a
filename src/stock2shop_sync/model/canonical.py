"""Turn a source's raw rows into a canonical frame: Stock2Shop column names, text values, row numbers.

Every canonical column is kept as nullable text as the source gave it (trimmed, NFC-normalised); typing
happens in validation, so a bad value is reported as the source had it instead of crashing the extract.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

    from stock2shop_sync.config import EntityMapping

log = logging.getLogger(__name__)

#: Column holding the 1-based position of the row in the source's result set (or the file's line number).
ROW = "_row"
#: Column holding why a source row could not be read (a file's broken line); such rows are quarantined.
SOURCE_ERROR = "_source_error"
#: Per row, the fields whose control characters were removed (comma-separated); validation reports them.
CLEANED = "_cleaned"

#: Columns whose surrounding white space is kept (HTML may be laid out on purpose); every other column is trimmed.
UNTRIMMED_FIELDS = frozenset({"body_html"})


@dataclass(frozen=True)
class FieldDoc:
    """One canonical field a mapping may map: what it is, whether validation requires it, and what gives its value
    when it is not mapped. The README's field tables are generated from these (``settings_doc``), and a mapping
    override may not unmap a required field nothing else gives (``config.resolve_mapping``); tests hold
    ``required`` to what :mod:`stock2shop_sync.model.validation` does."""

    name: str
    what: str
    #: ``every row``: a row without it is quarantined; ``active rows``: an Active row without it is; else "".
    required: Literal["", "every row", "active rows"] = ""
    #: Fields, or mapping sections (``price_lists``, ``warehouses``), that give the value when it is not mapped.
    fallback: tuple[str, ...] = ()


_RULE_FLAG = (
    "the ERP's own {} flag, read by the site rules (`settings.inactive_items`, `settings.service_items`); not sent"
)
#: Product fields in the order the README lists them; a pattern's name shows its variable part as ``<tier>``.
PRODUCT_FIELD_DOCS: tuple[FieldDoc, ...] = (
    FieldDoc(
        "source_product_code",
        "the product's grouping code: variants that share it are one product",
        "every row",
        ("source_variant_code",),
    ),
    FieldDoc("source_variant_code", "the variant's own code in the source", "every row", ("sku",)),
    FieldDoc("sku", "the variant's SKU: the key rows are matched, counted and reported by", "every row"),
    FieldDoc("title", "the product's title (see `settings.title_rule` for variants' own descriptions)", "active rows"),
    FieldDoc("body_html", "the product's description, as HTML (its white space is kept)"),
    FieldDoc("collection", "the product's collection (category)"),
    FieldDoc("product_type", "the product's type"),
    FieldDoc("vendor", "the product's vendor (brand)"),
    FieldDoc("tags", "comma-separated tags, sent sorted and without repeats"),
    FieldDoc(
        "product_active",
        "Ignore, Active or Delete (or I, A, D): Ignore rows are not sent, Delete rows are sent inactive",
        "every row",
        ("item_active", "item_blocked", "service_item", "stock_item"),
    ),
    FieldDoc("barcode", "the variant's barcode (EAN, UPC)"),
    FieldDoc("grams", "the variant's weight in grams, a whole number"),
    FieldDoc(
        "qty",
        "stock on hand, a whole number (`settings.fractional_qty` decides fractions; negative stock is sent as 0)",
        "active rows",
        ("warehouses",),
    ),
    FieldDoc("price", "the selling price (rounded to `settings.price_decimals`)", "active rows", ("price_lists",)),
    FieldDoc("inventory_management", "whether Stock2Shop tracks the variant's stock: true or false (default true)"),
    FieldDoc("sync_token", "Stock2Shop's `sync_token`, sent as given (default 0)"),
    *(FieldDoc(f"option{n}_name", f"the name of option {n} (Size, Colour), one per product") for n in (1, 2, 3)),
    *(FieldDoc(f"option{n}_value", f"the variant's value of option {n} (needs `option{n}_name`)") for n in (1, 2, 3)),
    FieldDoc("group_title", "the product title `settings.title_rule: field` takes; not sent itself"),
    FieldDoc("item_active", _RULE_FLAG.format("active")),
    FieldDoc("item_blocked", _RULE_FLAG.format("blocked")),
    FieldDoc("service_item", _RULE_FLAG.format("service item")),
    FieldDoc("stock_item", _RULE_FLAG.format("stock item")),
    FieldDoc("price_<tier>", "the price in a price tier (`price_tiers`); a price-list query gives them too"),
    FieldDoc("qty_<warehouse>", "stock in one warehouse (`qty_availability`); a warehouse query gives them too"),
    FieldDoc("meta_<key>", "a product meta value"),
    FieldDoc("variant_meta_<key>", "a variant meta value"),
    FieldDoc("image<N>", "an image URL; images are sent in their number's order (image1, image2...)"),
)
#: Customer fields in the order the README lists them.
CUSTOMER_FIELD_DOCS: tuple[FieldDoc, ...] = (
    FieldDoc("source_customer_code", "the customer's account code: the key rows are matched by", "every row"),
    FieldDoc("customer_active", "Ignore, Active or Delete (or I, A, D), as `product_active`", "every row"),
    FieldDoc("first_name", "the contact's first name", "active rows", ("full_name",)),
    FieldDoc("last_name", "the contact's last name", "active rows", ("full_name",)),
    FieldDoc(
        "full_name",
        "one contact name, split at its first space into `first_name` and `last_name` where those are not "
        "mapped; not sent itself",
    ),
    FieldDoc("email", "the customer's email address, which Stock2Shop requires", "active rows"),
    FieldDoc("accepts_marketing", "whether the customer accepts marketing: true or false (default false)"),
    FieldDoc("meta_<key>", "a customer meta value"),
)
FIELD_DOCS: dict[str, tuple[FieldDoc, ...]] = {"products": PRODUCT_FIELD_DOCS, "customers": CUSTOMER_FIELD_DOCS}


def field_doc(entity: str, name: str) -> FieldDoc | None:
    """The catalogue entry of a fixed field of ``entity`` (not a pattern), or None."""
    return next((doc for doc in FIELD_DOCS[entity] if doc.name == name), None)


class MappingError(Exception):
    """The source's data does not fit its mapping (e.g. a mapped column is missing)."""


def _as_text(value: Any) -> str:
    """A raw value as text before the control filter: bytes decoded (UTF-8, else cp1252), cp1252 read as Latin-1
    repaired, and NFC, so that the same visible text always hashes and compares the same."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            value = value.decode("cp1252", errors="replace")
    text = str(value)
    if _C1.search(text):
        text = _repair_cp1252(text)
    return unicodedata.normalize("NFC", text)


def _clean_text(value: Any) -> Any:
    # NUL and other control characters except tab/newline break JSON on channels: dropped.
    return None if value is None else _CONTROL.sub("", _as_text(value))


def _has_control(value: Any) -> bool:
    """Whether :func:`_clean_text` removes a control character from ``value`` (not a cp1252 repair)."""
    return bool(_CONTROL.search(_as_text(value)))


def clean_column(series: pd.Series, removed: list[pd.Series] | None = None) -> pd.Series:
    """A raw column as canonical text: ``_clean_text`` of every value, vectorised where the column's type
    allows (text through Arrow's kernels, numbers through pandas' formatting, which is ``str()``'s), and value
    by value otherwise (Decimals, dates, mixed objects, and the rare text that needs a cp1252 repair).

    ``removed``: when given, a boolean Series of the rows whose control characters were removed is appended
    to it (only when there are any), so that validation can report them."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return series.map({True: "True", False: "False"}, na_action="ignore").astype("string")
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        return series.astype("string")
    is_text = pd.api.types.is_string_dtype(dtype) and (
        not pd.api.types.is_object_dtype(dtype) or pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")
    )
    if not is_text:
        if removed is not None and pd.api.types.is_object_dtype(dtype):
            mask = series.map(_has_control, na_action="ignore").fillna(False).astype(bool)
            if mask.any():
                removed.append(mask)
        return series.map(_clean_text, na_action="ignore").astype("string")
    array = pa.array(series.astype("string").array, type=pa.large_string(), from_pandas=True)
    if _printable_ascii(array):  # the usual ERP column: NFC, the cp1252 repair and the control filter change nothing
        return pd.Series(pd.arrays.ArrowStringArray(array), index=series.index).astype("string")
    repair = pc.match_substring_regex(array, "[\x80-\x9f]")
    if pc.any(repair).as_py():  # cp1252 bytes read as Latin-1: fixed value by value, on those rows only
        fixed = [_clean_text(v) if r else v for v, r in zip(array.to_pylist(), repair.to_pylist(), strict=True)]
        array = pa.array(fixed, type=pa.large_string())
    array = pc.utf8_normalize(array, form="NFC")
    if removed is not None:
        mask = pc.fill_null(pc.match_substring_regex(array, "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"), False)
        if pc.any(mask).as_py():
            removed.append(pd.Series(mask.to_numpy(zero_copy_only=False), index=series.index))
    array = pc.replace_substring_regex(array, "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", "")
    return pd.Series(pd.arrays.ArrowStringArray(pc.cast(array, pa.large_string())), index=series.index).astype("string")


@functools.cache
def _not_plain() -> Any:
    """Bytes of text that :func:`_clean_text` may change: control characters other than tab, newline and
    carriage return, and every byte of a non-ASCII character (NFC, cp1252 repair)."""
    import numpy as np

    table = np.zeros(256, dtype=bool)
    table[[*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0x100)]] = True
    return table


def _printable_ascii(array: Any) -> bool:
    """Whether every byte of a (large) string array's data is printable ASCII, tab or a line break, so that
    cleaning would leave each value as it is. A byte-table lookup over the data buffers, not per value; bytes
    of values outside a sliced array count too (they can only make the answer a safe False)."""
    import numpy as np

    for chunk in array.chunks if hasattr(array, "chunks") else [array]:
        data = chunk.buffers()[2]
        if data is None or not data.size:
            continue
        data = np.frombuffer(data, dtype=np.uint8)
        if data.max() >= 0x7F:
            return False
        # Above 0x1F there is nothing but printable ASCII; below, the table tells (two reductions cost a fraction
        # of the table lookup, which builds a mask as large as the data).
        if data.min() < 0x20 and _not_plain()[data].any():
            return False
    return True


def _trim_changes_nothing(array: Any) -> bool:
    """For a (large) string array of printable ASCII: whether no value starts or ends with white space, so that
    trimming would leave every value as it is (then a blank value is an empty one). Reads the first and last
    byte of each value through the offsets, with no string made."""
    import numpy as np
    import pyarrow as pa

    for chunk in array.chunks if hasattr(array, "chunks") else [array]:
        buffers = chunk.buffers()
        if buffers[2] is None or not len(chunk):
            continue
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(buffers[1], dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
        data = np.frombuffer(buffers[2], dtype=np.uint8)
        starts, ends = offsets[:-1], offsets[1:]
        filled = ends > starts
        # In printable ASCII, white space is the space, tab and line breaks: all at or below 0x20.
        if (data[starts[filled]] <= 0x20).any() or (data[ends[filled] - 1] <= 0x20).any():
            return False
    return True


def is_folded_key(array: Any) -> bool:
    """Whether item codes in a (large) string array are already as the ERPs compare them (trimmed, upper case),
    so that folding them would change nothing: printable ASCII with no lower-case letter and no white space
    at either end. Checked over the data buffers, with no string made (most ERPs keep codes this way)."""
    import numpy as np

    if not (_printable_ascii(array) and _trim_changes_nothing(array)):
        return False
    for chunk in array.chunks if hasattr(array, "chunks") else [array]:
        data = chunk.buffers()[2]
        if data is not None and data.size:
            data = np.frombuffer(data, dtype=np.uint8)
            if np.any((data >= 0x61) & (data <= 0x7A)):
                return False
    return True


def empty_without_trimming(series: pd.Series) -> Any:
    """For a text column that trimming would leave as it is (printable ASCII, no value with white space around
    it, held by Arrow): which values are empty, as a NumPy mask (missing values: False). None for any other
    column, whose blanks take trimming to find."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        return None
    array = series.array.__arrow_array__()
    text = pa.types.is_large_string(array.type) or pa.types.is_string(array.type)
    if not (text and _printable_ascii(array) and _trim_changes_nothing(array)):
        return None
    return pc.fill_null(pc.equal(pc.binary_length(array), 0), False).to_numpy(zero_copy_only=False)


def _blank_to_missing(series: pd.Series, trim: bool) -> pd.Series:
    """The column with blank values (empty or white space only) missing, trimmed unless ``trim`` is False.
    The usual column (printable ASCII, no value with white space around it) is only checked, not rewritten."""
    empty = empty_without_trimming(series)
    if empty is not None:
        return series.mask(empty) if empty.any() else series
    stripped = series.str.strip()
    return (stripped if trim else series).mask(stripped == "")


_C1 = re.compile("[\x80-\x9f]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _repair_cp1252(text: str) -> str:
    """Undo cp1252 bytes that a driver decoded as Latin-1: they show up as C1 control characters
    (U+0080-U+009F, never meant as text), e.g. the en dash 0x96 arriving as U+0096."""
    try:
        return text.encode("latin-1").decode("cp1252")
    except UnicodeError:  # other characters above U+00FF, or bytes cp1252 leaves undefined: keep the text
        return text


def to_canonical(raw: pd.DataFrame, mapping: EntityMapping, *, source_id: str, entity: str) -> pd.DataFrame:
    """Rename and derive canonical columns from ``raw`` according to ``mapping``.

    Column lookup is case-insensitive because ODBC drivers differ in how they report names (PostgreSQL
    folds unquoted aliases to lower case). A mapped column the source does not return raises
    :class:`MappingError` naming the source, entity, field and column.
    """
    import pandas as pd

    from stock2shop_sync.config import CUSTOMER_FIELDS, PRODUCT_FIELDS, known_field

    by_lower: dict[str, str] = {}
    for column in raw.columns:
        by_lower.setdefault(str(column).lower(), column)
    out = pd.DataFrame(index=raw.index)
    out[ROW] = raw[ROW].astype("int64") if ROW in raw.columns else pd.RangeIndex(1, len(raw) + 1)
    if SOURCE_ERROR in raw.columns:
        out[SOURCE_ERROR] = raw[SOURCE_ERROR].astype("string")
    fields = dict(mapping.fields)
    cleaned: dict[str, pd.Series] = {}  # field -> rows whose control characters were removed
    unmapped: list[str] = []
    if mapping.auto_fields:
        used = {c.lower() for c in fields.values()}
        for column in raw.columns:
            name = str(column).strip()
            prefix, sep, suffix = name.partition("_")
            # Fixed fields match in any case; pattern columns keep their suffix (tier, warehouse, meta key).
            fixed = name.lower() in (PRODUCT_FIELDS if entity == "products" else CUSTOMER_FIELDS)
            canonical = name.lower() if fixed else f"{prefix.lower()}{sep}{suffix}"
            if column in (ROW, SOURCE_ERROR) or name.lower() in used or canonical in fields:
                continue
            if known_field(entity, canonical):
                fields[canonical] = name
            else:
                unmapped.append(name)
    if unmapped:
        _warn_unmapped(unmapped, source_id, entity)
    missing = []
    for field, column in fields.items():
        actual = by_lower.get(column.lower())
        if actual is None:
            missing.append(f"{field} <- {column!r}")
            continue
        removed: list[pd.Series] = []
        out[field] = clean_column(raw[actual], removed)
        if removed:
            cleaned[field] = removed[0]
        if field in mapping.values:
            lookup = {str(k).strip().lower(): v for k, v in mapping.values[field].items()}
            out[field] = out[field].str.strip().str.lower().map(lookup).fillna(out[field]).astype("string")
    if missing:
        raise MappingError(
            f"source {source_id!r}, {entity}: the query returned no column for "
            f"{', '.join(missing)}; it returned {sorted(map(str, raw.columns))}"
        )
    for field, value in mapping.defaults.items():
        constant = None if value is None else _clean_text(value if not isinstance(value, bool) else str(value).lower())
        if field not in out.columns:
            out[field] = pd.Series(constant, index=out.index, dtype="string")
        elif constant is not None:
            out[field] = out[field].fillna(constant)
    for field in out.columns.difference([ROW, SOURCE_ERROR]):
        out[field] = _blank_to_missing(out[field], trim=field not in UNTRIMMED_FIELDS)  # a blank cell is no value
    if cleaned:
        # Per row, the fields whose control characters were removed ("body_html,title"): validation warns.
        flagged = pd.DataFrame(cleaned, index=out.index).fillna(False).astype(bool)
        rows = flagged.any(axis=1)
        listed = [
            ",".join(f for f, hit in zip(flagged.columns, row, strict=True) if hit) for row in flagged[rows].to_numpy()
        ]
        out[CLEANED] = pd.Series(pd.NA, index=out.index, dtype="string")
        out.loc[rows, CLEANED] = listed
    if "full_name" in out.columns:
        _split_full_name(out)
    if entity == "products":
        # A simple product's codes default from its SKU, as the Custom Database field table allows.
        if "source_variant_code" not in out.columns and "sku" in out.columns:
            out["source_variant_code"] = out["sku"]
        if "source_product_code" not in out.columns and "source_variant_code" in out.columns:
            out["source_product_code"] = out["source_variant_code"]
    return out.reset_index(drop=True)


def _warn_unmapped(columns: list[str], source_id: str, entity: str) -> None:
    """Say which columns are neither Stock2Shop fields nor mapped (a misspelt header would vanish silently)."""
    import difflib

    from stock2shop_sync.config import CUSTOMER_FIELDS, PRODUCT_FIELDS

    known = sorted(PRODUCT_FIELDS if entity == "products" else CUSTOMER_FIELDS)
    described = []
    for name in columns:
        close = difflib.get_close_matches(name.lower(), known, n=1)
        described.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    log.warning(
        "source %r, %s: column %s %s not a Stock2Shop field and not mapped, so it is ignored; map it under "
        "mapping_overrides.%s.fields if it is meant to be sent",
        source_id,
        entity,
        ", ".join(described),
        "is" if len(columns) == 1 else "are",
        entity,
    )


def _split_full_name(out: pd.DataFrame) -> None:
    """ERPs often keep one contact name: the first word is the first name, the rest the last name."""
    parts = out["full_name"].str.split(n=1, expand=True, regex=False)
    first = parts[0] if 0 in parts.columns else out["full_name"]
    last = parts[1] if 1 in parts.columns else first.where(first.isna())
    for field, value in (("first_name", first), ("last_name", last)):
        out[field] = out[field].fillna(value).astype("string") if field in out.columns else value.astype("string")
    out.drop(columns="full_name", inplace=True)


def total_qty(frame: pd.DataFrame, fractional: str = "error") -> pd.Series:
    """The variant's total qty: the sum of its counted warehouses (each already by the site's qty formula), each
    read as a number where it is one (anything else counts 0 here: validation reports that warehouse's value),
    negative stock counted as none, rounded to a whole number. With ``fractional`` ``floor`` or ``round`` (the
    site's ``fractional_qty``) each warehouse is made whole first, as validation makes it, so the total is the
    sum of the warehouse quantities sent. Summed in Polars (a tenth of pandas' time)."""
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    columns = [c for c in frame.columns if str(c).startswith("qty_")]
    if not columns:
        return pd.Series("0", index=frame.index, dtype="string")

    def number(column: str) -> pl.Expr:
        value = pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)
        if fractional in ("floor", "round"):  # 2.5 on hand: 2 floored, 3 rounded (half away from zero)
            value = value.floor() if fractional == "floor" else value.round(mode="half_away_from_zero")
        return pl.when(value.is_finite()).then(value.clip(lower_bound=0)).otherwise(0.0)

    text = pl.DataFrame(
        {
            f"qty_{n}": pl.Series(pa.array(frame[c].astype("string").array, type=pa.large_string(), from_pandas=True))
            for n, c in enumerate(columns)
        }
    )
    total = text.select(pl.sum_horizontal(number(c) for c in text.columns).round().cast(pl.Int64).cast(pl.String))
    values = total.to_series().to_arrow().cast(pa.large_string())
    return pd.Series(pd.arrays.ArrowStringArray(values), index=frame.index)

"""Validation of canonical frames against Stock2Shop's field contracts.

Rules come from the Custom Database field tables (shared/reference/custom-database.md) and the product
model (stock2shop-api-and-model.md, section 3). Every rule is a vectorised mask over the frame; each
failing (row, field) pair becomes one line of the quarantine report with its reason.

``product_active`` / ``customer_active`` take Ignore, Active or Delete (case-insensitive, or I/A/D):
Ignore rows are dropped and counted, Delete rows are sent with ``active=false``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stock2shop_sync.model.canonical import CLEANED, ROW, SOURCE_ERROR

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import polars as pl

    from stock2shop_sync.config import SiteSettings

ISSUE_COLUMNS = ["source_id", "entity", "row", "record", "field", "value", "severity", "reason"]
# Quantities and weights must fit a 32-bit integer (we assume Stock2Shop's store is no wider: it rejects
# "Qty field is not an integer"); anything larger is a data error, quarantined rather than sent wrapped.
MAX_WHOLE = 2_147_483_647

_ACTIVE_WORDS = {
    "active": "active",
    "a": "active",
    "ignore": "ignore",
    "i": "ignore",
    "delete": "delete",
    "d": "delete",
}
#: How a true or false cell may be spelled (compared trimmed and in lower case).
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "f"})


class ValidationFailed(Exception):
    """Too many rows were invalid: nothing of this entity may be uploaded."""


@dataclass
class ValidationResult:
    """Typed valid rows plus one issue per failing (row, field)."""

    entity: str
    valid: pd.DataFrame
    issues: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def invalid_share(self) -> float:
        considered = self.counts["rows"] - self.counts["ignored"]
        return self.counts["invalid"] / considered if considered else 0.0


class _Issues:
    def __init__(self, df: pd.DataFrame, source_id: str, entity: str, key: str) -> None:
        self.df = df
        self.source_id = source_id
        self.entity = entity
        self.key = key
        self.frames: list[pd.DataFrame] = []

    def add(self, mask: pd.Series, field_name: str, reason: str | pd.Series, severity: str = "error") -> None:
        import pandas as pd

        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        rows = self.df.loc[mask]
        value = rows[field_name] if field_name in rows.columns else pd.Series(pd.NA, index=rows.index)
        self.frames.append(
            pd.DataFrame(
                {
                    "source_id": self.source_id,
                    "entity": self.entity,
                    "row": rows[ROW].astype("int64"),
                    "record": rows[self.key] if self.key in rows.columns else pd.NA,
                    "field": field_name,
                    "value": value.astype("string").str.slice(0, 200),
                    "severity": severity,
                    "reason": reason[mask] if isinstance(reason, pd.Series) else reason,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        if not self.frames:
            return pd.DataFrame({c: pd.Series(dtype="string" if c != "row" else "int64") for c in ISSUE_COLUMNS})
        out = pd.concat(self.frames, ignore_index=True)
        out["record"] = out["record"].astype("string")
        return out.sort_values(["row", "field"], kind="stable").reset_index(drop=True)

    def error_rows(self) -> pd.Series:
        import pandas as pd

        if not self.frames:
            return pd.Series(False, index=self.df.index)
        errors = pd.concat([f.loc[f["severity"] == "error", "row"] for f in self.frames])
        return self.df[ROW].isin(errors)


def _blank(series: pd.Series) -> pd.Series:
    """Missing, empty or only white space (a canonical column, already trimmed, is only checked for empty)."""
    from stock2shop_sync.model.canonical import empty_without_trimming

    empty = empty_without_trimming(series)
    if empty is not None:
        return series.isna() | empty
    return series.isna() | (series.str.strip() == "")


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    import pandas as pd

    if name in df.columns:
        return df[name]
    return pd.Series(pd.NA, index=df.index, dtype="string")


def _unreadable_rows(df: pd.DataFrame, issues: _Issues) -> None:
    """Rows the source could not read (a file's broken line) are quarantined with the reader's reason."""
    if SOURCE_ERROR in df.columns:
        issues.add(df[SOURCE_ERROR].notna(), "row", df[SOURCE_ERROR])


def _cleaned_text(df: pd.DataFrame, issues: _Issues) -> None:
    """Fields whose control characters were removed as the source was read are reported as warnings."""
    if CLEANED not in df.columns:
        return
    listed = "," + df[CLEANED].astype("string") + ","
    fields = sorted({name for value in df[CLEANED].dropna() for name in str(value).split(",")})
    for name in fields:
        issues.add(
            listed.str.contains(f",{name},", regex=False).fillna(False),
            name,
            f"control characters were removed from {name}",
            "warning",
        )


def _made_whole(
    column: str, values: pd.Series, fractional: pd.Series, mode: str, issues: _Issues, considered: pd.Series
) -> pd.Series:
    """``values`` with its fractional quantities floored or rounded (``settings.fractional_qty``), each one
    reported as a warning naming the value read and the value sent; with ``error`` they are quarantined."""
    import numpy as np
    import pandas as pd

    if mode == "error":
        issues.add(considered & fractional, column, f"{column} must be a whole number")
        return values
    made = np.floor(values) if mode == "floor" else np.sign(values) * np.floor(values.abs() + 0.5)
    mask = (considered & fractional).fillna(False)
    if mask.any():
        reason = pd.Series("", index=values.index, dtype=object)
        reason[mask] = [
            f"{column} {value:g} is not a whole number; sent as {max(whole, 0):.0f} (settings.fractional_qty: {mode})"
            for value, whole in zip(values[mask], made[mask], strict=True)
        ]
        issues.add(mask, column, reason, "warning")
    return values.where(~fractional.fillna(False), made)


def _to_cents(values: pd.Series, decimals: int) -> pd.Series:
    """Prices rounded half up to ``decimals`` (a currency's cents by default): 414.488 is sent as 414.49."""
    import numpy as np

    factor = 10.0**decimals
    return np.floor(values * factor + 0.5 + 1e-9) / factor


def _parse_active(df: pd.DataFrame, column: str, issues: _Issues) -> pd.Series:
    import numpy as np
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    raw = _column(df, column)
    # Looked up in Polars, as a small code per row that picks one of the four states' (shared) Python strings:
    # pandas' map looked each of a million values up in Python (0.2 s). Missing and unknown words give None.
    words = pl.from_arrow(pa.array(raw.astype("string").array, type=pa.large_string(), from_pandas=True))
    assert isinstance(words, pl.Series)
    folded = words.cast(pl.String).str.strip_chars().str.to_lowercase()
    names = [None, *dict.fromkeys(_ACTIVE_WORDS.values())]
    codes = folded.replace_strict(
        {word: names.index(name) for word, name in _ACTIVE_WORDS.items()}, default=0, return_dtype=pl.Int8
    )
    state = pd.Series(np.array(names, dtype=object)[codes.to_numpy()], index=raw.index, dtype=object)
    blank = _blank(raw)
    issues.add(blank, column, f"{column} is blank; expected Ignore, Active or Delete")
    issues.add(~blank & state.isna(), column, f"{column} must be Ignore, Active or Delete")
    return state


def _parse_bool(series: pd.Series, default: bool) -> tuple[pd.Series, pd.Series]:
    import pandas as pd

    text = series.str.strip().str.lower()
    parsed = pd.Series(default, index=series.index, dtype="boolean")
    parsed[text.isin(TRUE_WORDS)] = True
    parsed[text.isin(FALSE_WORDS)] = False
    bad = ~_blank(series) & ~text.isin(TRUE_WORDS | FALSE_WORDS)
    return parsed, bad


_THOUSANDS = r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$"  # "1,299.00"
_DECIMAL_COMMA = r"^[-+]?\d+,\d{1,2}$"  # "10,5" / "10,50"


def _parse_numbers(df: pd.DataFrame, columns: list[str]) -> dict[str, tuple[pd.Series, pd.Series]]:
    """Numbers from text for several columns at once (Polars runs them in parallel): for each column, its
    values and the mask of rows where it was present but not a finite number. A missing column is all blank.

    Thousands separators ("1,299.00") and a decimal comma ("10,5") are read; anything else fails. The comma
    rules only run on columns that have a comma at all.
    """
    import pandas as pd
    import polars as pl

    present = [c for c in columns if c in df.columns]
    out: dict[str, tuple[pd.Series, pd.Series]] = {
        c: (pd.Series(float("nan"), index=df.index), pd.Series(False, index=df.index))
        for c in columns
        if c not in present
    }
    if not present:
        return out
    text = pl.from_pandas(df[present].astype("string")).select(
        pl.col(c).cast(pl.String).str.strip_chars() for c in present
    )
    with_comma = text.select(pl.col(c).str.contains(",", literal=True).any() for c in present).row(0)

    def number(column: str, comma: bool) -> pl.Expr:
        value = pl.col(column)
        if comma:
            value = (
                pl.when(value.str.contains(_THOUSANDS).fill_null(False))
                .then(value.str.replace_all(",", "", literal=True))
                .when(value.str.contains(_DECIMAL_COMMA).fill_null(False))
                .then(value.str.replace(",", ".", literal=True))
                .otherwise(value)
            )
        return value.cast(pl.Float64, strict=False).alias(column)

    values = text.select(number(c, comma) for c, comma in zip(present, with_comma, strict=True))
    presence = text.select((pl.col(c).is_not_null() & (pl.col(c) != "")).alias(c) for c in present)
    finite = values.select(pl.col(c).is_finite().fill_null(False).alias(c) for c in present)
    for column in present:
        unreadable = presence.get_column(column).to_numpy() & ~finite.get_column(column).to_numpy()
        numbers = values.get_column(column).to_numpy().astype("float64", copy=True)
        numbers[unreadable] = float("nan")
        out[column] = (pd.Series(numbers, index=df.index), pd.Series(unreadable, index=df.index))
    return out


def _parse_number(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers from text: returns (values, mask of present-but-not-a-finite-number)."""
    return _parse_numbers(series.rename("value").to_frame(), ["value"])["value"]


def _whole(values: pd.Series) -> pd.Series:
    """Non-negative integers for the payload; out-of-range rows are quarantined, so clipping never reaches one."""
    return values.clip(lower=0, upper=MAX_WHOLE).fillna(0).round().astype("int64")


def _rows_listing(df: pd.DataFrame, mask: pd.Series, by: pd.Series) -> pd.Series:
    """For the rows in ``mask``: "1, 5, 9", the rows that share their value of ``by`` (computed on the few
    failing rows only)."""
    listed = df.loc[mask].groupby(by[mask])[ROW].agg(lambda r: ", ".join(map(str, sorted(r))))
    return by.map(listed)


def _duplicated(frame: pl.DataFrame, columns: list[str], candidate: np.ndarray) -> np.ndarray:
    """Rows (among ``candidate``) whose values of ``columns`` another candidate row has too.

    64-bit hashes find the suspects fast; the suspects alone are then compared exactly, so a hash collision
    can never flag a row."""
    import numpy as np
    import polars as pl

    hashed = frame.select(pl.struct(columns).hash().alias("h")).to_series().to_numpy()
    ordered = np.sort(hashed[candidate])
    if not (ordered[1:] == ordered[:-1]).any():  # the usual case, all distinct: a sort is 10x cheaper than a lookup
        return np.zeros(len(candidate), dtype=bool)
    suspects = candidate & pl.Series(np.where(candidate, hashed, 0)).is_duplicated().to_numpy()
    if not suspects.any():
        return suspects
    index = np.flatnonzero(suspects)
    exact = frame[index].select(pl.struct(columns).is_duplicated()).to_series().to_numpy()
    out = np.zeros(len(candidate), dtype=bool)
    out[index[exact]] = True
    return out


def _duplicates(df: pd.DataFrame, column: str, considered: pd.Series, issues: _Issues) -> None:
    import pandas as pd
    import polars as pl

    values = _column(df, column)
    candidate = (considered & ~_blank(values)).to_numpy()
    frame = pl.DataFrame({"value": pl.from_pandas(values.astype("string")).cast(pl.String)})
    dup = pd.Series(_duplicated(frame, ["value"], candidate), index=df.index)
    if not dup.any():
        return
    reason = _rows_listing(df, dup, values).radd(f"{column} is not unique within the source: it is on rows ")
    issues.add(dup, column, reason)


def _check_groups(df: pd.DataFrame, active: pd.Series, issues: _Issues) -> None:
    """Variants of one product (same ``source_product_code``) must agree on title and option names, have
    values for the same options, and each be a unique combination of option values (Stock2Shop ignores a
    product whose variants are inconsistent). A product that breaks a rule is quarantined whole.

    The group checks run in Polars over the whole frame; reasons are built for the failing rows only."""
    import pandas as pd
    import polars as pl

    def text(name: str) -> pl.Series:
        return pl.from_pandas(_column(df, name).astype("string")).cast(pl.String)

    code_pd = _column(df, "source_product_code")
    considered = (active & ~_blank(code_pd)).to_numpy()
    frame = pl.DataFrame(
        {
            "code": text("source_product_code"),
            "considered": considered,
            "title": text("title").str.strip_chars(),
            **{f"n{p}": text(f"option{p}_name").str.strip_chars() for p in (1, 2, 3)},
            **{f"v{p}": text(f"option{p}_value") for p in (1, 2, 3)},
        }
    ).with_columns(code=pl.when(pl.col("considered")).then(pl.col("code")))
    has = {p: pl.col(f"v{p}").str.strip_chars().fill_null("") != "" for p in (1, 2, 3)}
    # An integer id per product code: grouping 1M rows by it is several times faster than by the strings.
    frame = frame.with_columns(gid=pl.col("code").cast(pl.Categorical).to_physical())
    frame = frame.with_columns(
        multi=pl.col("gid").is_not_null() & (pl.len().over("gid") > 1),
        pattern=pl.concat_str([pl.when(has[p]).then(pl.lit(str(p))).otherwise(pl.lit("-")) for p in (1, 2, 3)]),
        **{f"name{p}": pl.when(has[p]).then(pl.col(f"n{p}")) for p in (1, 2, 3)},
        **{f"key{p}": pl.col(f"v{p}").fill_null("").str.strip_chars().str.to_lowercase() for p in (1, 2, 3)},
    )
    if not frame.get_column("multi").any():
        return

    checks = [
        ("title", "title", "title"),
        *((f"option{p}_name", f"name{p}", f"option {p}'s name") for p in (1, 2, 3)),
        ("option1_value", "pattern", "which options they have"),
    ]
    # Products whose variants all share one signature (title, option names, which options) agree on every
    # checked field; only the others (normally none) are counted field by field, exactly.
    signature = pl.struct([column for _, column, _ in checks]).hash()
    suspects = (
        frame.filter(pl.col("multi"))
        .group_by("gid")
        .agg((signature.n_unique() > 1).alias("suspect"))
        .filter(pl.col("suspect"))
        .get_column("gid")
    )
    suspect_rows = frame.filter(pl.col("gid").is_in(suspects.implode()))
    distinct = suspect_rows.group_by("gid").agg(
        *(pl.col(column).drop_nulls().n_unique().alias(f"d_{column}") for _, column, _ in checks)
    )
    joined = frame.select("gid", "multi", "key1", "key2", "key3").join(
        distinct, on="gid", how="left", maintain_order="left"
    )
    masks = joined.select(
        *(
            (pl.col("multi") & (pl.col(f"d_{column}") > 1)).alias(field_name + "|" + what)
            for field_name, column, what in checks
        ),
        multi=pl.col("multi"),
    )
    combination = pl.concat_str([pl.col("code"), pl.col("key1"), pl.col("key2"), pl.col("key3")], separator="|")
    multi_rows = masks.get_column("multi").fill_null(False).to_numpy()
    same_rows = _duplicated(joined, ["gid", "key1", "key2", "key3"], multi_rows)
    code = code_pd
    for name in masks.columns:
        if "|" not in name:
            continue
        field_name, what = name.split("|", 1)
        mask = pd.Series(masks.get_column(name).fill_null(False).to_numpy(), index=df.index)
        if mask.any():
            issues.add(
                mask,
                field_name,
                "variants of product " + code + f" disagree on {what}: rows " + _rows_listing(df, mask, code),
            )
    same = pd.Series(same_rows, index=df.index)
    if same.any():
        key = pd.Series(frame.select(combination).to_series().to_numpy(), index=df.index)
        issues.add(same, "option1_value", "variants have the same option values: rows " + _rows_listing(df, same, key))

    # The whole product is held back, not only the variants that differ.
    multi = pd.Series(masks.get_column("multi").fill_null(False).to_numpy(), index=df.index)
    failing = issues.error_rows() & multi
    if failing.any():
        rest = multi & code.isin(code[failing].unique()) & ~failing
        if rest.any():
            issues.add(
                rest,
                "source_product_code",
                "another variant of product " + code + " is invalid, so the whole product is held back",
            )


def _finish(df: pd.DataFrame, issues: _Issues, entity: str, state: pd.Series, keep: list[str]) -> ValidationResult:
    ignored = state == "ignore"
    invalid = issues.error_rows() & ~ignored.fillna(False)
    valid_mask = ~invalid & ~ignored.fillna(False)
    valid = df.loc[valid_mask, [c for c in keep if c in df.columns]].reset_index(drop=True)
    issue_frame = issues.frame()
    counts = {
        "rows": len(df),
        "valid": int(valid_mask.sum()),
        "invalid": int(invalid.sum()),
        "ignored": int(ignored.fillna(False).sum()),
        "deleted": int((valid_mask & (state == "delete")).sum()),
        "warnings": int((issue_frame["severity"] == "warning").sum()),
    }
    return ValidationResult(entity=entity, valid=valid, issues=issue_frame, counts=counts)


def validate_products(df: pd.DataFrame, source_id: str, settings: SiteSettings | None = None) -> ValidationResult:
    """Validate a canonical product frame (one row per variant), with the site's ``settings`` (the preset's
    defaults when None) deciding fractional quantities and price decimals."""
    import numpy as np
    import pandas as pd

    from stock2shop_sync.config import SiteSettings

    settings = settings or SiteSettings()
    df = df.copy()
    issues = _Issues(df, source_id, "products", "sku")
    _unreadable_rows(df, issues)
    _cleaned_text(df, issues)
    state = _parse_active(df, "product_active", issues)
    live = state.isin(["active", "delete"]).fillna(False)
    active = (state == "active").fillna(False)

    for name in ("source_product_code", "source_variant_code", "sku"):
        issues.add(live & _blank(_column(df, name)), name, f"{name} is required")
    for name in ("title", "price", "qty"):
        issues.add(active & _blank(_column(df, name)), name, f"{name} is required")

    tier_columns = [c for c in df.columns if c.startswith("price_")]
    stock_columns = [c for c in df.columns if c.startswith("qty_")]
    numbers = _parse_numbers(df, ["price", "qty", "grams", *tier_columns, *stock_columns])
    price, bad_price = numbers["price"]
    issues.add(active & bad_price, "price", "price must be a number")
    issues.add(active & (price < 0), "price", "price must not be negative")

    qty, bad_qty = numbers["qty"]
    fractional = ~bad_qty & qty.notna() & (qty != np.floor(qty.fillna(0)))
    too_large = qty.abs() > MAX_WHOLE
    issues.add(active & bad_qty, "qty", "qty must be a whole number")
    qty = _made_whole("qty", qty, fractional & ~too_large, settings.fractional_qty, issues, active)
    issues.add(active & too_large, "qty", f"qty is out of range (more than {MAX_WHOLE:,})")
    issues.add(
        active & (qty < 0) & ~fractional & ~too_large,
        "qty",
        "qty is negative; sent as 0 (Stock2Shop clamps negative stock)",
        "warning",
    )

    managed, bad_managed = _parse_bool(_column(df, "inventory_management"), default=True)
    issues.add(live & bad_managed, "inventory_management", "inventory_management must be true or false")

    grams, bad_grams = numbers["grams"]
    issues.add(active & (bad_grams | (grams < 0)), "grams", "grams must be a non-negative number")
    issues.add(active & (grams > MAX_WHOLE), "grams", f"grams is out of range (more than {MAX_WHOLE:,})")

    for position in (1, 2, 3):
        value, name = _column(df, f"option{position}_value"), _column(df, f"option{position}_name")
        issues.add(
            active & ~_blank(value) & _blank(name),
            f"option{position}_name",
            f"option{position}_value is set but option{position}_name is blank",
        )

    for name in ("sku", "source_variant_code"):
        _duplicates(df, name, live, issues)
    _check_groups(df, active, issues)

    df["product_active"] = state == "active"
    df["price"] = _to_cents(price, settings.price_decimals)
    df["qty"] = _whole(qty)
    df["inventory_management"] = managed.fillna(True).astype(bool)
    if "grams" in df.columns:
        df["grams"] = _whole(grams)
    for column in tier_columns:
        tier, bad_tier = numbers[column]
        issues.add(active & (bad_tier | (tier < 0)), column, f"{column} must be a non-negative number")
        df[column] = _to_cents(tier, settings.price_decimals)
    for column in stock_columns:
        wh, bad_wh = numbers[column]
        issues.add(active & bad_wh, column, f"{column} must be a whole number")
        out_of_range = wh.abs() > MAX_WHOLE
        wh_fractional = wh.notna() & (wh != np.floor(wh.fillna(0))) & ~out_of_range
        wh = _made_whole(column, wh, wh_fractional, settings.fractional_qty, issues, active)
        issues.add(active & out_of_range, column, f"{column} is out of range (more than {MAX_WHOLE:,})")
        df[column] = _whole(wh)
    keep = [c for c in df.columns if c != CLEANED]
    return _finish(df, issues, "products", pd.Series(state, index=df.index), keep)


def validate_customers(df: pd.DataFrame, source_id: str, settings: SiteSettings | None = None) -> ValidationResult:
    """Validate a canonical customer frame (``settings`` holds nothing customers use yet)."""
    import pandas as pd

    df = df.copy()
    issues = _Issues(df, source_id, "customers", "source_customer_code")
    _unreadable_rows(df, issues)
    _cleaned_text(df, issues)
    state = _parse_active(df, "customer_active", issues)
    live = state.isin(["active", "delete"]).fillna(False)
    active = (state == "active").fillna(False)

    issues.add(
        live & _blank(_column(df, "source_customer_code")), "source_customer_code", "source_customer_code is required"
    )
    for name in ("first_name", "last_name"):
        issues.add(active & _blank(_column(df, name)), name, f"{name} is required")
    email = _column(df, "email").str.strip()
    issues.add(active & _blank(email), "email", "email must not be blank")
    malformed = ~_blank(email) & ~email.str.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+").fillna(False)
    issues.add(active & malformed, "email", "email is not a valid address")
    _duplicates(df, "source_customer_code", live, issues)

    marketing, bad_marketing = _parse_bool(_column(df, "accepts_marketing"), default=False)
    issues.add(active & bad_marketing, "accepts_marketing", "accepts_marketing must be true or false")
    df["customer_active"] = state == "active"
    df["email"] = email
    df["accepts_marketing"] = marketing.fillna(False).astype(bool)
    keep = [c for c in df.columns if c != CLEANED]
    return _finish(df, issues, "customers", pd.Series(state, index=df.index), keep)


VALIDATORS = {"products": validate_products, "customers": validate_customers}


def check_threshold(result: ValidationResult, source_id: str, max_invalid_share: float) -> None:
    """Refuse the upload when the invalid share passes the threshold (a broken mapping must not wipe data)."""
    share = result.invalid_share
    if share > max_invalid_share:
        raise ValidationFailed(
            f"source {source_id!r}, {result.entity}: {result.counts['invalid']} of "
            f"{result.counts['rows'] - result.counts['ignored']} rows are invalid ({share:.1%}), more than the "
            f"allowed {max_invalid_share:.1%}; nothing was uploaded. See the quarantine report for each row's reason."
        )

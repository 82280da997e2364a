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

from stock2shop_sync.model.canonical import ROW, SOURCE_ERROR

if TYPE_CHECKING:
    import pandas as pd

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
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


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


def _parse_active(df: pd.DataFrame, column: str, issues: _Issues) -> pd.Series:
    raw = _column(df, column)
    state = raw.str.strip().str.lower().map(_ACTIVE_WORDS)
    issues.add(_blank(raw), column, f"{column} is blank; expected Ignore, Active or Delete")
    issues.add(~_blank(raw) & state.isna(), column, f"{column} must be Ignore, Active or Delete")
    return state


def _parse_bool(series: pd.Series, default: bool) -> tuple[pd.Series, pd.Series]:
    import pandas as pd

    text = series.str.strip().str.lower()
    parsed = pd.Series(default, index=series.index, dtype="boolean")
    parsed[text.isin(_TRUE)] = True
    parsed[text.isin(_FALSE)] = False
    bad = ~_blank(series) & ~text.isin(_TRUE | _FALSE)
    return parsed, bad


def _parse_number(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers from text: returns (values, mask of present-but-not-a-finite-number)."""
    import numpy as np
    import pandas as pd

    text = series.str.strip()
    # "1,299.00": thousands separators; "10,5" / "10,50": a decimal comma. Anything else is left to fail.
    thousands = text.str.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?").fillna(False)
    decimal_comma = text.str.fullmatch(r"[-+]?\d+,\d{1,2}").fillna(False)
    text = text.mask(thousands, text.str.replace(",", "", regex=False))
    text = text.mask(decimal_comma, text.str.replace(",", ".", regex=False))
    values = pd.to_numeric(text.mask((text == "").fillna(False)), errors="coerce").astype("float64")
    bad = ~_blank(series) & (values.isna() | ~np.isfinite(values.fillna(0)))
    return values.where(~bad), bad


def _whole(values: pd.Series) -> pd.Series:
    """Non-negative integers for the payload; out-of-range rows are quarantined, so clipping never reaches one."""
    return values.clip(lower=0, upper=MAX_WHOLE).fillna(0).round().astype("int64")


def _duplicates(df: pd.DataFrame, column: str, considered: pd.Series, issues: _Issues) -> None:
    values = _column(df, column)
    candidates = considered & ~_blank(values)
    dup = candidates & values.where(candidates).duplicated(keep=False)
    if not dup.any():
        return
    rows_by_value = df.loc[dup].groupby(column)[ROW].agg(lambda r: ", ".join(map(str, sorted(r))))
    reason = values.map(rows_by_value).radd(f"{column} is not unique within the source: it is on rows ")
    issues.add(dup, column, reason)


def _check_groups(df: pd.DataFrame, active: pd.Series, issues: _Issues) -> None:
    """Variants of one product (same ``source_product_code``) must agree on title and option names, have
    values for the same options, and each be a unique combination of option values (Stock2Shop ignores a
    product whose variants are inconsistent). A product that breaks a rule is quarantined whole."""
    import pandas as pd

    code = _column(df, "source_product_code")
    rows = active & ~_blank(code)
    sizes = code.where(rows).map(code.where(rows).value_counts())
    multi = rows & sizes.gt(1).fillna(False)
    if not multi.any():
        return

    def rows_of(mask: pd.Series, by: pd.Series) -> pd.Series:
        listed = df.loc[mask].groupby(by[mask])[ROW].agg(lambda r: ", ".join(map(str, sorted(r))))
        return by.map(listed)

    def disagree(values: pd.Series) -> pd.Series:
        counts = values.where(multi).groupby(code).nunique(dropna=True)
        return multi & code.map(counts).fillna(0).gt(1)

    present = [~_blank(_column(df, f"option{p}_value")) for p in (1, 2, 3)]
    pattern = pd.Series("", index=df.index, dtype="string")
    for position, has in zip((1, 2, 3), present, strict=True):
        pattern = pattern + has.map({True: str(position), False: "-"}).astype("string")
    checks = [("title", _column(df, "title").str.strip(), "title")]
    for position, has in zip((1, 2, 3), present, strict=True):
        name = _column(df, f"option{position}_name").str.strip().where(has)
        checks.append((f"option{position}_name", name, f"option {position}'s name"))
    checks.append(("option1_value", pattern, "which options they have"))
    for field_name, values, what in checks:
        mask = disagree(values)
        if mask.any():
            issues.add(
                mask, field_name, "variants of product " + code + f" disagree on {what}: rows " + rows_of(mask, code)
            )

    combination = code
    for position in (1, 2, 3):
        value = _column(df, f"option{position}_value").fillna("").str.strip().str.casefold()
        combination = combination + "|" + value
    same = multi & combination.where(multi).duplicated(keep=False) & combination.notna()
    if same.any():
        issues.add(same, "option1_value", "variants have the same option values: rows " + rows_of(same, combination))

    # The whole product is held back, not only the variants that differ.
    failing = issues.error_rows() & multi
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


def validate_products(df: pd.DataFrame, source_id: str) -> ValidationResult:
    """Validate a canonical product frame (one row per variant)."""
    import numpy as np
    import pandas as pd

    df = df.copy()
    issues = _Issues(df, source_id, "products", "sku")
    _unreadable_rows(df, issues)
    state = _parse_active(df, "product_active", issues)
    live = state.isin(["active", "delete"]).fillna(False)
    active = (state == "active").fillna(False)

    for name in ("source_product_code", "source_variant_code", "sku"):
        issues.add(live & _blank(_column(df, name)), name, f"{name} is required")
    for name in ("title", "price", "qty"):
        issues.add(active & _blank(_column(df, name)), name, f"{name} is required")

    price, bad_price = _parse_number(_column(df, "price"))
    issues.add(active & bad_price, "price", "price must be a number")
    issues.add(active & (price < 0), "price", "price must not be negative")

    qty, bad_qty = _parse_number(_column(df, "qty"))
    fractional = ~bad_qty & qty.notna() & (qty != np.floor(qty.fillna(0)))
    too_large = qty.abs() > MAX_WHOLE
    issues.add(active & bad_qty, "qty", "qty must be a whole number")
    issues.add(active & fractional, "qty", "qty must be a whole number")
    issues.add(active & too_large, "qty", f"qty is out of range (more than {MAX_WHOLE:,})")
    issues.add(
        active & (qty < 0) & ~fractional & ~too_large,
        "qty",
        "qty is negative; sent as 0 (Stock2Shop clamps negative stock)",
        "warning",
    )

    managed, bad_managed = _parse_bool(_column(df, "inventory_management"), default=True)
    issues.add(live & bad_managed, "inventory_management", "inventory_management must be true or false")

    grams, bad_grams = _parse_number(_column(df, "grams"))
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
    df["price"] = price.round(4)
    df["qty"] = _whole(qty)
    df["inventory_management"] = managed.fillna(True).astype(bool)
    if "grams" in df.columns:
        df["grams"] = _whole(grams)
    for column in [c for c in df.columns if c.startswith("price_")]:
        tier, bad_tier = _parse_number(df[column])
        issues.add(active & (bad_tier | (tier < 0)), column, f"{column} must be a non-negative number")
        df[column] = tier.round(4)
    for column in [c for c in df.columns if c.startswith("qty_")]:
        wh, bad_wh = _parse_number(df[column])
        issues.add(
            active & (bad_wh | (wh.notna() & (wh != np.floor(wh.fillna(0))))),
            column,
            f"{column} must be a whole number",
        )
        issues.add(active & (wh.abs() > MAX_WHOLE), column, f"{column} is out of range (more than {MAX_WHOLE:,})")
        df[column] = _whole(wh)
    keep = list(df.columns)
    return _finish(df, issues, "products", pd.Series(state, index=df.index), keep)


def validate_customers(df: pd.DataFrame, source_id: str) -> ValidationResult:
    """Validate a canonical customer frame."""
    import pandas as pd

    df = df.copy()
    issues = _Issues(df, source_id, "customers", "source_customer_code")
    _unreadable_rows(df, issues)
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
    return _finish(df, issues, "customers", pd.Series(state, index=df.index), list(df.columns))


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

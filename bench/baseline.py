"""What a typical Airflow user writes for the same job, for :mod:`bench.run` to compare against: the
provider's ``OdbcHook.get_df`` on the same query, and validation row by row in Python."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

ACTIVE = {"active", "ignore", "delete"}


def baseline_extract(conn_id: str, driver: str | None, query: str) -> pd.DataFrame:
    """``OdbcHook(...).get_df(query)``, as the common-sql provider documents it."""
    from airflow.providers.odbc.hooks.odbc import OdbcHook

    hook = OdbcHook(odbc_conn_id=conn_id, **({"driver": driver} if driver else {}))
    return hook.get_df(query, df_type="pandas")


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip().replace(",", ""))
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def baseline_validate(df: pd.DataFrame) -> tuple[list[dict[str, Any]], list[tuple[int, str, str]]]:
    """Row-wise checks of the canonical frame (required fields, numbers, active flag, unique SKUs, tiers and
    warehouses), returning the valid rows as dicts and one (row, field, reason) per problem."""
    valid: list[dict[str, Any]] = []
    errors: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    tiers = [c for c in df.columns if c.startswith("price_")]
    stock = [c for c in df.columns if c.startswith("qty_")]
    for n, row in enumerate(df.to_dict("records"), start=1):
        problems = []
        for name in ("source_product_code", "source_variant_code", "sku", "title"):
            if not isinstance(row.get(name), str) or not row[name].strip():
                problems.append((n, name, f"{name} is required"))
        active = str(row.get("product_active") or "").strip().lower()
        if active not in ACTIVE:
            problems.append((n, "product_active", "product_active must be Ignore, Active or Delete"))
        price = _number(row.get("price"))
        if price is None or price < 0:
            problems.append((n, "price", "price must be a non-negative number"))
        qty = _number(row.get("qty"))
        if qty is None or qty != int(qty):
            problems.append((n, "qty", "qty must be a whole number"))
        for column in tiers:
            if (value := _number(row.get(column))) is None or value < 0:
                problems.append((n, column, f"{column} must be a non-negative number"))
        for column in stock:
            if (value := _number(row.get(column))) is None or value != int(value):
                problems.append((n, column, f"{column} must be a whole number"))
        sku = row.get("sku")
        if sku in seen:
            problems.append((n, "sku", "sku is not unique"))
        seen.add(sku)
        if problems:
            errors += problems
        elif active != "ignore":
            valid.append(row)
    return valid, errors

"""Build Stock2Shop queue payloads from validated canonical frames.

Products follow ``POST /v1/products/queue`` (stock2shop-api-and-model.md, section 3.1): one queue item
per variant, ``variants`` an object, product-level fields repeated on each variant of a product.
Customers follow the contract we assume for ``POST /v1/customers/queue`` (README, "Stock2Shop API
contract"): the same ``source`` + entity envelope as products.

Console CSV conventions map to lists: ``price_<tier>`` -> ``price_tiers``, ``qty_<warehouse>`` ->
``qty_availability``, ``meta_<key>`` -> ``meta``, ``image1..N`` -> ``images``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

PRODUCT_TEXT_FIELDS = ("body_html", "collection", "product_type", "vendor", "tags")
_IMAGE = re.compile(r"^image([1-9][0-9]*)$")


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    return text if text.strip() else None


def _bool_text(value: Any) -> str:
    return "true" if bool(value) else "false"


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _suffix_columns(columns: list[str], prefix: str) -> list[tuple[str, str]]:
    return sorted((c, c[len(prefix) :]) for c in columns if c.startswith(prefix))


def build_product_items(valid: pd.DataFrame, stock2shop_source_id: int) -> list[dict[str, Any]]:
    """One ``system_products`` item per valid variant row."""
    columns = list(valid.columns)
    tiers = _suffix_columns(columns, "price_")
    warehouses = _suffix_columns(columns, "qty_")
    metas = _suffix_columns(columns, "meta_")
    images = sorted((int(m.group(1)), c) for c in columns if (m := _IMAGE.match(c)))
    items = []
    for row in valid.to_dict("records"):
        active = bool(row["product_active"])
        title = _text(row.get("title")) or row["sku"]
        product: dict[str, Any] = {"title": title}
        for name in PRODUCT_TEXT_FIELDS:
            if (value := _text(row.get(name))) is not None:
                product[name] = value
        options = []
        variant: dict[str, Any] = {
            "source_variant_code": row["source_variant_code"],
            "sku": row["sku"],
            "qty": int(row["qty"]),
            "price": _number(row.get("price")),
            "inventory_management": _bool_text(row["inventory_management"]),
        }
        for position in (1, 2, 3):
            value = _text(row.get(f"option{position}_value"))
            name = _text(row.get(f"option{position}_name"))
            if value is not None and name is not None:
                options.append({"name": name, "position": position})
            variant[f"option{position}"] = value
        if (barcode := _text(row.get("barcode"))) is not None:
            variant["barcode"] = barcode
        if "grams" in row:
            variant["grams"] = int(row["grams"])
        if tiers:
            variant["price_tiers"] = [{"tier": tier, "price": _number(row[c]) or 0.0} for c, tier in tiers]
        if warehouses:
            variant["qty_availability"] = [{"description": wh, "qty": int(row[c])} for c, wh in warehouses]
        product["options"] = options
        meta = [{"key": key, "value": value} for c, key in metas if (value := _text(row[c])) is not None]
        if meta:
            product["meta"] = meta
        srcs = [src for _, c in images if (src := _text(row[c]))]
        if srcs:
            product["images"] = [{"src": src, "position": i} for i, src in enumerate(srcs, start=1)]
        product["variants"] = variant
        items.append(
            {
                "source": {
                    "source_id": str(stock2shop_source_id),
                    "source_product_code": row["source_product_code"],
                    "product_active": _bool_text(active),
                    "sync_token": _text(row.get("sync_token")) or "0",
                    "fetch_token": "0",
                },
                "product": product,
            }
        )
    return items


def build_customer_items(valid: pd.DataFrame, stock2shop_source_id: int) -> list[dict[str, Any]]:
    """One ``system_customers`` item per valid customer row (the contract we assume)."""
    metas = _suffix_columns(list(valid.columns), "meta_")
    items = []
    for row in valid.to_dict("records"):
        customer: dict[str, Any] = {
            "first_name": _text(row.get("first_name")),
            "last_name": _text(row.get("last_name")),
            "email": _text(row.get("email")),
            "accepts_marketing": bool(row.get("accepts_marketing", False)),
        }
        meta = [{"key": key, "value": value} for c, key in metas if (value := _text(row[c])) is not None]
        if meta:
            customer["meta"] = meta
        items.append(
            {
                "source": {
                    "source_id": str(stock2shop_source_id),
                    "source_customer_code": row["source_customer_code"],
                    "customer_active": _bool_text(row["customer_active"]),
                },
                "customer": customer,
            }
        )
    return items


BUILDERS = {"products": build_product_items, "customers": build_customer_items}

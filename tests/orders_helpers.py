"""Builders for Stock2Shop orders and order-taking sources, shared by the order tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
import yaml


def system_order(
    order_id: int,
    s2s_source_id: int,
    lines: list[tuple[str, float, float]],
    *,
    customer_code: str | None = "ACC001",
    shipping: float = 0.0,
    exempt: bool = False,
    channel_order_code: str | None = None,
) -> dict[str, Any]:
    """A ``system_order`` as Stock2Shop stores it: lines of (sku, qty, unit price excl. tax), 15% VAT."""
    items = []
    for sku, qty, price in lines:
        tax = 0.0 if exempt else round(price * 0.15, 2)
        items.append(
            {
                "id": len(items) + 1,
                "sku": sku,
                "source_id": s2s_source_id,
                "source_variant_code": sku,
                "title": f"Item {sku}",
                "qty": qty,
                "price": price,
                "tax_per_unit": tax,
                "tax": round(tax * qty, 2),
                "total_discount": 0,
                "sub_total": round(price * qty, 2),
                "total": round((price + tax) * qty, 2),
                "tax_lines": [{"code": "exempt" if exempt else "taxed", "rate": 0 if exempt else 15, "title": "VAT"}],
            }
        )
    ship_tax = round(shipping * 0.15, 2)
    total = round(sum(i["total"] for i in items) + shipping + ship_tax, 2)
    return {
        "id": order_id,
        "client_id": 21,
        "channel_id": 1,
        "channel_order_code": channel_order_code or f"WEB{order_id}",
        "created": "2026-11-20 09:15:00",
        "notes": f"order {order_id}",
        "customer": {"first_name": "Thandi", "last_name": "Nkosi", "email": "thandi@example.com"},
        "shipping_address": {"address1": "12 Long Street", "city": "Cape Town", "zip": "8001", "country": "ZA"},
        "sources": [{"source_id": s2s_source_id, "source_customer_code": customer_code}] if customer_code else [],
        "line_items": items,
        "shipping_lines": (
            [
                {
                    "title": "Courier",
                    "price": shipping,
                    "tax": ship_tax,
                    "total": shipping + ship_tax,
                    "tax_lines": [{"code": "taxed", "rate": 15}],
                }
            ]
            if shipping
            else []
        ),
        "total": total,
    }


def add_orders(sandbox: str, orders: list[dict[str, Any]]) -> None:
    response = requests.post(f"{sandbox}/sandbox/orders", json={"system_orders": orders}, timeout=30)
    response.raise_for_status()


def sandbox_orders(sandbox: str, s2s_source_id: int) -> dict[str, dict[str, Any]]:
    rows = requests.get(f"{sandbox}/sandbox/orders", params={"source_id": s2s_source_id}, timeout=30).json()
    return {r["order_id"]: r for r in rows}


def write_order_source(
    folder: Path,
    source_id: str,
    *,
    preset: str,
    conn_id: str,
    driver: str,
    s2s_source_id: int,
    orders: dict[str, Any] | None = None,
) -> Path:
    """A source config of ``preset`` that takes orders through ``conn_id`` (also its read-write connection)."""
    config = {
        "source_id": source_id,
        "type": preset,
        "connection": {"conn_id": conn_id, "driver": driver},
        "stock2shop": {"conn_id": "stock2shop_default", "source_id": s2s_source_id},
        "orders": {
            "enabled": True,
            "conn_id": conn_id,
            "default_customer_code": "CASH",
            "shipping_code": "SHIP",
            "tax_code": "01",
            "tax_exempt_code": "00",
            "warehouse_code": "001",
            # Tests run several pushes back to back: no pause before retrying a transient failure.
            "retry_backoff_seconds": 0,
            "create_pause_seconds": 0,
            **(orders or {}),
        },
        "validation": {"max_invalid_share": 0.5},
    }
    path = folder / f"{source_id}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path

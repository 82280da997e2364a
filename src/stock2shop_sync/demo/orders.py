"""Demo web orders: put into the sandbox's order API (custom DB, Evolution) and an order-file drop (Pastel).

Run by ``make demo`` before the DAGs: ``python -m stock2shop_sync.demo.orders --sandbox URL --drop DIR``.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from pathlib import Path
from typing import Any


def _order(order_id: int, source: int, lines: list[tuple[str, int, float]], **extra: Any) -> dict[str, Any]:
    items = [
        {
            "id": n,
            "sku": sku,
            "source_id": source,
            "title": sku,
            "qty": qty,
            "price": price,
            "tax_per_unit": round(price * 0.15, 2),
            "tax_lines": [{"code": "taxed", "rate": 15, "title": "VAT"}],
        }
        for n, (sku, qty, price) in enumerate(lines, start=1)
    ]
    return {
        "id": order_id,
        "channel_order_code": f"WEB-{order_id}",
        "created": "2026-11-22T08:30:00Z",
        "customer": {"first_name": "Thandi", "last_name": "Nkosi", "email": "thandi@example.co.za"},
        "shipping_address": {"address1": "12 Long Street", "city": "Cape Town", "zip": "8001", "country": "ZA"},
        "line_items": items,
        **extra,
    }


def _shipping(price: float) -> list[dict[str, Any]]:
    return [{"title": "Courier", "price": price, "tax": round(price * 0.15, 2), "tax_lines": [{"code": "taxed"}]}]


API_ORDERS = [
    _order(
        50001,
        101,
        [("HW-HAMMER-16", 2, 349.95), ("HW-GLOVES-L", 4, 59.99)],
        sources=[{"source_id": 101, "source_customer_code": "ACC003"}],
        shipping_lines=_shipping(99.00),
    ),
    _order(50002, 101, [("HW-DRILL-18V", 1, 1899.00)]),  # a guest: the default (cash) account
    _order(50003, 102, [("RUN-TEE-BLK-M", 3, 399.00)], shipping_lines=_shipping(75.00)),
]
FILE_ORDERS = [_order(50004, 103, [("PVC-PIPE-20", 10, 45.50), ("PVC-ELB-20", 20, 6.20)])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sandbox", required=True, help="the sandbox's base URL")
    parser.add_argument("--drop", required=True, help="the Pastel demo's order-file folder")
    args = parser.parse_args()
    # Only the orders the sandbox does not hold yet: posting one again would make it pending anew (its
    # acknowledgement cleared), as if the channel had sent a second order (make cluster / make up run this on
    # every start).
    with urllib.request.urlopen(f"{args.sandbox}/sandbox/orders", timeout=30) as response:  # noqa: S310 - loopback
        held = {str(order["order_id"]) for order in json.load(response)}
    new = [order for order in API_ORDERS if str(order["id"]) not in held]
    if new:
        request = urllib.request.Request(  # noqa: S310 - the local sandbox
            f"{args.sandbox}/sandbox/orders",
            data=json.dumps({"system_orders": new}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local sandbox
            response.read()
    drop = Path(args.drop)
    drop.mkdir(parents=True, exist_ok=True)
    for order in FILE_ORDERS:
        (drop / f"{order['id']}.json").write_text(json.dumps({"system_order": order}, indent=2), encoding="utf-8")
    print(
        f"demo orders: {len(new)} new in the sandbox's order API ({len(API_ORDERS) - len(new)} there already), "
        f"{len(FILE_ORDERS)} file(s) in {drop}"
    )


if __name__ == "__main__":
    main()

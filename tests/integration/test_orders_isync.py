"""Orders raised through iSync's order endpoint (the local stand-in), with the real requests client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.isync import IsyncState
from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_order_sink
from stock2shop_sync.model.orders import OrderError, parse_order
from tests.integration.test_isync import isync  # noqa: F401 - the stand-in fixture
from tests.orders_helpers import system_order


def _sink(folder: Path) -> tuple[Any, Any]:
    path = folder / "isync_shop.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "source_id": "isync_shop",
                "type": "isync",
                "connection": {"conn_id": "isync_default"},
                "stock2shop": {"source_id": 105},
                "orders": {"enabled": True, "default_customer_code": "CASH", "shipping_code": "COURIER"},
            }
        )
    )
    config = load_source(path)
    return config, get_order_sink(config, resolve_mapping(config))


def test_an_order_goes_in_once_with_lines_delivery_and_shipping(
    isync: tuple[str, IsyncState],  # noqa: F811
    tmp_path: Path,
) -> None:
    _, state = isync
    config, sink = _sink(tmp_path)
    raw = system_order(
        71, 105, [("JKT-PUFFER-BLA-M", 1, 1299.0), ("DRS-WRAP-NAV-S", 2, 699.0)], customer_code="KT001", shipping=99.0
    )
    order = parse_order(raw, config.orders, 105)

    first = sink.raise_order(order)
    second = sink.raise_order(order)

    [saved] = state.orders
    assert first == ("ISO-000001", True)
    assert second == ("ISO-000001", False)  # found by its PONumber
    assert (saved["PONumber"], saved["CustomerCode"], saved["OrderDate"]) == ("S2S-71", "KT001", "2026-11-20")
    assert saved["DeliveryDetail"]["City"] == "Cape Town"
    assert [(x["ProductStockID"], x["Units"], x["SellingPrice"], x["LineType"]) for x in saved["Lines"]] == [
        ("JKT-PUFFER-BLA-M", 1.0, 1299.0, 1),
        ("DRS-WRAP-NAV-S", 2.0, 699.0, 1),
        ("COURIER", 1, 99.0, 4),
    ]


def test_an_unknown_sku_fails_the_order_naming_it(
    isync: tuple[str, IsyncState],  # noqa: F811
    tmp_path: Path,
) -> None:
    _, state = isync
    config, sink = _sink(tmp_path)
    order = parse_order(system_order(72, 105, [("NOT-IN-ISYNC", 1, 10.0)], customer_code=None), config.orders, 105)

    with pytest.raises(
        OrderError, match="order 72: iSync refused the order: Line 1: unknown ProductStockID NOT-IN-ISYNC"
    ):
        sink.raise_order(order)
    assert state.orders == []

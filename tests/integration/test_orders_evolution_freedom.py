"""Evolution orders through the Freedom REST sink, against its local stand-in with the real requests client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.evolution_freedom import FreedomState, create_freedom_app
from sandbox.server import running_app
from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_order_sink
from stock2shop_sync.connectors.evolution_freedom import FreedomError
from stock2shop_sync.model.orders import OrderError, parse_order
from tests.conftest import set_connection
from tests.orders_helpers import system_order


@pytest.fixture
def freedom(monkeypatch: pytest.MonkeyPatch) -> Iterator[FreedomState]:
    state = FreedomState()
    with running_app(create_freedom_app(state)) as url:
        set_connection(
            monkeypatch,
            "evo_freedom",
            {"conn_type": "http", "host": url, "schema": state.database, "login": state.username,
             "password": state.password},
        )  # fmt: skip
        state.url = url  # type: ignore[attr-defined]
        yield state


def _sink(folder: Path, **orders: Any) -> tuple[Any, Any]:
    path = folder / "evo.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "source_id": "evo",
                "type": "sage_evolution",
                "connection": {"conn_id": "evo_read", "driver": "SQLite3"},
                "stock2shop": {"source_id": 102},
                "mapping_overrides": {"orders": {"sink": "evolution_freedom"}},
                "orders": {
                    "enabled": True,
                    "conn_id": "evo_freedom",
                    "default_customer_code": "CASH01",
                    "shipping_code": "COURIER",
                    "warehouse_code": "JHB",
                    "tax_code": "1",
                    **orders,
                },
            }
        )
    )
    config = load_source(path)
    return config, get_order_sink(config, resolve_mapping(config))


def test_a_sales_order_is_placed_once(freedom: FreedomState, tmp_path: Path) -> None:
    config, sink = _sink(tmp_path)
    order = parse_order(
        system_order(81, 102, [("RUN-TEE-BLK-M", 2, 399.0)], customer_code="RUN001", shipping=75.0), config.orders, 102
    )

    assert sink.raise_order(order) == ("SO0000001", True)
    assert sink.raise_order(order) == ("SO0000001", False)  # found by ExternalOrderNo

    [placed] = freedom.orders
    assert (placed["CustomerAccountCode"], placed["ExternalOrderNo"], placed["DocumentType"]) == (
        "RUN001",
        "S2S-81",
        "SalesOrder",
    )
    assert [(x["StockCode"], x["WarehouseCode"], x["Quantity"], x["UnitSellingPrice"], x["TaxCode"])
            for x in placed["Lines"]] == [("RUN-TEE-BLK-M", "JHB", 2.0, 399.0, "1"), ("COURIER", "JHB", 1, 75.0, "1")]  # fmt: skip


def test_an_unknown_stock_code_fails_the_order_naming_it(freedom: FreedomState, tmp_path: Path) -> None:
    config, sink = _sink(tmp_path)
    order = parse_order(system_order(82, 102, [("NOPE-9", 1, 1.0)], customer_code=None), config.orders, 102)

    with pytest.raises(
        OrderError, match="order 82: Freedom refused SalesOrderPlaceOrder: Line 1: inventory item NOPE-9"
    ):
        sink.raise_order(order)
    assert freedom.orders == []


def test_a_wrong_password_is_refused_without_leaking_it(
    freedom: FreedomState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(
        monkeypatch,
        "evo_freedom",
        {"conn_type": "http", "host": freedom.url, "schema": "EvoDemo", "login": "x", "password": "pw-9f3k"},  # type: ignore[attr-defined]
    )
    config, sink = _sink(tmp_path)
    order = parse_order(system_order(83, 102, [("RUN-TEE-BLK-M", 1, 1.0)]), config.orders, 102)

    with pytest.raises(FreedomError, match="Freedom refused the credentials of connection 'evo_freedom'") as caught:
        sink.raise_order(order)
    assert "pw-9f3k" not in str(caught.value)
    assert freedom.orders == []

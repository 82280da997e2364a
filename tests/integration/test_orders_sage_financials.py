"""Orders raised as Sage Financials trade documents through the Salesforce provider (simple-salesforce) against
the TLS stand-in of Salesforce's REST API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.salesforce import SalesforceState
from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_order_sink
from stock2shop_sync.model.orders import OrderError, parse_order
from tests.orders_helpers import system_order

HEADER, LINE = "s2cor__Sage_INV_Trade_Document__c", "s2cor__Sage_INV_Trade_Document_Item__c"


def _sink(folder: Path) -> tuple[Any, Any]:
    path = folder / "financials.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "source_id": "financials",
                "type": "sage_financials",
                "connection": {"conn_id": "s2s_demo_sage_financials"},
                "stock2shop": {"source_id": 106},
                "orders": {"enabled": True, "default_customer_code": "CASH", "shipping_code": "OFF-025"},
            }
        )
    )
    config = load_source(path)
    return config, get_order_sink(config, resolve_mapping(config))


def test_a_trade_document_with_its_lines_is_created_once(
    salesforce: tuple[str, SalesforceState], tmp_path: Path
) -> None:
    _, state = salesforce
    config, sink = _sink(tmp_path)
    order = parse_order(
        system_order(91, 106, [("OFF-001", 2, 1010.0), ("OFF-002", 1, 1020.0)], customer_code="OFFW02", shipping=150.0),
        config.orders,
        106,
    )

    first = sink.raise_order(order)
    second = sink.raise_order(order)

    [header] = state.records[HEADER]
    assert first == ("TD-000001", True)
    assert second == ("TD-000001", False)
    assert (header["s2cor__Reference__c"], header["s2cor__Account__c"], header["s2cor__Type__c"]) == (
        "S2S-91",
        "0015g00000OFFW02",
        "sales_invoice",
    )
    lines = state.records[LINE]
    assert [(x["s2cor__Product__c"], x["s2cor__Quantity__c"], x["s2cor__Unit_Price__c"]) for x in lines] == [
        ("01t000000000000001", 2.0, 1010.0),
        ("01t000000000000002", 1.0, 1020.0),
        ("01t000000000000025", 1, 150.0),
    ]
    assert {x["s2cor__Trade_Document__c"] for x in lines} == {header["Id"]}


def test_a_half_written_document_is_replaced_not_acknowledged(
    salesforce: tuple[str, SalesforceState], tmp_path: Path
) -> None:
    _, state = salesforce
    config, sink = _sink(tmp_path)
    order = parse_order(
        system_order(92, 106, [("OFF-003", 1, 1030.0), ("OFF-004", 1, 1040.0)], customer_code=None), config.orders, 106
    )
    sink.raise_order(order)
    state.records[LINE].pop()  # as if the worker died between the two line creates

    number, created = sink.raise_order(order)

    assert created is True
    assert [h["s2cor__Reference__c"] for h in state.records[HEADER]] == ["S2S-92"]
    assert len(state.records[LINE]) == 2
    assert number == state.records[HEADER][0]["Name"]


def test_an_unknown_sku_fails_the_order_naming_it(salesforce: tuple[str, SalesforceState], tmp_path: Path) -> None:
    _, state = salesforce
    config, sink = _sink(tmp_path)
    order = parse_order(
        system_order(93, 106, [("OFF-001", 1, 1.0), ("NOPE", 1, 1.0)], customer_code=None), config.orders, 106
    )

    with pytest.raises(OrderError, match=r"order 93: line 2: item 'NOPE' does not exist in Sage Financials"):
        sink.raise_order(order)
    assert state.records.get(HEADER, []) == []

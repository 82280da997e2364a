"""Parsing Stock2Shop's system_order, routing it to its source and the fields sinks write."""

from __future__ import annotations

from typing import Any

import pytest

from stock2shop_sync.config import OrderSettings, SourceConfig
from stock2shop_sync.model.orders import (
    OrderError,
    TransientOrderError,
    external_order_no,
    header_fields,
    line_fields,
    parse_order,
    route_order,
)
from tests.orders_helpers import system_order

SETTINGS = OrderSettings(enabled=True, default_customer_code="CASH", shipping_code="SHIP", tax_code="01")


def _config(**orders: Any) -> SourceConfig:
    return SourceConfig.model_validate(
        {
            "source_id": "shop",
            "type": "custom_database",
            "connection": {"conn_id": "x"},
            "stock2shop": {"source_id": 101},
            "orders": {"enabled": True, **orders},
        }
    )


def test_a_full_order_parses_into_document_lines_and_totals() -> None:
    raw = {"system_order": system_order(12, 101, [("A-1", 2, 100.0), ("B-2", 1, 50.0)], shipping=80.0)}

    order = parse_order(raw, SETTINGS, 101)

    assert order.order_id == "12"
    assert order.customer_code == "ACC001"
    assert [(line.sku, line.qty, line.price, line.tax, line.is_shipping) for line in order.lines] == [
        ("A-1", 2.0, 100.0, 30.0, False),
        ("B-2", 1.0, 50.0, 7.5, False),
        ("SHIP", 1, 80.0, 12.0, True),
    ]
    assert (order.total_excl, order.tax, order.total_incl) == (330.0, 49.5, 379.5)
    assert order.total_incl == order.stated_total
    header = header_fields(order, SETTINGS, "sales_order")
    assert header["external_order_no"] == "S2S-12"
    assert header["order_date"] == "2026-11-20"
    assert header["delivery_city"] == "Cape Town"
    lines = line_fields(order, SETTINGS)
    assert [(f["line_no"], f["tax_code"], f["price_incl"]) for f in lines] == [
        (1, "01", 115.0),
        (2, "01", 57.5),
        (3, "01", 92.0),
    ]


def test_customer_account_comes_from_the_source_then_the_default() -> None:
    guest = system_order(1, 101, [("A-1", 1, 10.0)], customer_code=None)
    assert parse_order(guest, SETTINGS, 101).customer_code == "CASH"
    with pytest.raises(OrderError, match="order 1: no customer account"):
        parse_order(guest, OrderSettings(enabled=True), 101)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o["line_items"][0].update(qty=0), r"order 7 line 1 \(sku 'A-1'\): qty must be greater than 0"),
        (lambda o: o["line_items"][0].update(price="abc"), r"line 1 \(sku 'A-1'\): price must be a number"),
        (lambda o: o["line_items"][0].update(sku="  "), "order 7 line 1: sku is required"),
        (lambda o: o.update(line_items=[]), "order 7: line_items is missing or empty"),
        (
            lambda o: o["line_items"][0].update(tax_lines=[{"code": "zero"}]),
            "tax_lines code 'zero' is neither 'taxed' nor 'exempt'",
        ),
        (lambda o: o.update(created="yesterday"), "created 'yesterday' is not an ISO date"),
    ],
)
def test_bad_orders_name_the_order_line_and_field(change: Any, message: str) -> None:
    raw = system_order(7, 101, [("A-1", 1, 10.0)])
    change(raw)

    with pytest.raises(OrderError, match=message):
        parse_order(raw, SETTINGS, 101)


def test_shipping_needs_an_erp_item() -> None:
    raw = system_order(3, 101, [("A-1", 1, 10.0)], shipping=50.0)

    with pytest.raises(OrderError, match=r"shipping of 50\.00 needs an ERP item to go on; set orders.shipping_code"):
        parse_order(raw, OrderSettings(enabled=True, default_customer_code="C"), 101)


def test_the_reference_is_the_stock2shop_id_or_the_channel_number() -> None:
    order = parse_order(system_order(44, 101, [("A-1", 1, 10.0)], channel_order_code="#1044"), SETTINGS, 101)

    by_channel = SETTINGS.model_copy(update={"use_channel_order_code": True})
    other_channel = parse_order(
        {**system_order(45, 101, [("A-1", 1, 10.0)], channel_order_code="#1044"), "channel_id": 2}, SETTINGS, 101
    )

    assert external_order_no(order, SETTINGS) == "S2S-44"
    # The channel's number, kept apart from another channel's order with the same number.
    assert external_order_no(order, by_channel) == "C1-#1044"
    assert external_order_no(other_channel, by_channel) == "C2-#1044"
    with pytest.raises(OrderError, match="channel_id is blank"):
        external_order_no(
            parse_order({**system_order(46, 101, [("A-1", 1, 1.0)]), "channel_id": None}, SETTINGS, 101), by_channel
        )


def test_routing_accepts_held_skus_case_insensitively_and_refuses_others() -> None:
    order = parse_order(system_order(5, 101, [(" a-1", 1, 10.0), ("B-2", 1, 5.0)]), SETTINGS, 101)
    config = _config()

    route_order(order, config, {"a-1", "b-2"})
    with pytest.raises(OrderError, match="order 5 line 2: sku 'B-2' is not a product of source shop"):
        route_order(order, config, {"a-1"})
    # Nothing synced yet (a new source, a moved state store): the order waits, it is not refused.
    with pytest.raises(TransientOrderError, match="has not synced any products yet"):
        route_order(order, config, set())
    foreign = parse_order(system_order(6, 202, [("A-1", 1, 10.0)]), SETTINGS, 202)
    with pytest.raises(OrderError, match="belongs to Stock2Shop source 202, which no config here feeds"):
        route_order(foreign, config, {"a-1"})


HEADER_SHIPPING = OrderSettings(enabled=True, default_customer_code="CASH", shipping="header", tax_code="01")


def test_header_shipping_is_no_line_but_in_the_totals_and_the_header_fields() -> None:
    raw = system_order(12, 101, [("A-1", 2, 100.0), ("B-2", 1, 50.0)], shipping=80.0)

    order = parse_order(raw, HEADER_SHIPPING, 101)  # no shipping_code needed

    assert [(line.sku, line.is_shipping) for line in order.lines] == [("A-1", False), ("B-2", False)]
    assert (order.total_excl, order.tax, order.total_incl) == (330.0, 49.5, 379.5)
    assert order.total_incl == order.stated_total
    header = header_fields(order, HEADER_SHIPPING, "sales_order")
    assert (header["shipping_excl"], header["shipping_tax"], header["shipping_incl"]) == (80.0, 12.0, 92.0)
    assert (header["total_excl"], header["total_tax"], header["total_incl"], header["line_count"]) == (
        330.0,
        49.5,
        379.5,
        2,
    )
    assert [f["line_no"] for f in line_fields(order, HEADER_SHIPPING)] == [1, 2]


def test_shipping_amounts_are_in_the_header_fields_in_both_modes_and_0_without_shipping() -> None:
    shipped = parse_order(system_order(13, 101, [("A-1", 1, 100.0)], shipping=80.0), SETTINGS, 101)
    unshipped = parse_order(system_order(14, 101, [("A-1", 1, 100.0)]), HEADER_SHIPPING, 101)

    line_mode = header_fields(shipped, SETTINGS, "sales_order")
    assert (line_mode["shipping_excl"], line_mode["shipping_tax"], line_mode["shipping_incl"]) == (80.0, 12.0, 92.0)
    none = header_fields(unshipped, HEADER_SHIPPING, "sales_order")
    assert (none["shipping_excl"], none["shipping_tax"], none["shipping_incl"]) == (0, 0, 0)
    assert (unshipped.total_excl, unshipped.total_incl) == (100.0, 115.0)


def test_a_header_shipping_document_without_a_shipping_line_is_the_orders() -> None:
    from stock2shop_sync.connectors.base import Document, check_document

    order = parse_order(system_order(15, 101, [("A-1", 2, 100.0)], shipping=80.0), HEADER_SHIPPING, 101)

    check_document(order, Document("9", (("a-1", 2.0),)), "S2S-15")
    with pytest.raises(OrderError, match=r"document: 2 x a-1, 1 x ship; order: 2 x a-1"):
        check_document(order, Document("9", (("A-1", 2.0), ("SHIP", 1.0))), "S2S-15")


def test_the_shipping_setting_is_line_or_header() -> None:
    from pydantic import ValidationError

    assert OrderSettings().shipping == "line"
    with pytest.raises(ValidationError, match="shipping"):
        OrderSettings(shipping="both")


def test_a_discontinued_sku_is_told_apart_from_an_unknown_one() -> None:
    from datetime import UTC, datetime

    order = parse_order(system_order(8, 101, [("A-1", 1, 10.0), ("42", 1, 5.0)]), SETTINGS, 101)
    config = _config()
    removed = {"42": datetime(2026, 12, 7, 6, 30, tzinfo=UTC)}

    with pytest.raises(OrderError) as discontinued:
        route_order(order, config, {"a-1"}, None, removed)
    with pytest.raises(OrderError) as unknown:
        route_order(order, config, {"a-1"}, None, {})

    assert str(discontinued.value) == (
        "order 8 line 2: sku '42' was discontinued: source shop removed it from Stock2Shop on 2026-12-07; the order "
        "can be raised once the product is synced as active again"
    )
    assert str(unknown.value) == (
        "order 8 line 2: sku '42' is not a product of source shop: it is unknown to the source, which never synced "
        "a product with that SKU"
    )
    # Every product removed is still a source that has synced: the order is refused, it does not wait.
    with pytest.raises(OrderError, match="was discontinued"):
        route_order(order, config, set(), None, {"a-1": removed["42"]})

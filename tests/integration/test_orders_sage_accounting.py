"""Orders raised as Sage Accounting documents on both APIs (the local stand-in), through the order push."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.sage_accounting import SageState
from stock2shop_sync import pipeline
from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_order_sink
from stock2shop_sync.hooks.sage_accounting import MemoryTokenStore, SageAccountingError
from stock2shop_sync.model.orders import OrderError, parse_order
from stock2shop_sync.state import StateStore
from tests.integration.test_sage_accounting import sage  # noqa: F401 - the stand-in fixture
from tests.orders_helpers import add_orders, sandbox_orders, system_order


def _config(folder: Path, region: str, document_type: str) -> Path:
    path = folder / f"sage_{region}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "source_id": f"sage_{region}",
                "type": "sage_accounting",
                "connection": {"conn_id": "sage_accounting_default"},
                "stock2shop": {"source_id": 101},
                "api": {"region": region},
                "orders": {"enabled": True, "document_type": document_type, "default_customer_code": "TRAIL01"},
            }
        )
    )
    return path


def _sink(path: Path) -> Any:
    config = load_source(path)
    sink = get_order_sink(config, resolve_mapping(config))
    sink.hook.token_store = MemoryTokenStore()  # no Airflow Variable outside a task
    return config, sink


@pytest.mark.parametrize(
    ("document_type", "service", "prefix"),
    [("tax_invoice", "TaxInvoice", "INV"), ("sales_order", "SalesOrder", "SO"), ("quote", "Quote", "QUO")],
)
def test_za_raises_the_chosen_document_once(
    sage: tuple[str, SageState],  # noqa: F811
    tmp_path: Path,
    document_type: str,
    service: str,
    prefix: str,
) -> None:
    _, state = sage
    config, sink = _sink(_config(tmp_path, "za", document_type))
    order = parse_order(
        system_order(31, 101, [("OUT-0002", 2, 103.0), ("OUT-0007", 1, 110.5)], customer_code="SUMMIT02"),
        config.orders,
        101,
    )

    first = sink.raise_order(order)
    second = sink.raise_order(order)

    [document] = state.documents[service]
    assert {name for name, docs in state.documents.items() if docs} == {service}  # the chosen endpoint only
    assert document["DocumentNumber"].startswith(prefix)
    assert first == (document["DocumentNumber"], True)
    assert second == (document["DocumentNumber"], False)  # found by its Reference, not raised again
    assert (document["CustomerId"], document["Reference"], document["Date"]) == (2, "S2S-31", "2026-11-20")
    assert [(line["SelectionId"], line["Quantity"], line["UnitPriceExclusive"]) for line in document["Lines"]] == [
        (5002, 2.0, 103.0),
        (5007, 1.0, 110.5),
    ]
    assert document["Exclusive"] == pytest.approx(316.5)


def test_za_unknown_item_or_customer_fails_the_order_by_name(
    sage: tuple[str, SageState],  # noqa: F811
    tmp_path: Path,
) -> None:
    config, sink = _sink(_config(tmp_path, "za", "tax_invoice"))
    unknown_item = parse_order(system_order(32, 101, [("NOPE-1", 1, 1.0)], customer_code=None), config.orders, 101)
    unknown_customer = parse_order(
        system_order(33, 101, [("OUT-0002", 1, 1.0)], customer_code="GHOST"), config.orders, 101
    )

    with pytest.raises(OrderError, match=r"order 32: line 1: item 'NOPE-1' does not exist in Sage Accounting"):
        sink.raise_order(unknown_item)
    with pytest.raises(OrderError, match=r"order 33: customer 'GHOST' does not exist in Sage Accounting"):
        sink.raise_order(unknown_customer)


@pytest.mark.parametrize(
    ("document_type", "resource", "lines_key", "number_key"),
    [
        ("tax_invoice", "sales_invoices", "invoice_lines", "invoice_number"),
        ("quote", "sales_quotes", "quote_lines", "quote_number"),
    ],
)
def test_global_raises_the_chosen_document_once(
    sage: tuple[str, SageState],  # noqa: F811
    tmp_path: Path,
    document_type: str,
    resource: str,
    lines_key: str,
    number_key: str,
) -> None:
    _, state = sage
    config, sink = _sink(_config(tmp_path, "global", document_type))
    order = parse_order(
        system_order(41, 101, [("OUT-0003", 3, 104.5), ("OUT-0007", 2, 110.5)], customer_code="TRAIL01"),
        config.orders,
        101,
    )

    number, created = sink.raise_order(order)
    again = sink.raise_order(order)

    [document] = state.documents[resource]
    assert {name for name, docs in state.documents.items() if docs} == {resource}  # the chosen endpoint only
    assert (number, created) == (document[number_key], True)
    assert again == (number, False)  # found by searching its reference
    assert (document["contact_id"], document["reference"], document["date"]) == ("c1", "S2S-41", "2026-11-20")
    assert [(x["product_id"], x["quantity"], x["unit_price"]) for x in document[lines_key]] == [
        ("si0003", 3.0, 104.5),
        ("si0007", 2.0, 110.5),
    ]
    assert document["net_amount"] == pytest.approx(order.total_excl) == pytest.approx(534.5)


def test_global_refuses_sales_orders_when_the_sink_opens(
    sage: tuple[str, SageState],  # noqa: F811
    tmp_path: Path,
) -> None:
    with pytest.raises(OrderError, match=r"v3\.1 API has no sales_order documents; choose orders\.document_type"):
        _sink(_config(tmp_path, "global", "sales_order"))


def test_global_unknown_item_or_customer_fails_the_order_by_name(
    sage: tuple[str, SageState],  # noqa: F811
    tmp_path: Path,
) -> None:
    _, state = sage
    config, sink = _sink(_config(tmp_path, "global", "tax_invoice"))
    unknown_item = parse_order(
        system_order(42, 101, [("OUT-0003", 1, 1.0), ("NOPE-9", 1, 1.0)], customer_code=None), config.orders, 101
    )
    unknown_customer = parse_order(
        system_order(43, 101, [("OUT-0003", 1, 1.0)], customer_code="GHOST"), config.orders, 101
    )

    with pytest.raises(OrderError, match=r"order 42: line 2: item 'NOPE-9' does not exist in Sage Accounting"):
        sink.raise_order(unknown_item)
    with pytest.raises(OrderError, match=r"order 43: customer 'GHOST' does not exist in Sage Accounting"):
        sink.raise_order(unknown_customer)
    assert not state.documents.get("sales_invoices")


def test_a_document_sage_refuses_is_an_order_error_with_its_message(
    sage: tuple[str, SageState],  # noqa: F811
    tmp_path: Path,
) -> None:
    """The item was found (and its id kept for the run) but is gone when the document is saved: Sage's 4xx
    answer fails the order with Sage's own message, on both APIs."""
    _, state = sage
    za_config, za_sink = _sink(_config(tmp_path, "za", "tax_invoice"))
    gl_config, gl_sink = _sink(_config(tmp_path, "global", "tax_invoice"))
    for config, sink in ((za_config, za_sink), (gl_config, gl_sink)):
        sink.raise_order(
            parse_order(system_order(61, 101, [("OUT-0004", 1, 10.0)], customer_code=None), config.orders, 101)
        )
    state.items = [i for i in state.items if i["Code"] != "OUT-0004"]
    state.stock_items = [i for i in state.stock_items if i["item_code"] != "OUT-0004"]

    with pytest.raises(OrderError, match=r"order 62: Sage Accounting refused the TaxInvoice: Line 1: item 5004"):
        za_sink.raise_order(
            parse_order(system_order(62, 101, [("OUT-0004", 1, 10.0)], customer_code=None), za_config.orders, 101)
        )
    with pytest.raises(
        OrderError, match=r"order 62: Sage Accounting refused the sales_invoice: line 1: product si0004"
    ):
        gl_sink.raise_order(
            parse_order(system_order(62, 101, [("OUT-0004", 1, 10.0)], customer_code=None), gl_config.orders, 101)
        )
    assert [d["Reference"] for d in state.documents["TaxInvoice"]] == ["S2S-61"]
    assert [d["reference"] for d in state.documents["sales_invoices"]] == ["S2S-61"]


def test_transient_refusals_are_retried_or_propagate_not_order_errors(
    sage: tuple[str, SageState],  # noqa: F811
    tmp_path: Path,
) -> None:
    _, state = sage
    gl_config, gl_sink = _sink(_config(tmp_path, "global", "tax_invoice"))
    first = parse_order(system_order(70, 101, [("OUT-0005", 1, 10.0)], customer_code=None), gl_config.orders, 101)
    order = parse_order(system_order(71, 101, [("OUT-0005", 1, 10.0)], customer_code=None), gl_config.orders, 101)
    gl_sink.raise_order(first)  # the customer's and item's ids are now known: create() only POSTs
    assert gl_sink.find(order) is None
    state.throttle_next = 1  # the POST is answered 429 once, then saved

    number = gl_sink.create(order)

    assert [d["reference"] for d in state.documents["sales_invoices"]] == ["S2S-70", "S2S-71"]
    assert state.documents["sales_invoices"][1]["invoice_number"] == number
    assert state.throttle_next == 0
    za_config, za_sink = _sink(_config(tmp_path, "za", "tax_invoice"))
    za_sink.hook.max_retries = 1
    za_order = parse_order(system_order(72, 101, [("OUT-0005", 1, 10.0)], customer_code=None), za_config.orders, 101)
    state.blocked = True  # Sage blocks the IP: 429 for an hour
    with pytest.raises(SageAccountingError) as refused:
        za_sink.raise_order(za_order)
    assert refused.value.retryable
    assert not isinstance(refused.value, OrderError)


def test_the_push_acknowledges_sage_document_numbers(
    sage: tuple[str, SageState],  # noqa: F811
    sandbox: str,
    tmp_path: Path,
    state_store: str,
) -> None:
    _, state = sage
    config, sink = _sink(_config(tmp_path, "za", "tax_invoice"))
    store = StateStore(state_store)
    store.record_synced(config.source_id, ["OUT-0002", "OUT-0003"])
    add_orders(sandbox, [system_order(n, 101, [("OUT-0002", 1, 103.0)], customer_code=None) for n in (51, 52)])

    result = pipeline.push_orders(config, store=store, sink=sink)

    assert result["counts"] == {"pending": 2, "raised": 2}
    numbers = [d["DocumentNumber"] for d in state.documents["TaxInvoice"]]
    assert [o["source_order_code"] for o in sandbox_orders(sandbox, 101).values()] == numbers

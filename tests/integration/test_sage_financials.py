"""Sage Financials through the Salesforce provider's hook (simple-salesforce) against a TLS stand-in on loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.salesforce import SalesforceState
from stock2shop_sync.config import load_source, resolve_mapping
from stock2shop_sync.connectors import get_connector
from tests.conftest import ROOT


def _connector(folder: Path) -> Any:
    path = folder / "fin.yaml"
    path.write_text((ROOT / "include" / "sources" / "demo_sage_financials.yaml").read_text())
    config = load_source(path)
    return get_connector(config, resolve_mapping(config))


def test_product_query_pages_through_next_records_url(salesforce: tuple[str, SalesforceState], tmp_path: Path) -> None:
    _, state = salesforce
    frame = _connector(tmp_path).extract("products")
    assert len(frame) == 25
    assert "LastModifiedDate != null" in state.queries[0]  # a full read
    assert any(path.endswith("-10") for path in state.requests)  # followed nextRecordsUrl
    row = frame.loc[frame["sku"] == "OFF-007"].iloc[0]
    assert (row["title"], row["collection"], row["price"], row["price_Trade"]) == (
        "Chair 7",
        "Chairs",
        "1070.0",
        "870.0",
    )


def test_incremental_condition_is_sent(salesforce: tuple[str, SalesforceState], tmp_path: Path) -> None:
    _, state = salesforce
    frame = _connector(tmp_path).extract("products", since=datetime(2026, 11, 18, 0, 0, tzinfo=UTC))
    assert "LastModifiedDate > 2026-11-18T00:00:00Z" in state.queries[0]
    assert 0 < len(frame) < 25

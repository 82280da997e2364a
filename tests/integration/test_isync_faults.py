"""The iSync hook over HTTP against the iSync stand-in with faults injected (sandbox/faults.py): every page arrives
once and in order through 429s, 5xx answers, timeouts, connection resets and slow answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.faults import FAULT_KINDS, FaultSettings
from sandbox.isync import create_isync_app, demo_state
from sandbox.server import running_app
from stock2shop_sync.config import SourceConfig, load_source, resolve_mapping
from stock2shop_sync.connectors import get_connector
from stock2shop_sync.hooks.isync import IsyncError, IsyncHook, IsyncPagingError
from tests.conftest import ROOT, set_connection

OPTIONS = yaml.safe_load((ROOT / "include" / "mappings" / "isync.yaml").read_text())["products"]["options"]


def many_products(count: int) -> list[dict[str, Any]]:
    template = demo_state().products[0]
    return [{**template, "SKU": f"ISY-{n:05d}", "AvailableUnits": n % 7} for n in range(count)]


def test_every_page_arrives_once_through_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    state = demo_state()
    state.products = many_products(410)  # 21 pages of 20, the last short: the read ends at the reported total
    faults = FaultSettings(rate=0.4, seed=11, hang=1.2, slow=0.2, retry_after=0.05)
    app = create_isync_app(state, faults)
    with running_app(app) as url:
        set_connection(
            monkeypatch,
            "isync_default",
            {"conn_type": "http", "host": url, "login": state.username, "password": state.password},
        )
        hook = IsyncHook(timeout=0.8, backoff=0.02, max_retries=10)
        records = list(hook.list_pages(OPTIONS))
    report = app.state.faults.report()
    print(
        f"\niSync under faults: {len(records)} records of {len(state.products)}, {report['requests']} requests, "
        f"faulted {report['faulted']} by kind {report['injected']}, hook retries {hook.retries}"
    )
    assert [r["SKU"] for r in records] == [p["SKU"] for p in state.products]
    assert set(report["injected"]) == set(FAULT_KINDS), report["injected"]
    # Every fault but a slow answer fails the request once, and the hook tries it again.
    assert hook.retries == report["faulted"] - report["injected"]["slow"]


def test_the_hook_gives_up_when_every_answer_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    state = demo_state()
    with running_app(create_isync_app(state, FaultSettings(rate=1.0, kinds=("error_503",)))) as url:
        set_connection(
            monkeypatch,
            "isync_default",
            {"conn_type": "http", "host": url, "login": state.username, "password": state.password},
        )
        hook = IsyncHook(backoff=0.01, max_retries=3)
        with pytest.raises(IsyncError) as excinfo:
            list(hook.list_pages(OPTIONS))
    assert excinfo.value.status == 503
    assert excinfo.value.retryable is True
    assert hook.retries == 2


def _isync_source(folder: Path, conn_id: str) -> SourceConfig:
    config = {"source_id": "isync_shop", "type": "isync", "connection": {"conn_id": conn_id},
              "stock2shop": {"conn_id": "stock2shop_default", "source_id": 101}}  # fmt: skip
    path = folder / "isync_shop.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return load_source(path)


def test_a_cut_page_is_asked_for_again_and_arrives_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    state = demo_state()
    state.products = many_products(60)
    state.truncate_pages = {2: 2}  # the middle page comes back one short twice, then whole
    with running_app(create_isync_app(state)) as url:
        set_connection(
            monkeypatch,
            "isync_default",
            {"conn_type": "http", "host": url, "login": state.username, "password": state.password},
        )
        records = list(IsyncHook().list_pages(OPTIONS))
    assert [r["SKU"] for r in records] == [p["SKU"] for p in state.products]
    assert [r["page"] for r in state.requests] == ["1", "2", "2", "2", "3"]


def test_a_page_that_stays_cut_fails_the_extract_naming_source_pages_and_counts(
    monkeypatch: pytest.MonkeyPatch, sources_dir: Path
) -> None:
    """Before, the first short page ended the read: 39 of 60 products counted as complete, and the rest would
    have been removed from the shop."""
    state = demo_state()
    state.products = many_products(60)
    state.truncate_pages = {2: 99}
    with running_app(create_isync_app(state)) as url:
        set_connection(
            monkeypatch,
            "isync_cut",
            {"conn_type": "http", "host": url, "login": state.username, "password": state.password},
        )
        config = _isync_source(sources_dir, "isync_cut")
        with pytest.raises(IsyncPagingError) as excinfo:
            get_connector(config, resolve_mapping(config)).extract("products")
    message = str(excinfo.value)
    assert message.startswith("source 'isync_shop', products: iSync's list is incomplete: ")
    assert "page 2 has 19 records (page size 20) after 20 records in 1 pages" in message
    assert "the API reports a total of 60; asked 3 times" in message
    assert excinfo.value.retryable is True

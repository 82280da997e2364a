"""The iSync hook over HTTP against the iSync stand-in with faults injected (sandbox/faults.py): every page arrives
once and in order through 429s, 5xx answers, timeouts, connection resets and slow answers."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sandbox.faults import FAULT_KINDS, FaultSettings
from sandbox.isync import create_isync_app, demo_state
from sandbox.server import running_app
from stock2shop_sync.hooks.isync import IsyncError, IsyncHook
from tests.conftest import ROOT, set_connection

OPTIONS = yaml.safe_load((ROOT / "include" / "mappings" / "isync.yaml").read_text())["products"]["options"]


def many_products(count: int) -> list[dict[str, Any]]:
    template = demo_state().products[0]
    return [{**template, "SKU": f"ISY-{n:05d}", "AvailableUnits": n % 7} for n in range(count)]


def test_every_page_arrives_once_through_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    state = demo_state()
    state.products = many_products(400)  # 20 pages of 20
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

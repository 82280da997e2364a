"""iSync hook over HTTP against the local stand-in: paging, the incremental filter, credentials."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from sandbox.isync import IsyncState, create_isync_app, demo_state
from sandbox.server import running_app
from stock2shop_sync.hooks.isync import IsyncError, IsyncHook
from tests.conftest import ROOT, set_connection

OPTIONS = yaml.safe_load((ROOT / "include" / "mappings" / "isync.yaml").read_text())["products"]["options"]


def isync_connection(url: str, state: IsyncState) -> dict[str, Any]:
    return {"conn_type": "http", "host": f"{url}", "login": state.username, "password": state.password}


@pytest.fixture
def isync(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, IsyncState]]:
    state = demo_state()
    with running_app(create_isync_app(state)) as url:
        set_connection(monkeypatch, "isync_default", isync_connection(url, state))
        yield url, state


def test_pages_of_twenty_until_a_short_page(isync: tuple[str, IsyncState]) -> None:
    _, state = isync
    records = list(IsyncHook().list_pages(OPTIONS))
    assert len(records) == 24
    assert [(r["page"], r["pageSize"]) for r in state.requests] == [("1", "20"), ("2", "20")]


def test_modified_since_is_sent(isync: tuple[str, IsyncState]) -> None:
    _, state = isync
    records = list(IsyncHook().list_pages(OPTIONS, since=datetime(2026, 11, 15, 6, 30, tzinfo=UTC)))
    assert state.requests[0]["modifiedSince"] == "2026-11-15T06:30:00Z"
    assert records
    assert all(r["ModifiedDate"] > "2026-11-15T06:30:00Z" for r in records)
    assert len(records) < 24


def test_wrong_password(isync: tuple[str, IsyncState], monkeypatch: pytest.MonkeyPatch) -> None:
    url, state = isync
    set_connection(monkeypatch, "isync_default", {**isync_connection(url, state), "password": "bad-isync-pw"})
    with pytest.raises(IsyncError) as excinfo:
        list(IsyncHook().list_pages(OPTIONS))
    assert excinfo.value.status == 401
    assert "bad-isync-pw" not in str(excinfo.value)


def test_the_read_ends_when_the_reported_total_is_reached(isync: tuple[str, IsyncState]) -> None:
    _, state = isync
    state.products = state.products[:20] * 2  # 40: two full pages, the total reached on the second
    records = list(IsyncHook().list_pages(OPTIONS))
    assert len(records) == 40
    assert [r["page"] for r in state.requests] == ["1", "2"]  # no third, empty page is asked for


def test_without_a_total_a_short_page_ends_the_read(isync: tuple[str, IsyncState]) -> None:
    """An API that reports no total: nothing can tell a cut page from the last one (documented limit)."""
    _, state = isync
    state.report_total = False
    state.truncate_pages = {1: 1}
    records = list(IsyncHook().list_pages(OPTIONS))
    assert len(records) == 19
    assert [r["page"] for r in state.requests] == ["1"]

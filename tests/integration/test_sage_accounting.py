"""Sage Accounting hooks over HTTP against the local stand-in of both APIs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.sage_accounting import SageState, create_sage_app, demo_state
from sandbox.server import running_app
from stock2shop_sync.hooks.ratelimit import DailyLimitReached
from stock2shop_sync.hooks.sage_accounting import MemoryTokenStore, SageAccountingError, SageAccountingHook
from tests.conftest import set_connection


@pytest.fixture
def sage(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, SageState]]:
    state = demo_state()
    with running_app(create_sage_app(state)) as url:
        set_connection(monkeypatch, "sage_accounting_default", sage_connection(url, state))
        yield url, state


def sage_connection(url: str, state: SageState) -> dict[str, Any]:
    return {
        "conn_type": "http", "host": url, "login": state.username, "password": state.password,
        "extra": {"apikey": state.apikey, "company_id": state.company_id, "client_id": state.client_id,
                  "client_secret": state.client_secret, "refresh_token": state.refresh_token, "token_url": f"{url}/token"},
    }  # fmt: skip


def test_za_pages_through_every_item(sage: tuple[str, SageState]) -> None:
    _, state = sage
    items = list(SageAccountingHook(region="za").list_za("Item"))
    assert len(items) == 230
    assert [r["$skip"] for r in state.za_requests] == ["0", "100", "200"]
    assert {r["$top"] for r in state.za_requests} == {"100"}
    assert {r["apikey"] for r in state.za_requests} == {state.apikey}


def test_za_incremental_filter_is_sent(sage: tuple[str, SageState]) -> None:
    _, state = sage
    since = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
    items = list(SageAccountingHook(region="za").list_za("Item", since=since, odata_filter="Physical eq true"))
    assert state.za_requests[0]["$filter"] == "Physical eq true and Modified gt datetime'2026-11-15T12:00:00'"
    assert items
    assert all(item["Modified"] > "2026-11-15T12:00:00" and item["Physical"] for item in items)


def test_za_rate_limit_is_never_exceeded(monkeypatch: pytest.MonkeyPatch) -> None:
    state = demo_state()
    state.limit_per_window, state.window = 5, 1.0  # Sage's 100 a minute, scaled down to keep the test short
    state.items = state.items * 8  # 1,840 items: 19 pages
    with running_app(create_sage_app(state)) as url:
        set_connection(monkeypatch, "sage_accounting_default", sage_connection(url, state))
        hook = SageAccountingHook(region="za", requests_per_minute=5, rate_window=1.0)
        items = list(hook.list_za("Item"))
    assert len(items) == 1840
    assert len(state.za_requests) == 19
    assert state.max_in_window <= 5
    assert not state.blocked
    assert hook.limiter.waited > 0  # it did have to wait


def test_za_daily_cap_stops_before_the_api_blocks(sage: tuple[str, SageState]) -> None:
    _, state = sage
    hook = SageAccountingHook(region="za", requests_per_day=2)
    with pytest.raises(DailyLimitReached, match="daily limit of 2 is reached"):
        list(hook.list_za("Item"))
    assert len(state.za_requests) == 2


def test_za_bad_credentials(sage: tuple[str, SageState], monkeypatch: pytest.MonkeyPatch) -> None:
    url, state = sage
    set_connection(monkeypatch, "sage_accounting_default", {**sage_connection(url, state), "password": "wrong-pw-9"})
    with pytest.raises(SageAccountingError) as excinfo:
        list(SageAccountingHook(region="za").list_za("Item"))
    assert excinfo.value.status == 401
    assert "wrong-pw-9" not in str(excinfo.value)
    assert state.apikey not in str(excinfo.value)


def test_global_pages_filters_and_rotates_the_refresh_token(sage: tuple[str, SageState]) -> None:
    _, state = sage
    store = MemoryTokenStore()
    since = datetime(2026, 11, 3, tzinfo=UTC)
    hook = SageAccountingHook(region="global", token_store=store)
    items = list(hook.list_global("stock_items", since=since))
    expected = [i for i in state.stock_items if i["updated_at"] >= "2026-11-03T00:00:00Z"]
    assert [i["item_code"] for i in items] == [i["item_code"] for i in expected]
    assert len(expected) > 200  # so it took more than one page
    first = state.global_requests[0]
    assert (first["items_per_page"], first["updated_or_created_since"]) == ("200", "2026-11-03T00:00:00Z")
    assert state.global_requests[1]["page"] == "2"  # followed $next
    assert store.value == state.refresh_token  # the rotated token was stored back
    assert store.writes == 1
    assert "refresh-0" in state.used_refresh_tokens


def test_global_refreshes_when_the_access_token_expires_mid_run(sage: tuple[str, SageState]) -> None:
    _, state = sage
    state.token_lifetime = 1  # every access token is good for one request
    store = MemoryTokenStore()
    hook = SageAccountingHook(region="global", token_store=store)
    items = list(hook.list_global("stock_items"))
    assert len(items) == 230
    assert hook.refreshes == 2  # pages 1 and 2, one token each
    assert store.writes == 2
    assert store.value == state.refresh_token
    # A second hook starts from the stored token, not the stale one in the connection.
    again = SageAccountingHook(region="global", token_store=store)
    assert len(list(again.list_global("contacts", params={"contact_types": "CUSTOMER"}))) == 2


def test_global_429_then_success(sage: tuple[str, SageState]) -> None:
    _, state = sage
    state.throttle_next = 2
    items = list(SageAccountingHook(region="global", token_store=MemoryTokenStore()).list_global("stock_items"))
    assert len(items) == 230
    statuses = len(state.global_requests)
    assert statuses == 4  # two 429s, then pages 1 and 2


def test_global_reused_refresh_token_is_refused_clearly(sage: tuple[str, SageState]) -> None:
    _, state = sage
    state.refresh_token = "refresh-rotated-elsewhere"
    with pytest.raises(SageAccountingError, match=r"refused the refresh token .* authorise the app again"):
        list(SageAccountingHook(region="global", token_store=MemoryTokenStore()).list_global("stock_items"))

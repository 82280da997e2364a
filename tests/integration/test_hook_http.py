"""Stock2ShopHook over real HTTP against the sandbox: batching, one login, throttling, 429, re-login, errors."""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.app import SandboxSettings
from sandbox.server import free_port, running_sandbox
from stock2shop_sync.hooks.stock2shop import Stock2ShopAuthError, Stock2ShopError, Stock2ShopHook
from tests.conftest import SANDBOX_PASSWORD, SANDBOX_USER, set_connection


def item(sku: str, source_id: int = 101, **variant: Any) -> dict[str, Any]:
    return {
        "source": {"source_id": str(source_id), "source_product_code": sku, "product_active": "true", "sync_token": "0", "fetch_token": "0"},
        "product": {"title": f"Item {sku}", "options": [], "variants": {"source_variant_code": sku, "sku": sku, "qty": 1, "price": 9.5, **variant}},
    }  # fmt: skip


def stats(url: str) -> dict[str, int]:
    return requests.get(f"{url}/sandbox/stats", timeout=5).json()


def queue_sizes(url: str) -> list[int]:
    return [
        r["items"]
        for r in requests.get(f"{url}/sandbox/requests", timeout=5).json()
        if r["path"] == "/v1/products/queue"
    ]


@pytest.fixture
def limited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Factory: a sandbox with a rate limit, wired to ``stock2shop_default``."""

    def start(rate_limit: float, advertise: bool):
        settings = SandboxSettings(
            users={SANDBOX_USER: SANDBOX_PASSWORD},
            sources={101: "A"},
            rate_limit=rate_limit,
            advertise_rate_limit=advertise,
        )
        context = running_sandbox(str(tmp_path / f"limited-{rate_limit}-{advertise}.sqlite"), settings)
        url = context.__enter__()
        contexts.append(context)
        set_connection(
            monkeypatch,
            "stock2shop_default",
            {"conn_type": "http", "host": url, "login": SANDBOX_USER, "password": SANDBOX_PASSWORD},
        )
        return url

    contexts: list[Any] = []
    yield start
    for context in contexts:
        context.__exit__(None, None, None)


def test_batches_of_at_most_500_with_one_login(sandbox: str) -> None:
    hook = Stock2ShopHook()
    result = hook.queue("products", [item(f"SKU-{n:04d}") for n in range(1203)])
    assert (result.items, result.batches, result.queued) == (1203, 3, 1203)
    assert queue_sizes(sandbox) == [500, 500, 203]
    assert hook.logins == 1
    assert stats(sandbox)["logins"] == 1
    assert stats(sandbox)["products"] == 1203


def test_resending_never_duplicates(sandbox: str) -> None:
    hook = Stock2ShopHook()
    items = [item(f"SKU-{n}") for n in range(20)]
    hook.queue("products", items)
    items[3]["product"]["variants"]["qty"] = 7
    hook.queue("products", items)
    rows = requests.get(f"{sandbox}/sandbox/products", timeout=5).json()
    assert len(rows) == 20
    assert {r["times_received"] for r in rows} == {2}
    assert next(r for r in rows if r["sku"] == "SKU-3")["payload"]["product"]["variants"]["qty"] == 7


def test_customers_are_queued(sandbox: str) -> None:
    customer = {
        "source": {"source_id": "101", "source_customer_code": "C1", "customer_active": "true"},
        "customer": {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "accepts_marketing": False},
    }
    Stock2ShopHook().queue("customers", [customer])
    (row,) = requests.get(f"{sandbox}/sandbox/customers", timeout=5).json()
    assert row["payload"] == customer


def test_client_throttles_to_the_advertised_limit(limited) -> None:
    url = limited(rate_limit=4, advertise=True)
    hook = Stock2ShopHook(batch_size=1)
    result = hook.queue("products", [item(f"S{n}") for n in range(12)])
    assert result.batches == 12
    assert stats(url)["rate_limited"] == 0
    assert stats(url)["products"] == 12


def test_concurrent_batches_stay_inside_the_advertised_limit(limited) -> None:
    # Four requests in flight may go out together, up to the limit in any second, never past it.
    url = limited(rate_limit=4, advertise=True)
    hook = Stock2ShopHook(batch_size=1)
    lines = [json.dumps(item(f"C{n}")) for n in range(14)]
    result = hook.queue_lines("products", lines, concurrency=4)
    assert (result.batches, result.retries) == (14, 0)
    assert stats(url)["rate_limited"] == 0
    assert stats(url)["products"] == 14


def test_429_with_retry_after_is_honoured(limited) -> None:
    url = limited(rate_limit=2, advertise=False)
    hook = Stock2ShopHook(batch_size=1, max_retries=10)
    result = hook.queue("products", [item(f"S{n}") for n in range(8)])
    assert stats(url)["rate_limited"] > 0
    assert result.retries == stats(url)["rate_limited"]
    assert stats(url)["products"] == 8


def _foreign_login(url: str) -> None:
    """Someone else logs in as the same user (the console, a worker without the state store): older tokens die."""
    requests.post(
        f"{url}/v1/users/authenticate",
        json={"system_user_auth": {"username": SANDBOX_USER, "password": SANDBOX_PASSWORD}},
        timeout=10,
    ).raise_for_status()


def test_workers_share_one_login_through_the_state_store(sandbox: str) -> None:
    first, second = Stock2ShopHook(), Stock2ShopHook()  # two workers' hooks: nothing shared in memory
    first.queue("products", [item("A")])
    second.queue("products", [item("B")])  # takes the token the first one got, instead of logging it out
    first.queue("products", [item("C")])
    assert (first.logins, second.logins) == (1, 0)
    assert stats(sandbox)["logins"] == 1
    assert stats(sandbox)["products"] == 3


def test_a_token_invalidated_by_another_login_is_renewed_once_for_every_worker(sandbox: str) -> None:
    first, second = Stock2ShopHook(), Stock2ShopHook()
    first.queue("products", [item("A")])
    second.queue("products", [item("B")])
    _foreign_login(sandbox)
    first.queue("products", [item("C")])  # refused, logs in again, and keeps the new token for the others
    second.queue("products", [item("D")])  # refused once, then takes the first one's new token: no login
    assert (first.logins, second.logins) == (2, 0)
    assert stats(sandbox)["logins"] == 3  # the first login, the foreign one, one renewal
    assert stats(sandbox)["products"] == 4


def test_threads_share_one_relogin(sandbox: str) -> None:
    hook = Stock2ShopHook()
    hook.authenticate()
    _foreign_login(sandbox)  # invalidates the shared token
    errors: list[Exception] = []

    def send(n: int) -> None:
        try:
            hook.queue("products", [item(f"T{n}")])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert hook.logins == 2  # the first login plus exactly one renewal for four threads


def test_the_shared_token_is_kept_encrypted(sandbox: str, state_store: str) -> None:
    import sqlalchemy as sa

    hook = Stock2ShopHook()
    token = hook.authenticate()
    with sa.create_engine(state_store).connect() as conn:
        stored = conn.execute(sa.text("SELECT token FROM s2s_api_tokens")).scalars().all()
    assert len(stored) == 1
    assert token not in stored[0]
    assert SANDBOX_PASSWORD not in stored[0]


def test_wrong_password_fails_without_leaking_it(sandbox: str, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(
        monkeypatch,
        "stock2shop_default",
        {"conn_type": "http", "host": sandbox, "login": SANDBOX_USER, "password": "wrong-pw-123"},
    )
    with pytest.raises(Stock2ShopAuthError) as excinfo:
        Stock2ShopHook().queue("products", [item("A")])
    assert "wrong-pw-123" not in str(excinfo.value)
    assert excinfo.value.status == 401
    assert "stock2shop_default" in str(excinfo.value)


def test_rejected_payload_fails_fast_with_the_reason(sandbox: str) -> None:
    bad = item("A")
    bad["product"]["variants"] = [bad["product"]["variants"]]
    hook = Stock2ShopHook()
    with pytest.raises(Stock2ShopError) as excinfo:
        hook.queue("products", [bad])
    assert excinfo.value.status == 400
    assert excinfo.value.retryable is False
    assert "variants must be one object" in str(excinfo.value)
    assert hook._token not in str(excinfo.value)
    assert len(queue_sizes(sandbox)) == 1  # not retried


def test_unreachable_api_is_retryable_and_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(
        monkeypatch,
        "stock2shop_default",
        {"conn_type": "http", "host": f"http://127.0.0.1:{free_port()}", "login": "u", "password": "p"},
    )
    hook = Stock2ShopHook(max_retries=2, backoff=0.01, timeout=2)
    with pytest.raises(Stock2ShopError) as excinfo:
        hook.queue("products", [item("A")])
    assert excinfo.value.retryable is True
    assert "ConnectionError" in str(excinfo.value)


@pytest.mark.parametrize("size", [0, 501])
def test_batch_size_is_bounded(size: int) -> None:
    with pytest.raises(ValueError, match="batch_size must be between 1 and 500"):
        Stock2ShopHook(batch_size=size)


def test_login_is_retried_through_a_transient_failure(sandbox: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = Stock2ShopHook(backoff=0.01)
    real_send = hook._send
    calls: list[str] = []

    def flaky(method: str, url: str, **kwargs: Any):
        calls.append(url)
        if len(calls) == 1:
            raise Stock2ShopError("ConnectionError talking to Stock2Shop", retryable=True)
        return real_send(method, url, **kwargs)

    monkeypatch.setattr(hook, "_send", flaky)
    hook.queue("products", [item("A")])
    assert calls[0].endswith("/v1/users/authenticate")
    assert hook.logins == 1
    assert stats(sandbox)["products"] == 1


def test_concurrent_uploads_stay_inside_the_advertised_limit_and_report_every_batch(limited) -> None:
    url = limited(rate_limit=8, advertise=True)
    hook = Stock2ShopHook(batch_size=2)
    lines = [json.dumps(item(f"S{n:02d}")) for n in range(30)]
    accepted: list[tuple[int, int]] = []
    lock = threading.Lock()

    def record(start: int, stop: int) -> None:
        with lock:
            accepted.append((start, stop))

    hook.queue_lines("products", lines, concurrency=4, on_accepted=record)  # the first answer advertises 8/s

    assert sorted(accepted) == [(n, n + 2) for n in range(0, 30, 2)]
    assert stats(url)["products"] == 30
    assert stats(url)["rate_limited"] <= 1  # at most the requests in flight before the limit was known
    assert hook.logins == 1


def test_a_failed_batch_stops_the_upload_after_reporting_the_accepted_ones(sandbox: str) -> None:
    hook = Stock2ShopHook(batch_size=2)
    lines = [json.dumps(item(f"S{n}")) for n in range(4)] + [json.dumps(item("BAD", source_id=999))]
    lines += [json.dumps(item(f"T{n}")) for n in range(20)]
    accepted: list[tuple[int, int]] = []

    with pytest.raises(Stock2ShopError, match="source_id 999 is not a source of this client"):
        hook.queue_lines("products", lines, concurrency=1, on_accepted=lambda a, b: accepted.append((a, b)))

    assert accepted == [(0, 2), (2, 4)]
    assert stats(sandbox)["products"] == 4


def test_gzip_bodies_when_the_connection_says_the_api_takes_them(sandbox: str, monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(
        monkeypatch,
        "stock2shop_default",
        {"conn_type": "http", "host": sandbox, "login": SANDBOX_USER, "password": SANDBOX_PASSWORD,
         "extra": {"gzip": True}},
    )  # fmt: skip
    Stock2ShopHook().queue("products", [item(f"Z{n}", title="Ünïcode — ok") for n in range(700)])

    queued = [r for r in requests.get(f"{sandbox}/sandbox/requests", timeout=5).json() if r["path"].endswith("/queue")]
    assert [(r["status"], r["content_encoding"]) for r in queued] == [(200, "gzip"), (200, "gzip")]
    rows = requests.get(f"{sandbox}/sandbox/products", timeout=5).json()
    assert len(rows) == 700
    assert rows[0]["payload"]["product"]["variants"]["title"] == "Ünïcode — ok"


@contextlib.contextmanager
def forward_proxy() -> Iterator[tuple[str, list[str]]]:
    """A plain HTTP forward proxy on loopback; yields its URL and the URLs it forwarded."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def forward(self) -> None:
            seen.append(self.path)  # a proxy is asked for the absolute URL
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")}
            request = urllib.request.Request(self.path, data=body, headers=headers, method=self.command)  # noqa: S310 - the sandbox, over http
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # not through itself
            try:
                answer = opener.open(request, timeout=30)
            except urllib.error.HTTPError as exc:
                answer = exc
            content = answer.read()
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = forward

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("bypass", [False, True], ids=["through the proxy", "NO_PROXY names the host"])
def test_the_proxy_the_environment_names_is_used(sandbox: str, monkeypatch: pytest.MonkeyPatch, bypass: bool) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with forward_proxy() as (proxy, seen):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        if bypass:
            monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        hook = Stock2ShopHook()
        result = hook.queue("products", [item(f"SKU-{n:04d}") for n in range(700)])
    monkeypatch.delenv("HTTP_PROXY")  # the checks below go straight to the sandbox
    assert (result.items, result.batches, result.queued) == (700, 2, 700)
    assert stats(sandbox)["products"] == 700
    if bypass:
        assert seen == []
    else:  # the login and both batches went through it
        assert [url.split("?")[0] for url in seen] == [
            f"{sandbox}/v1/users/authenticate",
            f"{sandbox}/v1/products/queue",
            f"{sandbox}/v1/products/queue",
        ]


# ---- what an upload says while it runs ---------------------------------------------------------------------------


def _hook_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "stock2shop_sync.hooks.stock2shop"]


def test_an_upload_logs_its_progress_batch_by_batch(
    sandbox: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Stock2ShopHook, "PROGRESS_BATCHES", 2)
    caplog.set_level(logging.INFO, logger="stock2shop_sync.hooks.stock2shop")
    Stock2ShopHook(batch_size=2).queue("products", [item(f"P{n}") for n in range(7)])
    assert [line for line in _hook_lines(caplog) if "accepted" in line] == [
        "Stock2Shop products: batch 2 of 4 accepted (4 of 7 items so far)",
        "Stock2Shop products: batch 4 of 4 accepted (7 of 7 items so far)",  # the last one always
    ]


def test_a_long_upload_logs_its_progress_every_so_often(
    sandbox: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Stock2ShopHook, "PROGRESS_SECONDS", 0.0)  # as if every batch took that long
    caplog.set_level(logging.INFO, logger="stock2shop_sync.hooks.stock2shop")
    lines = [json.dumps(item(f"Q{n}")) for n in range(6)]
    Stock2ShopHook(batch_size=2).queue_lines("products", lines, concurrency=3)
    progress = [line for line in _hook_lines(caplog) if "accepted" in line]
    assert progress == [f"Stock2Shop products: batch {k} of 3 accepted ({2 * k} of 6 items so far)" for k in (1, 2, 3)]


def test_a_429_wait_is_logged_with_how_long(limited, caplog: pytest.LogCaptureFixture) -> None:
    limited(rate_limit=2, advertise=False)
    caplog.set_level(logging.INFO, logger="stock2shop_sync.hooks.stock2shop")
    result = Stock2ShopHook(batch_size=1, max_retries=10).queue("products", [item(f"S{n}") for n in range(8)])
    waits = [line for line in _hook_lines(caplog) if "rate limited (HTTP 429)" in line]
    assert len(waits) == result.retries > 0
    assert re.fullmatch(
        r"Stock2Shop products_queue: rate limited \(HTTP 429\); waiting \d+\.\d s \(Retry-After: [\d.]+\) before "
        r"retry \d+/9",
        waits[0],
    ), waits[0]
    assert re.search(
        r"batch 8 of 8 accepted \(8 of 8 items so far; \d+ request\(s\) retried\)$", _hook_lines(caplog)[-1]
    )


def test_a_wait_for_the_advertised_limit_is_logged_with_how_long(
    limited, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited(rate_limit=4, advertise=True)
    monkeypatch.setattr(Stock2ShopHook, "THROTTLE_LOG_SECONDS", 0.05)
    caplog.set_level(logging.INFO, logger="stock2shop_sync.hooks.stock2shop")
    hook = Stock2ShopHook(batch_size=1)
    hook.queue("products", [item(f"T{n}") for n in range(9)])  # 4 a second: the fifth request waits
    waits = [line for line in _hook_lines(caplog) if "for the rate limit (" in line]
    assert waits, _hook_lines(caplog)
    assert re.fullmatch(r"Stock2Shop: waited \d+\.\d s for the rate limit \(4 requests a second, as the API advertises\)",
                        waits[0])  # fmt: skip
    assert hook.throttled > 0
    assert re.search(r"batch 9 of 9 accepted \(9 of 9 items so far; \d+\.\d s waited for the rate limit\)$",
                     _hook_lines(caplog)[-1])  # fmt: skip

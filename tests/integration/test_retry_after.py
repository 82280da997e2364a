"""One retry policy through real hooks over real HTTP: a small loopback server answers 429 or 503 with
``Retry-After`` as an HTTP date, and Stock2ShopHook and an ERP hook (iSync, on the shared RestApiHook path) both wait
as long as the date says, log it the same way, and give up the same way on a date too far ahead; an ERP create
answered 503 is not sent again, one answered 429 is."""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import pytest

from stock2shop_sync.hooks.isync import IsyncError, IsyncHook
from stock2shop_sync.hooks.retry import DEFAULT_POLICY
from stock2shop_sync.hooks.stock2shop import Stock2ShopError, Stock2ShopHook
from tests.conftest import set_connection

#: seconds ahead of the server's own Date header that its Retry-After dates name
AHEAD = 1


class Scripted:
    """What the server answers: per path, a list of error statuses to answer first (each with ``Retry-After`` set
    ``ahead`` seconds past the answer's ``Date``), then 200s; and when each request arrived."""

    def __init__(self) -> None:
        self.script: dict[str, list[tuple[int, int]]] = {}
        self.arrivals: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def next(self, path: str) -> tuple[int, int] | None:
        with self.lock:
            self.arrivals.setdefault(path, []).append(time.monotonic())
            queue = self.script.get(path) or []
            return queue.pop(0) if queue else None


@contextlib.contextmanager
def scripted_server() -> Iterator[tuple[str, Scripted]]:
    """A loopback server speaking just enough of Stock2Shop (login, queue) and iSync (a list, a create)."""
    scripted = Scripted()

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            path = self.path.split("?")[0]
            fault = scripted.next(path)
            now = int(time.time())
            if fault is not None:
                status, ahead = fault
                body, headers = {"errors": f"scripted {status}"}, {"Retry-After": formatdate(now + ahead, usegmt=True)}
            elif path == "/v1/users/authenticate":
                body, headers = {"system_user": {"token": "tok-scripted"}}, {}
            elif path == "/v1/products/queue":
                body, headers = {"queued": 1}, {}
            else:
                body, headers = ({"Orders": []} if self.command == "GET" else {"OrderNumber": "SO-1"}), {}
            payload = json.dumps(body).encode()
            self.send_response_only(fault[0] if fault else 200)
            # the server's own Date, from the same second as its Retry-After
            self.send_header("Date", formatdate(now, usegmt=True))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = answer

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", scripted
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Scripted]]:
    with scripted_server() as (url, scripted):
        for conn_id in ("stock2shop_default", "isync_default"):
            set_connection(monkeypatch, conn_id, {"conn_type": "http", "host": url, "login": "u", "password": "pw-x1"})
        yield url, scripted


def stock2shop_upload() -> Stock2ShopHook:
    hook = Stock2ShopHook()
    hook.queue("products", [{"source": {"source_product_code": "A"}, "product": {"title": "A"}}])
    return hook


def isync_read() -> IsyncHook:
    hook = IsyncHook()
    hook.get_json("/api/orders", {"PONumber": "S2S-1"})
    return hook


HOOKS = {
    "Stock2Shop": (stock2shop_upload, "/v1/products/queue", "stock2shop_sync.hooks.stock2shop", "Stock2Shop products_queue"),
    "iSync": (isync_read, "/api/orders", "stock2shop_sync.hooks.rest_api", "iSync"),
}  # fmt: skip


def test_every_http_hook_has_the_same_policy_by_default() -> None:
    assert Stock2ShopHook().retry_policy == IsyncHook().retry_policy == DEFAULT_POLICY


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("name", list(HOOKS))
def test_a_retry_after_date_is_waited_for(
    name: str, status: int, server: tuple[str, Scripted], caplog: pytest.LogCaptureFixture
) -> None:
    run, path, logger, label = HOOKS[name]
    _, scripted = server
    scripted.script[path] = [(status, AHEAD)]
    caplog.set_level(logging.WARNING, logger=logger)

    hook = run()

    first, second = scripted.arrivals[path]
    assert second - first >= AHEAD - 0.05  # the whole wait the date asked for (counted from the answer's Date)
    assert hook.retries == 1
    [line] = [r.getMessage() for r in caplog.records if r.name == logger and "retry 1/" in r.getMessage()]
    if status == 429:
        assert line.startswith(f"{label}: rate limited (HTTP 429); waiting {AHEAD:.1f} s (Retry-After: ")
        assert line.endswith(f"GMT) before retry 1/{DEFAULT_POLICY.attempts - 1}")
    else:
        assert line.startswith(f"{label} answered HTTP 503: scripted 503; waiting {AHEAD:.1f} s (Retry-After: ")
        assert line.endswith(f"GMT) before retry 1/{DEFAULT_POLICY.attempts - 1}")


@pytest.mark.parametrize("name", list(HOOKS))
def test_a_retry_after_date_too_far_ahead_fails_retryable_at_once(name: str, server: tuple[str, Scripted]) -> None:
    run, path, _, _ = HOOKS[name]
    _, scripted = server
    scripted.script[path] = [(429, 3600)]
    started = time.monotonic()
    with pytest.raises((Stock2ShopError, IsyncError)) as failed:
        run()
    assert time.monotonic() - started < 5
    assert len(scripted.arrivals[path]) == 1
    assert failed.value.retryable is True
    assert failed.value.status == 429
    assert "asked to wait 3600 s" in str(failed.value)
    assert "pw-x1" not in str(failed.value)


def test_an_erp_create_answered_503_is_left_to_the_lookup_and_one_answered_429_is_sent_again(
    server: tuple[str, Scripted],
) -> None:
    _, scripted = server
    scripted.script["/api/orders"] = [(503, AHEAD)]
    with pytest.raises(IsyncError) as failed:
        IsyncHook().post_json("/api/orders", {"PONumber": "S2S-2"})
    assert (failed.value.status, failed.value.maybe_stored) == (503, True)
    assert len(scripted.arrivals["/api/orders"]) == 1  # may have been stored: not resent, whatever Retry-After says

    scripted.arrivals.clear()
    scripted.script["/api/orders"] = [(429, AHEAD)]
    assert IsyncHook().post_json("/api/orders", {"PONumber": "S2S-3"}) == {"OrderNumber": "SO-1"}
    first, second = scripted.arrivals["/api/orders"]
    assert second - first >= AHEAD - 0.05

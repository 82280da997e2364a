"""Base for hooks that read a REST API within its limits: one session, a rate limiter, retries.

Two retry policies:

* idempotent requests (reads, lookups) retry 429 (honouring ``Retry-After``), 5xx and network errors with
  exponential backoff and jitter;
* creates (``idempotent=False``) are sent again only after an answer that proves nothing was stored: a 429, or a
  connection that could not be opened. Any other failure (a timeout, a reset, a 5xx, a broken read) may have
  come after the server stored the document, so it is raised with ``maybe_stored`` set, and the caller looks the
  document up before any second attempt (:meth:`~stock2shop_sync.connectors.base.OrderSink.raise_order`); after a
  timeout or a gateway's 502/504 (``in_flight``) the server may still be working on it, so that lookup waits.

Never puts a URL or its query string in an error (API keys travel there); statuses a caller handles itself are
returned, not raised.
"""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from stock2shop_sync.hooks.ratelimit import RateLimiter
from stock2shop_sync.redact import scrub

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request failed. ``retryable`` says whether trying again later can help."""

    def __init__(
        self, message: str, *, status: int | None = None, retryable: bool = False, maybe_stored: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        #: The request may have been carried out although it failed (a create must be looked up, not resent).
        self.maybe_stored = maybe_stored
        #: The server may still be working on it (a timeout, a gateway's 502/504): a lookup now proves nothing.
        self.in_flight = False


def never_sent(exc: BaseException) -> bool:
    """Whether a ``requests`` failure happened before the request left: the connection could not be opened
    (refused, no route, a connect timeout). Anything else may have reached the server."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen or current is None:
            continue
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, ConnectTimeoutError)):
            return True
        if isinstance(current, BaseException):
            stack += [*current.args, getattr(current, "reason", None), current.__cause__, current.__context__]
    return False


def mask(value: str | None) -> None:
    """Register a secret with Airflow's masker (best effort outside a task), also in its URL-quoted forms."""
    from stock2shop_sync.redact import mask as mask_secrets

    mask_secrets(value)


class RestApiHook(BaseHook):
    """Shared request plumbing for API hooks.

    :param api_name: the API's name in messages.
    :param requests_per_minute: client-side ceiling (None: none).
    :param requests_per_day: client-side daily cap (None: none).
    :param timeout: seconds per request.
    :param max_retries: attempts per request for transient failures.
    :param rate_window: seconds of the rate window (60; shorter only in tests).
    :param backoff: base seconds of the exponential backoff between retries (jittered, at most 30 s).
    """

    error_class: type[ApiError] = ApiError

    def __init__(
        self,
        *,
        api_name: str,
        requests_per_minute: int | None = None,
        requests_per_day: int | None = None,
        timeout: float = 60.0,
        max_retries: int = 5,
        rate_window: float = 60.0,
        backoff: float = 1.0,
    ) -> None:
        super().__init__()
        self.api_name = api_name
        self.limiter = RateLimiter(requests_per_minute, requests_per_day, window=rate_window)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.retries = 0
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers.update({"Accept": "application/json", "User-Agent": "stock2shop-airflow/0.1"})
        return self._session

    def _send(
        self,
        method: str,
        url: str,
        *,
        handled: tuple[int, ...] = (401,),
        idempotent: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """One request within the rate limit, retried as the module docstring says; ``handled`` statuses are
        returned to the caller instead of raised. ``idempotent=False`` for a create."""
        import requests

        attempt = 0
        while True:
            attempt += 1
            self.limiter.acquire()
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                unsent = never_sent(exc)
                error = self.error_class(
                    f"{type(exc).__name__} talking to {self.api_name}"
                    + ("" if unsent else " (the request may have been carried out)"),
                    retryable=True,
                    maybe_stored=not unsent,
                )
                error.in_flight = isinstance(exc, requests.Timeout) and not unsent
                response = None
            else:
                if response.status_code < 400 or response.status_code in handled:
                    return response
                status = response.status_code
                error = self.error_class(
                    f"{self.api_name} answered HTTP {status}: {scrub(response.text[:300])}",
                    status=status,
                    retryable=status == 429 or status >= 500,
                    maybe_stored=status >= 500,
                )
                error.in_flight = status in (502, 504)
            if not error.retryable or attempt >= self.max_retries or (error.maybe_stored and not idempotent):
                raise error
            retry_after = response.headers.get("Retry-After") if response is not None else None
            delay = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else 0.0
            # Jitter, so that clients failed by the same outage do not all come back at the same moment.
            delay = delay or min(self.backoff * 2 ** (attempt - 1), 30.0) * (0.5 + random.random())  # noqa: S311
            self.retries += 1
            log.warning("%s: %s; retry %d/%d in %.1fs", self.api_name, error, attempt, self.max_retries - 1, delay)
            time.sleep(delay)

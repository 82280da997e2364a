"""Base for hooks that read and write a REST API within its limits: one session, a rate limiter, and the shared
request path of :mod:`~stock2shop_sync.hooks.retry` (the retry policy, and the rules for creates: a create,
``idempotent=False``, is sent again only after an answer that proves nothing was stored; any other failure is raised
with ``maybe_stored`` set, for the caller to look the document up first).

Never puts a URL or its query string in an error (API keys travel there); statuses a caller handles itself are
returned, not raised.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from stock2shop_sync.hooks.ratelimit import RateLimiter
from stock2shop_sync.hooks.retry import (
    ApiError,
    RetryingHook,
    RetryPolicy,
    call_with_retries,
    make_policy,
    never_sent,
    send_once,
)

if TYPE_CHECKING:
    import requests

__all__ = ["ApiError", "RestApiHook", "RetryPolicy", "mask", "never_sent"]

log = logging.getLogger(__name__)


def mask(value: str | None) -> None:
    """Register a secret with Airflow's masker (best effort outside a task), also in its URL-quoted forms."""
    from stock2shop_sync.redact import mask as mask_secrets

    mask_secrets(value)


class RestApiHook(RetryingHook, BaseHook):
    """Shared request plumbing for API hooks.

    :param api_name: the API's name in messages.
    :param requests_per_minute: client-side ceiling (None: none).
    :param requests_per_day: client-side daily cap (None: none).
    :param timeout: seconds per request.
    :param max_retries: attempts per request for transient failures (default: the policy's).
    :param rate_window: seconds of the rate window (60; shorter only in tests).
    :param backoff: base seconds of the jittered exponential backoff between retries (default: the policy's).
    :param retry_policy: attempts, backoff, jitter and the longest ``Retry-After`` honoured (default:
        :data:`~stock2shop_sync.hooks.retry.DEFAULT_POLICY`, the same for every HTTP hook).
    """

    error_class: type[ApiError] = ApiError

    def __init__(
        self,
        *,
        api_name: str,
        requests_per_minute: int | None = None,
        requests_per_day: int | None = None,
        timeout: float = 60.0,
        max_retries: int | None = None,
        rate_window: float = 60.0,
        backoff: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__()
        self.api_name = api_name
        self.limiter = RateLimiter(requests_per_minute, requests_per_day, window=rate_window)
        self.timeout = timeout
        self.retry_policy = make_policy(retry_policy, max_retries=max_retries, backoff=backoff)
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
        """One request within the rate limit (every attempt waits for room), retried by the hook's policy.

        Args:
            method: the HTTP method.
            url: the URL (never put in an error).
            handled: error statuses returned to the caller instead of raised.
            idempotent: False for a create (see :mod:`~stock2shop_sync.hooks.retry`).
            kwargs: passed to ``requests``.

        Raises:
            ApiError: (the hook's ``error_class``) as :func:`~stock2shop_sync.hooks.retry.call_with_retries` says.
        """

        def attempt() -> requests.Response:
            # The session first: its first use imports requests, and nothing slow may come between the limiter's
            # count and the request leaving (the API counts arrivals).
            session = self.session
            self.limiter.acquire()
            return send_once(
                session,
                method,
                url,
                api=self.api_name,
                timeout=self.timeout,
                handled=handled,
                error_class=self.error_class,
                **kwargs,
            )

        return call_with_retries(
            attempt,
            policy=self.retry_policy,
            api=self.api_name,
            logger=log,
            idempotent=idempotent,
            on_retry=self._retried,
        )

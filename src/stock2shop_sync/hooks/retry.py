"""The one request path of every HTTP hook: how a failed request is classified, and when and how soon it is sent again.

A hook sends a request through :func:`call_with_retries` with a function that makes one attempt (wait for the rate
limit, send, classify the answer with :func:`send_once`). The attempt raises an :class:`ApiError` that says what the
failure means, and :class:`RetryPolicy` decides:

* what is retried at all: 429, 5xx and network errors (``retryable``); other 4xx answers fail at once;
* how soon: the server's ``Retry-After`` (seconds or an HTTP date, RFC 9110 section 10.2.3) when it gives one,
  otherwise exponential backoff with jitter, so that clients failed by the same outage do not all come back at the
  same moment; a server that asks for a longer wait than :attr:`RetryPolicy.max_wait` is not waited for in the
  task: the request fails as retryable, saying how long the server asked for, and the task's own retry comes back;
* how often: at most :attr:`RetryPolicy.attempts` attempts;
* what must not be sent again blindly: a request that is not idempotent (``idempotent=False``: a create) is sent
  again only after an answer that proves nothing was stored: a 429, or a connection that could not be opened
  (:func:`never_sent`). Any other failure (a timeout, a reset, a 5xx, a broken read) may have come after the
  server stored the document, so it is raised with ``maybe_stored`` set, and the caller looks the document up
  before any second attempt (:meth:`~stock2shop_sync.connectors.base.OrderSink.raise_order`); after a timeout or
  a gateway's 502/504 (``in_flight``) the server may still be working on it, so that lookup waits.

Never puts a URL or its query string in an error (tokens and API keys travel there); answers are scrubbed.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from stock2shop_sync.redact import scrub

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Container

    import requests


class ApiError(Exception):
    """A request failed. ``retryable`` says whether trying again later can help.

    Args:
        message: what failed, without the URL.
        status: the HTTP status, or None when no answer came.
        retryable: trying again later can help (429, 5xx, network errors).
        maybe_stored: the request may have been carried out although it failed (a create must be looked up, not
            resent).
        in_flight: the server may still be working on it (a timeout, a gateway's 502/504): a lookup now proves
            nothing.
        retry_after: seconds the server asked the client to wait (its ``Retry-After``, parsed), or None.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        maybe_stored: bool = False,
        in_flight: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.maybe_stored = maybe_stored
        self.in_flight = in_flight
        self.retry_after = retry_after
        #: the ``Retry-After`` header as the server wrote it (for the log line), or None
        self.retry_after_header: str | None = None


_SECONDS = re.compile(r"\d+(\.\d+)?")


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (``Wed, 21 Oct 2026 07:28:00 GMT``, or the obsolete forms RFC 9110 still accepts) as an aware
    datetime, or None when ``value`` is missing or not a date."""
    from email.utils import parsedate_to_datetime

    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # "-0000" (and RFC 850 dates) parse without a zone; HTTP dates are always GMT
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """The seconds a ``Retry-After`` header asks the client to wait, or None when it says nothing usable.

    Args:
        value: the header: delay-seconds (``120``; fractions such as ``0.25`` are accepted too) or an HTTP date.
        now: the moment to count a date from: the answer's own ``Date`` header when it has one (so a server whose
            clock is off from ours still gets the wait it meant), else this machine's clock.

    Returns:
        The wait in seconds (0 for a date already past), or None for a missing, negative or unreadable value.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    moment = parse_http_date(text)
    if moment is None:
        return None
    return max((moment - (now or datetime.now(UTC))).total_seconds(), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times a request is tried, and how long to wait between tries.

    Args:
        attempts: tries per request in all (1: never retried).
        backoff: base seconds of the exponential backoff (the first retry's ceiling with full jitter).
        max_backoff: the longest backoff between two tries.
        max_wait: the longest ``Retry-After`` honoured inside a task; a server asking for more fails the request
            as retryable, and the task's retry (minutes later) tries again.
        jitter: ``full`` (a wait drawn from 0 to ``backoff * 2 ** (n - 1)``, capped) or ``decorrelated`` (drawn
            from ``backoff`` to three times the previous wait, capped).
        rng: the random source of the jitter; a seeded ``random.Random`` makes the waits reproducible in tests.
    """

    attempts: int = 6
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_wait: float = 120.0
    jitter: Literal["full", "decorrelated"] = "full"
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")
        if self.backoff < 0 or self.max_backoff < self.backoff:
            raise ValueError(f"backoff must be between 0 and max_backoff ({self.max_backoff}), not {self.backoff}")
        if self.max_wait < 0:
            raise ValueError(f"max_wait must not be negative, not {self.max_wait}")
        if self.jitter not in ("full", "decorrelated"):
            raise ValueError(f"jitter must be 'full' or 'decorrelated', not {self.jitter!r}")

    def with_(self, **changes: Any) -> RetryPolicy:
        """A copy with ``changes`` (``attempts``, ``backoff``, ...) sharing this one's random source."""
        return replace(self, **changes)

    def backoff_delay(self, retry: int, previous: float | None = None) -> float:
        """The wait before retry number ``retry`` (1 for the first) when the server gave no ``Retry-After``.

        Args:
            retry: which retry this is, from 1.
            previous: the wait before the previous retry (decorrelated jitter grows from it; None: the first).
        """
        if self.jitter == "decorrelated":
            upper = max(self.backoff, 3 * (previous if previous is not None else self.backoff))
            return min(self.max_backoff, self.rng.uniform(self.backoff, upper))
        ceiling = min(self.max_backoff, self.backoff * 2 ** min(retry - 1, 64))
        return self.rng.uniform(0.0, ceiling)

    def delay(self, error: ApiError, retry: int, previous: float | None = None) -> float:
        """The wait before retry number ``retry`` after ``error``: its ``Retry-After`` if given, else the backoff.

        Raises:
            ApiError: (of ``error``'s class, retryable, from ``error``) when the server asked for a longer wait
                than :attr:`max_wait`.
        """
        if error.retry_after is None:
            return self.backoff_delay(retry, previous)
        if error.retry_after > self.max_wait:
            raise _too_long(error, self.max_wait) from error
        return error.retry_after


DEFAULT_POLICY = RetryPolicy()


def make_policy(
    policy: RetryPolicy | None = None, *, max_retries: int | None = None, backoff: float | None = None
) -> RetryPolicy:
    """``policy`` (default :data:`DEFAULT_POLICY`) with a hook's ``max_retries`` (attempts) and ``backoff`` when
    given; a backoff above the policy's ``max_backoff`` raises that cap with it."""
    policy = policy or DEFAULT_POLICY
    if max_retries is not None:
        policy = policy.with_(attempts=max_retries)
    if backoff is not None:
        policy = policy.with_(backoff=backoff, max_backoff=max(backoff, policy.max_backoff))
    return policy


def _too_long(error: ApiError, max_wait: float) -> ApiError:
    asked = error.retry_after or 0.0
    too_long = type(error)(
        f"{error} (the server asked to wait {asked:.0f} s before trying again, Retry-After: "
        f"{error.retry_after_header}; longer than the {max_wait:.0f} s a request waits, so it is left to the "
        "task's retry)",
        status=error.status,
        retryable=True,
        maybe_stored=error.maybe_stored,
        in_flight=error.in_flight,
        retry_after=error.retry_after,
    )
    too_long.retry_after_header = error.retry_after_header
    return too_long


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


def transport_error(exc: BaseException, api: str, error_class: type[ApiError] = ApiError) -> ApiError:
    """The :class:`ApiError` for a request that got no answer (``exc`` from ``requests``): retryable; it may have
    been carried out unless it never left (:func:`never_sent`); after a read timeout it may still be under way."""
    import requests

    unsent = never_sent(exc)
    return error_class(
        f"{type(exc).__name__} talking to {api}" + ("" if unsent else " (the request may have been carried out)"),
        retryable=True,
        maybe_stored=not unsent,
        in_flight=isinstance(exc, requests.Timeout) and not unsent,
    )


def _detail(response: requests.Response) -> str:
    """What an error answer says: its JSON error message when it has one, else the start of its text; scrubbed
    (a gateway's error page may quote the request, token and all)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:2000]
    if isinstance(body, dict):
        for key in ("errors", "error", "detail", "Message", "message", "$message"):
            if body.get(key):
                body = body[key]
                break
    return scrub(str(body)[:2000])[:500]


def status_error(response: requests.Response, api: str, error_class: type[ApiError] = ApiError) -> ApiError:
    """The :class:`ApiError` for an error answer: 429 and 5xx are retryable; a 5xx may have come after the request
    was carried out (``maybe_stored``), a gateway's 502/504 while it still runs (``in_flight``). ``Retry-After``
    is read against the answer's ``Date``."""
    status = response.status_code
    error = error_class(
        f"{api} answered HTTP {status}: {_detail(response)}",
        status=status,
        retryable=status == 429 or status >= 500,
        maybe_stored=status >= 500,
        in_flight=status in (502, 504),
    )
    header = response.headers.get("Retry-After")
    if header:
        error.retry_after_header = header
        error.retry_after = parse_retry_after(header, now=parse_http_date(response.headers.get("Date")))
    return error


def send_once(
    session: requests.Session,
    method: str,
    url: str,
    *,
    api: str,
    timeout: float,
    handled: Container[int] = (),
    error_class: type[ApiError] = ApiError,
    inspect: Callable[[requests.Response], None] | None = None,
    **kwargs: Any,
) -> requests.Response:
    """One attempt: send the request and return its answer, or raise the :class:`ApiError` that classifies it.

    Args:
        session: the hook's session.
        method: the HTTP method.
        url: the URL (never put in an error).
        api: the API's name (and what was called) for messages.
        timeout: seconds for the request.
        handled: error statuses returned to the caller instead of raised (e.g. 401, which it handles itself).
        error_class: the hook's :class:`ApiError` subclass.
        inspect: called with every answer before its status is checked (to read a rate-limit header).
        kwargs: passed to ``session.request``.

    Raises:
        ApiError: no answer (:func:`transport_error`), or an error status not in ``handled`` (:func:`status_error`).
    """
    import requests

    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        raise transport_error(exc, api, error_class) from None
    if inspect is not None:
        inspect(response)
    if response.status_code >= 400 and response.status_code not in handled:
        raise status_error(response, api, error_class)
    return response


def call_with_retries(
    attempt: Callable[[], requests.Response],
    *,
    policy: RetryPolicy,
    api: str,
    logger: logging.Logger,
    idempotent: bool = True,
    on_retry: Callable[[ApiError, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> requests.Response:
    """Make ``attempt`` until it answers, retrying the :class:`ApiError` it raises as the module docstring says.

    Args:
        attempt: one try (wait for the rate limit, :func:`send_once`, read the answer); raises :class:`ApiError`.
        policy: attempts and waits.
        api: the API's name (and what was called) for the log lines.
        logger: where each retry is logged (the hook's own logger).
        idempotent: False for a create, which is not sent again after a failure that may have stored it.
        on_retry: called with the error and the wait before each retry (a hook counts its retries there).
        sleep: how to wait.

    Returns:
        The first answer ``attempt`` returned.

    Raises:
        ApiError: a failure that is not retryable, one that may have stored a create, one whose server asked for a
            longer wait than the policy's ``max_wait``, or the last one when the attempts are spent.
    """
    previous: float | None = None
    tried = 0
    while True:
        tried += 1
        try:
            return attempt()
        except ApiError as error:
            if not error.retryable or (error.maybe_stored and not idempotent) or tried >= policy.attempts:
                raise
            wait = policy.delay(error, tried, previous)
            previous = wait
            if on_retry is not None:
                on_retry(error, wait)
            told = f"Retry-After: {error.retry_after_header}" if error.retry_after is not None else "backoff"
            if error.status == 429:
                logger.warning(
                    "%s: rate limited (HTTP 429); waiting %.1f s (%s) before retry %d/%d",
                    api,
                    wait,
                    told,
                    tried,
                    policy.attempts - 1,
                )
            else:  # the error's message names the API already
                logger.warning(
                    "%s; waiting %.1f s (%s) before retry %d/%d", error, wait, told, tried, policy.attempts - 1
                )
            sleep(wait)


class RetryingHook:
    """Mixin of the HTTP hooks: the hook's :class:`RetryPolicy`, with its ``max_retries`` (attempts per request)
    and ``backoff`` as views on the policy, so setting either on a hook changes the policy it sends with."""

    retry_policy: RetryPolicy = DEFAULT_POLICY
    #: requests retried by this hook (each retry counted once)
    retries: int = 0

    @property
    def max_retries(self) -> int:
        """Attempts per request (the policy's ``attempts``)."""
        return self.retry_policy.attempts

    @max_retries.setter
    def max_retries(self, value: int) -> None:
        self.retry_policy = make_policy(self.retry_policy, max_retries=value)

    @property
    def backoff(self) -> float:
        """Base seconds of the backoff (the policy's ``backoff``)."""
        return self.retry_policy.backoff

    @backoff.setter
    def backoff(self, value: float) -> None:
        self.retry_policy = make_policy(self.retry_policy, backoff=value)

    def _retried(self, error: ApiError, wait: float) -> None:
        """Count one retry (``on_retry`` of :func:`call_with_retries`)."""
        self.retries += 1

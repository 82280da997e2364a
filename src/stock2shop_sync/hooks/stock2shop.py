"""Hook for the Stock2Shop REST API as a source uses it.

Documented (stock2shop-api-and-model.md, section 2): ``POST /v1/users/authenticate``, the token as a
``token`` query parameter, ``GET /v1/sources``, ``POST /v1/products/queue`` with ``system_products``,
``GET /v1/queue/summary``, HTTP 429 with ``x-S2S-RateLimit`` (requests per second). Not public: pushing
customers, and listing and acknowledging a source's orders. The paths we assume for them live in
:attr:`Stock2ShopHook.ENDPOINTS` and nowhere else, and the README's "Stock2Shop API contract" section states
the contract the sandbox implements.

Requests go through the one request path every HTTP hook shares (:mod:`~stock2shop_sync.hooks.retry`: its retry
policy, ``Retry-After`` in seconds or as a date, backoff with jitter). Every call this hook makes is safe to send
again, so each is retried after any transient failure, also one that may have reached the server: a login only
replaces the token (a lost one is renewed on the 401 that follows); a queue batch is upserted by source and item
code, so a batch sent twice leaves each item once, and the upload records a batch as accepted only from its 200
(:meth:`Stock2ShopHook.queue_lines`), which together make an upload exactly-once in effect; acknowledging an order
sets the same code again, and an order's error is set, not appended.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow.sdk import BaseHook

from stock2shop_sync.hooks.retry import ApiError, RetryingHook, call_with_retries, make_policy, send_once, status_error

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import polars as pl
    import requests

    from stock2shop_sync.hooks.ratelimit import RateLimiter
    from stock2shop_sync.hooks.retry import RetryPolicy
    from stock2shop_sync.state import StateStore

log = logging.getLogger(__name__)

#: The advertised per-second limit is kept over a window this much longer than a second (arrival times at the
#: server jitter, so requests that fit one second exactly as sent still draw 429s there).
THROTTLE_MARGIN = 1.1


class Stock2ShopError(ApiError):
    """A Stock2Shop request failed. ``retryable`` says whether trying again later can help."""


class Stock2ShopAuthError(Stock2ShopError):
    """The credentials were refused: retrying cannot fix this."""


@dataclass
class UploadResult:
    """What one upload sent: items, batches (requests that were accepted) and what Stock2Shop said it queued."""

    items: int = 0
    batches: int = 0
    queued: int = 0
    retries: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class _UploadProgress:
    """Logs an upload's progress: ``batch k of n accepted (rows so far)`` after every
    :attr:`Stock2ShopHook.PROGRESS_BATCHES` batches, when :attr:`Stock2ShopHook.PROGRESS_SECONDS` have passed since
    the last line, and after the last batch, with the time spent waiting for the rate limit so far. Called with the
    upload's lock held, so batches accepted by several threads are counted in order."""

    def __init__(self, hook: Stock2ShopHook, entity: str, batches: int, items: int) -> None:
        self.hook = hook
        self.entity = entity
        self.batches = batches
        self.items = items
        self.sent = 0
        self.throttled = hook.throttled
        self.logged = time.monotonic()

    def accepted(self, batch: int, size: int) -> None:
        """Count the ``batch``-th accepted batch, of ``size`` items, and log the progress when it is due."""
        self.sent += size
        now = time.monotonic()
        due = batch == self.batches or batch % self.hook.PROGRESS_BATCHES == 0
        if not due and now - self.logged < self.hook.PROGRESS_SECONDS:
            return
        self.logged = now
        waited = self.hook.throttled - self.throttled
        log.info(
            "Stock2Shop %s: batch %d of %d accepted (%d of %d items so far%s%s)",
            self.entity,
            batch,
            self.batches,
            self.sent,
            self.items,
            f"; {waited:.1f} s waited for the rate limit" if waited >= 0.1 else "",
            f"; {self.hook.retries} request(s) retried" if self.hook.retries else "",
        )


def _mask(value: str | None) -> None:
    """Register a secret (the password, a session token) with Airflow's masker, also URL-quoted."""
    from stock2shop_sync.redact import mask

    mask(value)


class Stock2ShopHook(RetryingHook, BaseHook):
    """Talk to Stock2Shop with one shared token, batching, throttling and 429 handling.

    The connection's host is the API's base URL (``https://app.stock2shop.com`` or the sandbox's
    ``http://127.0.0.1:8765``); login and password are the API user's.

    :param stock2shop_conn_id: Airflow connection id.
    :param batch_size: items per queue request (Stock2Shop's own agent sends at most 500).
    :param max_retries: attempts per request for 429, 5xx and network errors before giving up (default: the
        policy's).
    :param timeout: seconds per request.
    :param backoff: base seconds of the exponential backoff between retries, with jitter (default: the policy's).
    :param retry_policy: attempts, backoff, jitter and the longest ``Retry-After`` honoured (default:
        :data:`~stock2shop_sync.hooks.retry.DEFAULT_POLICY`, the same for every HTTP hook).
    """

    conn_name_attr = "stock2shop_conn_id"
    default_conn_name = "stock2shop_default"
    conn_type = "http"
    hook_name = "Stock2Shop"

    #: Every path this project calls, in one place. ``customers_queue`` and the ``orders_*`` paths are our
    #: assumptions (not public); the README states the contract.
    ENDPOINTS: ClassVar[dict[str, str]] = {
        "authenticate": "/v1/users/authenticate",
        "sources": "/v1/sources",
        "products_queue": "/v1/products/queue",
        "customers_queue": "/v1/customers/queue",
        "queue_summary": "/v1/queue/summary",
        "orders_pending": "/v1/sources/{source_id}/orders/pending",
        "order_acknowledge": "/v1/sources/{source_id}/orders/{order_id}/source_order_code",
        "order_error": "/v1/sources/{source_id}/orders/{order_id}/error",
    }
    ORDER_PAGE = 100
    QUEUE_KEYS: ClassVar[dict[str, tuple[str, str]]] = {
        "products": ("products_queue", "system_products"),
        "customers": ("customers_queue", "system_customers"),
    }
    MAX_BATCH = 500
    MAX_CONCURRENCY = 16
    #: An upload logs its progress after this many accepted batches, or when this many seconds have passed since
    #: its last progress line, and after its last batch.
    PROGRESS_BATCHES = 50
    PROGRESS_SECONDS = 30.0
    #: A wait for the advertised rate limit at least this long is logged as it happens; shorter ones are summed into
    #: the progress lines.
    THROTTLE_LOG_SECONDS = 1.0
    #: A request whose token keeps being refused right after fresh logins gives up after this many logins.
    MAX_RELOGINS = 3

    def __init__(
        self,
        stock2shop_conn_id: str = default_conn_name,
        *,
        batch_size: int = MAX_BATCH,
        max_retries: int | None = None,
        timeout: float = 60.0,
        backoff: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__()
        if not 1 <= batch_size <= self.MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {self.MAX_BATCH}, not {batch_size}")
        self.stock2shop_conn_id = stock2shop_conn_id
        self.batch_size = batch_size
        self.retry_policy = make_policy(retry_policy, max_retries=max_retries, backoff=backoff)
        self.timeout = timeout
        self._token: str | None = None
        self._store: StateStore | Literal[False] | None = None
        self._gzip: bool | None = None
        self._base: str | None = None
        self._token_lock = threading.Lock()
        self._session_lock = threading.Lock()
        self._session: requests.Session | None = None
        #: the advertised limit (requests per second) and the sliding window that keeps to it, once advertised
        self._limit = 0.0
        self._limiter: RateLimiter | None = None
        self._limit_lock = threading.Lock()  # threads reading the first answers must not each make a limiter
        self.logins = 0
        self.retries = 0
        #: seconds spent waiting for the advertised rate limit (throttling), by every thread
        self.throttled = 0.0

    # -- connection -------------------------------------------------------------------------------
    def _connection(self) -> tuple[str, str, str]:
        conn = self.get_connection(self.stock2shop_conn_id)
        host = (conn.host or "").rstrip("/")
        if not host:
            raise Stock2ShopAuthError(f"connection {self.stock2shop_conn_id!r} has no host (the API base URL)")
        if "://" not in host:
            scheme = conn.schema or "https"
            host = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
        if not conn.login or not conn.password:
            raise Stock2ShopAuthError(f"connection {self.stock2shop_conn_id!r} needs a login and a password")
        _mask(conn.password)
        self._base = host
        return host, conn.login, conn.password

    def _base_url(self) -> str:
        """The API's base URL, read from the connection once per hook (every login reads the connection again, for
        its credentials): looking the connection up for each request cost a tenth of an upload's client time."""
        return self._base if self._base is not None else self._connection()[0]

    @property
    def session(self) -> requests.Session:
        with self._session_lock:  # concurrent uploads share one session and its connection pool
            if self._session is None:
                import requests
                from requests.adapters import HTTPAdapter

                session = requests.Session()
                session.headers.update({"Accept": "application/json", "User-Agent": "stock2shop-airflow/0.1"})
                # With trust_env, requests reads the environment again for every request (proxies, CA bundle,
                # .netrc): about 0.7 ms each, a second and more of CPU for a million items. Read it once here:
                # the proxy for this host (HTTP(S)_PROXY, NO_PROXY) and REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.
                # (.netrc is not read: the API's token travels as a parameter, not as HTTP auth.)
                session.trust_env = False
                session.proxies.update(requests.utils.get_environ_proxies(self._connection()[0]))
                bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                if bundle:
                    session.verify = bundle
                adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.MAX_CONCURRENCY)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    @property
    def gzip(self) -> bool:
        """Whether request bodies are gzip-compressed: the connection's extra ``{"gzip": true}`` says the API
        accepts ``Content-Encoding: gzip`` (the sandbox does; Stock2Shop does not document it, so off by
        default)."""
        if self._gzip is None:
            self._gzip = bool(self.get_connection(self.stock2shop_conn_id).extra_dejson.get("gzip", False))
        return self._gzip

    def _encode(self, body: bytes) -> bytes:
        if not self.gzip:
            return body
        import zlib

        # gzip framing at level 1: most of the size win for a fraction of level 6's CPU
        compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
        return compressor.compress(body) + compressor.flush()

    def _body_headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        return headers

    # -- auth ---------------------------------------------------------------------------------------
    def authenticate(self, *, stale: str | None = None) -> str:
        """The session token: one login shared by every thread of this hook and every worker of the deployment.

        A new login invalidates older tokens, so logins are serialised: across threads by a lock, across processes
        and machines through the state store (:meth:`StateStore.relogin`), which keeps the current token
        encrypted with a key derived from the password. Without a state store, the token is this process's own.

        :param stale: the token a caller saw rejected; if another thread or worker already replaced it, reuse theirs.
        """
        with self._token_lock:
            if self._token is not None and self._token != stale:
                return self._token
            base, username, password = self._connection()
            store = self._token_store()
            if store is None:
                token = self._login(base, username, password)
            else:
                name = f"stock2shop {base} {username}"
                known = store.shared_token(name, password) if stale is None else None
                if known is None or known == self._token:
                    known = store.relogin(name, password, stale, lambda: self._login(base, username, password))
                token = known
            _mask(token)
            self._token = token
            return token

    def _token_store(self) -> StateStore | None:
        if self._store is None:
            from stock2shop_sync.state import StateStore, StateStoreError

            try:
                self._store = StateStore()
            except StateStoreError as exc:
                log.warning("Stock2Shop logins are not shared with other workers: %s", exc)
                self._store = False
        return self._store or None

    def _login(self, base: str, username: str, password: str) -> str:
        # One attempt: the request that needed the token retries (not here, inside the state store's lock).
        response = self._send(
            "POST",
            base + self.ENDPOINTS["authenticate"],
            what="authenticate",
            handled=(401, 403),
            params={"format": "json"},
            json={"system_user_auth": {"username": username, "password": password}},
        )
        if response.status_code in (401, 403):
            raise Stock2ShopAuthError(
                f"Stock2Shop refused the credentials of connection {self.stock2shop_conn_id!r} "
                f"(HTTP {response.status_code})",
                status=response.status_code,
            )
        token = (response.json().get("system_user") or {}).get("token")
        if not token:
            raise Stock2ShopError("Stock2Shop's login answer carried no token")
        _mask(token)
        self.logins += 1
        return token

    # -- requests -----------------------------------------------------------------------------------
    def _throttle(self) -> None:
        """Wait for room under the advertised rate limit (once advertised); a long wait is logged with its length."""
        limiter = self._limiter
        if limiter is None:
            return
        started = time.monotonic()
        limiter.acquire()
        waited = time.monotonic() - started
        with self._limit_lock:
            self.throttled += waited
        if waited >= self.THROTTLE_LOG_SECONDS:
            log.info(
                "Stock2Shop: waited %.1f s for the rate limit (%g requests a second, as the API advertises)",
                waited,
                self._limit,
            )

    def _advertised(self, per_second: float) -> None:
        """Keep to ``per_second`` requests a second from now on, as the server counts them: in any sliding window
        (stretched by :data:`THROTTLE_MARGIN`), so a batch that waited does not hold back the next one. At 400 a
        second, 2,000 requests take 4.4 s at least, where spacing every request 1.1/400 s apart took 5.5 s."""
        if per_second == self._limit:
            return
        from stock2shop_sync.hooks.ratelimit import RateLimiter

        with self._limit_lock:
            if per_second != self._limit:
                capacity = max(1, int(per_second))
                self._limiter = RateLimiter(capacity, window=THROTTLE_MARGIN * capacity / per_second)
                self._limit = per_second

    def _send(
        self, method: str, url: str, *, what: str = "request", handled: tuple[int, ...] = (), **kwargs: Any
    ) -> requests.Response:
        """One attempt within the advertised rate limit; reads the limit an answer advertises.

        Args:
            method: the HTTP method.
            url: the URL (never in an error: the token travels as a query parameter).
            what: the endpoint's name, for messages.
            handled: error statuses returned instead of raised.
            kwargs: passed to ``requests``.

        Raises:
            Stock2ShopError: no answer, or an error status not in ``handled`` (classified for the retry policy).
        """
        session = self.session  # made (once) before the wait, so the request leaves as soon as there is room
        self._throttle()
        return send_once(
            session,
            method,
            url,
            api=f"Stock2Shop {what}",
            timeout=self.timeout,
            handled=handled,
            error_class=Stock2ShopError,
            inspect=self._read_limit,
            **kwargs,
        )

    def _read_limit(self, response: requests.Response) -> None:
        """Keep to the ``x-S2S-RateLimit`` an answer advertises (429s carry it too)."""
        limit = response.headers.get("x-S2S-RateLimit")
        if limit:
            try:
                per_second = float(limit)
                if 0 < per_second < float("inf"):
                    self._advertised(per_second)
            except ValueError:
                log.warning("ignoring a non-numeric x-S2S-RateLimit header: %r", limit)

    @staticmethod
    def _raise_for_status(response: requests.Response, what: str) -> None:
        """Raise the scrubbed :class:`Stock2ShopError` for an error answer to ``what`` (nothing below 400)."""
        if response.status_code >= 400:
            raise status_error(response, f"Stock2Shop {what}", Stock2ShopError)

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        json: Any = None,
        body: bytes | None = None,
        params: dict[str, Any] | None = None,
        path: dict[str, Any] | None = None,
    ) -> Any:
        """Call an endpoint by name from :attr:`ENDPOINTS` with the shared token; return the JSON answer.

        Sent through the shared request path (:func:`~stock2shop_sync.hooks.retry.call_with_retries`): 429 and
        5xx answers and network errors are retried by the hook's policy (``Retry-After`` when given, in seconds or
        as a date), every call being safe to send again (the module docstring says why); a rejected token triggers
        one shared re-login (each time it expires, up to :attr:`MAX_RELOGINS` refusals in a row) without counting
        an attempt; other 4xx answers fail at once.

        Raises:
            Stock2ShopError: the call failed for good (``retryable`` says whether a later run can help).
        """
        from urllib.parse import quote

        values = {k: quote(str(v), safe="") for k, v in (path or {}).items()}
        url = self._base_url() + self.ENDPOINTS[endpoint].format(**values)
        payload: dict[str, Any] = {"json": json}
        if body is not None:
            payload = {"data": self._encode(body), "headers": self._body_headers()}
        token = self._token
        refused = 0  # tokens refused in a row (a token that expires mid-run is renewed every time)

        def attempt() -> requests.Response:
            nonlocal token, refused
            while True:
                if token is None:
                    token = self.authenticate()  # a failed login fails this attempt, and is retried with it
                response = self._send(
                    method,
                    url,
                    what=endpoint,
                    handled=(401,),
                    params={**(params or {}), "token": token, "format": "json"},
                    **payload,
                )
                if response.status_code != 401:
                    refused = 0
                    return response
                if refused >= self.MAX_RELOGINS:
                    self._raise_for_status(response, endpoint)
                # Expired, or replaced by a newer login: renew it once for every thread that saw this token
                # refused (``stale``), then send again.
                refused += 1
                token = self.authenticate(stale=token)

        response = call_with_retries(
            attempt, policy=self.retry_policy, api=f"Stock2Shop {endpoint}", logger=log, on_retry=self._retried
        )
        return response.json() if response.content else {}

    # -- API ------------------------------------------------------------------------------------------
    def get_sources(self) -> list[dict[str, Any]]:
        """The client's sources (``GET /v1/sources``)."""
        answer = self.request("GET", "sources")
        return answer.get("system_sources", answer if isinstance(answer, list) else [])

    def queue(self, entity: str, items: list[dict[str, Any]]) -> UploadResult:
        """Queue ``items`` of ``entity`` (products or customers) in batches of at most ``batch_size``."""
        import orjson

        return self.queue_lines(entity, [orjson.dumps(item).decode() for item in items], concurrency=1)

    def queue_lines(
        self,
        entity: str,
        lines: Sequence[str] | pl.Series,
        *,
        concurrency: int = 1,
        on_accepted: Callable[[int, int], None] | None = None,
    ) -> UploadResult:
        """Queue items already rendered as JSON text (a sequence of strings or a Polars string Series),
        ``batch_size`` per request, ``concurrency`` requests at a time (all sharing the token and the
        advertised rate limit).

        ``on_accepted(start, stop)`` is called for each batch Stock2Shop accepted (``lines[start:stop]``), also
        when a later batch fails, so the caller can record exactly what was accepted. The first batch that fails
        for good stops further batches from being sent and is raised once the batches in flight are done.
        """
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        endpoint, key = self.QUEUE_KEYS[entity]
        result = UploadResult(items=len(lines))
        self.retries = 0
        head, tail = f'{{"{key}":['.encode(), b"]}"
        lock = threading.Lock()
        starts = list(range(0, len(lines), self.batch_size))
        progress = _UploadProgress(self, entity, len(starts), len(lines))

        def send(start: int) -> None:
            batch = lines[start : start + self.batch_size]
            # A Polars Series is joined in native code, with no Python string per item, and handed over as the
            # UTF-8 bytes it holds (no Python str of the whole batch decoded and encoded again).
            if hasattr(batch, "str"):
                import polars as pl

                text = batch.str.join(",").cast(pl.Binary).item()
            else:
                text = ",".join(batch).encode()
            answer = self.request("POST", endpoint, body=b"".join((head, text, tail)))
            with lock:
                result.batches += 1
                result.batch_sizes.append(len(batch))
                result.queued += int(answer.get("queued", len(batch))) if isinstance(answer, dict) else len(batch)
                progress.accepted(result.batches, len(batch))
            if on_accepted is not None:
                on_accepted(start, start + len(batch))

        if concurrency <= 1 or len(starts) <= 1:
            for start in starts:
                send(start)
        else:
            with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="s2s-upload") as pool:
                pending = set()
                for start in starts:
                    if len(pending) >= concurrency:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            future.result()  # a failed batch: stop sending (the rest finish below)
                    pending.add(pool.submit(send, start))
                for future in pending:
                    future.result()
        result.retries = self.retries
        return result

    # -- orders (assumed contract: README "Stock2Shop API contract") -------------------------------------
    def pending_orders(self, s2s_source_id: int) -> list[dict[str, Any]]:
        """Every order waiting to be raised in the source, oldest first, following ``offset`` pages."""
        orders: list[dict[str, Any]] = []
        while True:
            answer = self.request(
                "GET",
                "orders_pending",
                path={"source_id": s2s_source_id},
                params={"limit": self.ORDER_PAGE, "offset": len(orders)},
            )
            page = answer.get("system_orders", []) if isinstance(answer, dict) else []
            orders += page
            if len(page) < self.ORDER_PAGE:
                return orders

    def acknowledge_order(
        self, order_id: str, s2s_source_id: int, source_order_code: str, source_customer_code: str | None
    ) -> None:
        """Set the ERP document number on the order for this source (idempotent for the same number)."""
        self.request(
            "POST",
            "order_acknowledge",
            path={"source_id": s2s_source_id, "order_id": order_id},
            json={"source_order_code": source_order_code, "source_customer_code": source_customer_code},
        )

    def report_order_error(self, order_id: str, s2s_source_id: int, error: str, *, final: bool) -> None:
        """Tell Stock2Shop why the order could not be raised (it shows in the console and notifies)."""
        self.request(
            "POST",
            "order_error",
            path={"source_id": s2s_source_id, "order_id": order_id},
            json={"error": error[:2000], "final": final},
        )
